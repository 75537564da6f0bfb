"""The HTML page of a date, built from the database's rows and written in place."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from db.connection import Database
from db.directory import load_inspection
from db.usage import load_usage
from tests.configs import base_sections
from tests.fixtures.slapd import DIRECTORY_LDIF
from utils.common.config import Config, parse_config
from utils.common.errors import LurgeError, UsageError
from utils.inspector.aggregate import DirectoryRecord
from utils.report.html import html_path, render_html
from utils.report.html_model import GroupHistory, HistoryPoint, ProjectRow
from utils.report.publish_html import (ARCHIVED_ELSEWHERE, build_page, publish_html,
                                       regenerate_html, rewrite_after_inspection)
from utils.report.rows import UsageRow, UserUsageRow

D = dt.date(2024, 6, 30)
GiB = 1024 ** 3
FILETYPES = ("BAM", "CRAM", "VCF", "PEDBED")


def day(offset: int) -> dt.date:
    return D + dt.timedelta(days=offset)


def make_config(tmp_path: Path, db_url: str) -> Config:
    archive = tmp_path / "archive"
    (archive / "ops").mkdir(parents=True)
    (archive / "ops" / ".imirrored").touch()
    volumes = [{"number": 118, "mount": "/lustre/scratch118", "archive_roots": [str(archive)]},
               {"number": 119, "mount": "/lustre/scratch119"}]
    return parse_config(base_sections(tmp_path, db_url, f"ldif:{DIRECTORY_LDIF}", volumes),
                        str(tmp_path / "lurge.toml"))


def row(volume: str, name: str, used: int, *, quota: int | None = None, status: str | None = None,
        archived: bool = False, humgen: bool = True) -> UsageRow:
    return UsageRow(volume, "Smith" if humgen else None, name, used, quota, 1.5,
                    "/stored/elsewhere" if archived else None, humgen, None, inodes=10,
                    status=status)


TODAY_ROWS = [
    row("scratch118", "hgi", 90 * GiB, quota=100 * GiB, status="Not OK"),
    row("scratch118", "ops", 1000, archived=True, humgen=False),  # its marker is in place
    row("scratch118", "gone", 2000, archived=True, humgen=False),  # its marker is not
    row("scratch119", "hgi", 5 * GiB, quota=100 * GiB, status="OK"),
]
USERS = [UserUsageRow("scratch118", f"user{index:02d}", "hgi", True, index * GiB, index, 1.0)
         for index in range(1, 26)]


def load_dates(db: Database) -> None:
    """Today's rows, users and three earlier days of hgi on scratch118 (one too old to chart)."""
    for offset in (-100, -89, -1):
        load_usage(db, day(offset), [row("scratch118", "hgi", (90 + offset) * GiB,
                                         quota=100 * GiB, status="OK")])
    load_usage(db, D, TODAY_ROWS, USERS)


def inspect_118(db: Database, date: dt.date = D) -> None:
    load_inspection(db, {"scratch118": [
        DirectoryRecord("scratch118", (b"projects", b"big"), 3 * GiB, 7, 2.0,
                        (GiB, 0, GiB // 2, 0), 1001, "hgi", True, "Smith"),
        DirectoryRecord("scratch118", (b"projects", b"big", b"sub"), GiB, 3, 2.0,
                        (GiB, 0, 0, 0), 1001, "hgi", True, "Smith"),
        DirectoryRecord("scratch118", (b"projects", b"caf\xe9"), GiB, 1, None,
                        (0, 0, 0, 0), None, None, False, None),
    ]}, {"scratch118": date}, list(FILETYPES))


def test_the_page_is_built_from_the_dates_rows(db: Database, db_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, db_url)
    load_dates(db)
    inspect_118(db, day(-1))
    page = build_page(db, config, D)
    assert page is not None and page.record_date == D
    first, second = page.volumes
    assert (first.volume, second.volume) == ("scratch118", "scratch119")

    archive = str(tmp_path / "archive" / "ops")
    assert sorted(first.groups, key=UsageRow.sort_key) == [
        UsageRow("scratch118", None, "gone", 2000, None, 1.5, ARCHIVED_ELSEWHERE, False, None,
                 inodes=10),
        UsageRow("scratch118", None, "ops", 1000, None, 1.5, archive, False, None, inodes=10),
        TODAY_ROWS[0],
    ]
    assert second.groups == (TODAY_ROWS[3],)

    hgi = HistoryPoint
    assert first.histories[0] == GroupHistory("hgi", True, (
        hgi(day(-89), 1 * GiB, None, 100 * GiB), hgi(day(-1), 89 * GiB, None, 100 * GiB),
        hgi(D, 90 * GiB, None, 100 * GiB)))
    assert [h.group_name for h in first.histories] == ["hgi", "gone", "ops"]
    assert [h.points for h in first.histories[1:]] == [
        (hgi(D, 2000, None, None),), (hgi(D, 1000, None, None),)]

    assert first.users == tuple(sorted(USERS, key=lambda u: -u.used)[:20])
    assert second.users == ()

    assert first.inspected == day(-1) and first.filetypes == FILETYPES
    assert first.projects == (
        ProjectRow("projects/big", None, 3 * GiB, (GiB, 0, GiB // 2, 0), 7, 2.0, "Smith", "hgi"),
        ProjectRow("projects/caf\udce9", None, GiB, (0, 0, 0, 0), 1, None, None, None),
    )
    assert second.projects is None and second.inspected is None


def test_a_date_without_rows_has_no_page(db: Database, db_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, db_url)
    load_dates(db)
    assert build_page(db, config, day(1)) is None
    assert publish_html(db, config, day(1)) is None
    assert not os.path.exists(html_path(config.paths.report_dir, day(1)))
    with pytest.raises(UsageError) as refused:
        regenerate_html(db, config, day(1))
    assert str(refused.value) == (
        f"the database {config.database.redacted_url} holds no report rows for 2024-07-01: there "
        "is nothing to build its page from (report the date first: report.py DATE FILE...)")


def test_publishing_writes_the_page_of_the_rows(db: Database, db_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, db_url)
    load_dates(db)
    path = publish_html(db, config, D)
    assert path == str(tmp_path / "reports" / "report-output-files" / "report-20240630.html")
    page = build_page(db, config, D)
    assert page is not None
    assert Path(path).read_bytes() == render_html(page)
    assert regenerate_html(db, config, D) == path
    assert Path(path).read_bytes() == render_html(page)
    assert os.listdir(os.path.dirname(path)) == ["report-20240630.html"]


def test_an_inspection_rewrites_only_pages_of_reported_dates(db: Database, db_url: str,
                                                             tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(tmp_path, db_url)
    load_dates(db)
    before = publish_html(db, config, D)
    assert before is not None and b"Largest projects" not in Path(before).read_bytes()
    inspect_118(db)
    caplog.set_level("INFO")
    assert rewrite_after_inspection(db, config, [D, day(1), D]) == [before]
    page = Path(before).read_bytes()
    assert b"Largest projects" in page and b"projects/big" in page
    assert "html: rewrote the page of 2024-06-30 with the inspection's projects" in caplog.text
    assert ("html: no report rows for 2024-07-01 in the database; its page is left to the report"
            in caplog.text)
    assert not os.path.exists(html_path(config.paths.report_dir, day(1)))


def test_a_failed_rewrite_leaves_the_previous_page(db: Database, db_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, db_url)
    load_dates(db)
    folder = tmp_path / "reports" / "report-output-files"
    path = folder / "report-20240630.html"
    (path / "in-the-way").mkdir(parents=True)  # a folder at the page's name: the rename fails
    with pytest.raises(LurgeError) as failed:
        rewrite_after_inspection(db, config, [D])
    assert str(failed.value) == (
        f"the inspection was loaded, but could not write {path}: Is a directory; nothing was "
        "left at that name (python report.py --html-only 2024-06-30 writes it)")
    assert os.listdir(path) == ["in-the-way"]
    assert os.listdir(folder) == ["report-20240630.html"]  # no temporary file
