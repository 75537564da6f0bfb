"""manager.py: choosing the set, latest links, the lock, reruns, --force, --dry-run."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from tests.fixtures.database import connect
from tests.configs import base_sections, write_config
from tests.fixtures.slapd import DIRECTORY_LDIF
from tests.scripts import run_script
from utils.common.config import load_config
from utils.common.errors import LurgeError
from utils.common.locking import run_lock
from utils.manager.stages import choose_set, point_latest_links, stages_to_run
from utils.manager.status import read_status
from utils.snapshots.discovery import snapshot_filename
from utils.demo.synthetic import SyntheticOptions, synthetic_lines, write_snapshot

VOLUMES = (118, 119)
TODAY = dt.date.today()


def make_config(tmp_path: Path, db_url: str | None = None) -> Path:
    volumes = [{"number": n, "mount": f"/lustre/scratch{n}",
                "inspect_roots": [f"/lustre/scratch{n}/humgen/projects"]} for n in VOLUMES]
    sections = base_sections(tmp_path, db_url or f"sqlite:///{tmp_path}/lurge.db",
                             f"ldif:{DIRECTORY_LDIF}", volumes)
    return write_config(tmp_path / "lurge.toml", sections)


def add_snapshot(tmp_path: Path, date: dt.date, volume: int, lines: int = 3000) -> Path:
    path = tmp_path / "mpistat" / snapshot_filename(date, volume)
    snapshot_time = time.time() - (TODAY - date).days * 86400
    options = SyntheticOptions(seed=volume, lines=lines, snapshot_time=int(snapshot_time))
    write_snapshot(str(path), synthetic_lines(f"/lustre/scratch{volume}", options),
                   mtime=snapshot_time)
    return path


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def tsv(tmp_path: Path, date: dt.date) -> Path:
    return tmp_path / "reports" / "report-output-files" / f"report-{date:%Y%m%d}.tsv"


# ------------------------------------------------------------ choosing the set

def test_newest_complete_set_is_chosen(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(str(make_config(tmp_path)))
    add_snapshot(tmp_path, TODAY, 118)  # today is incomplete
    for volume in VOLUMES:
        add_snapshot(tmp_path, days_ago(1), volume)
        add_snapshot(tmp_path, days_ago(2), volume)
    chosen = choose_set(config, TODAY)
    assert chosen is not None and chosen.date == days_ago(1)
    assert chosen.paths == {v: str(tmp_path / "mpistat" / snapshot_filename(days_ago(1), v))
                            for v in VOLUMES}
    assert (f"snapshot set {TODAY:%Y%m%d} is incomplete, so it is not used yet: volume 119: no "
            f"file matching {snapshot_filename(TODAY, 119)} in {tmp_path / 'mpistat'}") in caplog.text


def test_a_newer_report_does_not_hide_the_newest_complete_set(tmp_path: Path) -> None:
    """The set is the newest complete one; a report is done per date, not "newest first"."""
    config = load_config(str(make_config(tmp_path)))
    for volume in VOLUMES:
        add_snapshot(tmp_path, days_ago(2), volume)
    tsv(tmp_path, days_ago(1)).parent.mkdir(parents=True)
    tsv(tmp_path, days_ago(1)).write_text("done\n")  # e.g. a report.py --partial of that date
    assert choose_set(config, TODAY).date == days_ago(2)
    status = read_status(config, days_ago(2))
    assert not status.report_done and not status.tsv
    assert stages_to_run(config, "both", status, False) == ["report", "inspector"]
    assert stages_to_run(config, "inspector", status, False) == ["inspector"]


def test_explicit_date_and_missing_sets(tmp_path: Path) -> None:
    config = load_config(str(make_config(tmp_path)))
    for volume in VOLUMES:
        add_snapshot(tmp_path, days_ago(5), volume)  # older than max_days_ago (3)
    with pytest.raises(LurgeError, match="no complete snapshot set .* within the last 3 days"):
        choose_set(config, TODAY)
    assert choose_set(config, TODAY, date=days_ago(5)).date == days_ago(5)
    with pytest.raises(LurgeError, match=f"no complete snapshot set for {days_ago(4):%Y%m%d}"):
        choose_set(config, TODAY, date=days_ago(4))


def test_latest_links_are_replaced(tmp_path: Path) -> None:
    config = load_config(str(make_config(tmp_path)))
    for volume in VOLUMES:
        add_snapshot(tmp_path, days_ago(1), volume)
        add_snapshot(tmp_path, TODAY, volume)
    older = choose_set(config, TODAY, date=days_ago(1))
    newer = choose_set(config, TODAY)
    point_latest_links(str(tmp_path / "reports"), older)
    links = point_latest_links(str(tmp_path / "reports"), newer)
    for volume, link in links.items():
        assert os.readlink(link) == str(tmp_path / "mpistat" / snapshot_filename(TODAY, volume))
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "latest-118.dat.gz", "latest-119.dat.gz"]


# ---------------------------------------------------------------- end to end

@pytest.fixture
def nightly(tmp_path: Path) -> Path:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    return config


def count(db_path: Path, table: str) -> int:
    with connect(f"sqlite:///{db_path}") as db:
        return db.query(f"SELECT COUNT(*) FROM {table}")[0][0]


def test_both_then_rerun_then_force(nightly: Path, tmp_path: Path) -> None:
    run_script("manager.py", "both", "--config", str(nightly), check=0)
    report = tsv(tmp_path, TODAY)
    first_tsv = report.read_bytes()
    database = tmp_path / "lurge.db"
    usage, directories = count(database, "lustre_usage"), count(database, "directory")
    assert usage == len(first_tsv.splitlines()) - 1 and directories > 0
    assert os.readlink(tmp_path / "reports" / "latest-118.dat.gz").endswith(
        snapshot_filename(TODAY, 118))
    again = run_script("manager.py", "both", "--config", str(nightly), check=0)
    assert "nothing newer to do" in again.stderr
    assert (count(database, "lustre_usage"), count(database, "directory")) == (usage, directories)
    forced = run_script("manager.py", "both", "--force", "--config", str(nightly), check=0)
    assert "database: replaced" in forced.stderr
    assert report.read_bytes() == first_tsv
    assert (count(database, "lustre_usage"), count(database, "directory")) == (usage, directories)


def test_the_page_is_rewritten_by_the_inspector_and_written_once_by_both(nightly: Path,
                                                                         tmp_path: Path) -> None:
    page = tsv(tmp_path, TODAY).with_suffix(".html")
    report = run_script("manager.py", "report", "--config", str(nightly), check=0)
    assert f"html: wrote {page} (2 volumes, " in report.stderr
    assert b"Largest projects" not in page.read_bytes()  # nothing inspected yet
    inspector = run_script("manager.py", "inspector", "--config", str(nightly), check=0)
    assert f"html: rewrote the page of {TODAY} with the inspection's projects" in inspector.stderr
    assert page.read_bytes().count(b"<h3>Largest projects</h3>") == 2

    # one read for both: the inspection is loaded before the page, which is built once
    page.unlink()
    both = run_script("manager.py", "both", "--force", "--config", str(nightly), check=0)
    assert both.stderr.index("database: replaced ") \
        < both.stderr.index(" directory rows: replaced the rows of scratch118, scratch119") \
        < both.stderr.index(f"html: wrote {page}") \
        < both.stderr.index(f"tsv: wrote {tsv(tmp_path, TODAY)}")
    assert both.stderr.count("html: ") == 1 and "html: rewrote" not in both.stderr
    assert page.read_bytes().count(b"<h3>Largest projects</h3>") == 2


def test_inspector_skips_volumes_already_loaded_from_the_date(nightly: Path, tmp_path: Path) -> None:
    run_script("manager.py", "inspector", "--config", str(nightly), check=0)
    rows = count(tmp_path / "lurge.db", "directory")
    again = run_script("manager.py", "inspector", "--config", str(nightly), check=0)
    assert "volume scratch118 already loaded from" in again.stderr
    assert count(tmp_path / "lurge.db", "directory") == rows


def test_dry_run_changes_nothing_and_hides_the_password(tmp_path: Path) -> None:
    sections = base_sections(tmp_path, "mysql://lurge:s3cr3t-pw@db.invalid:3306/lurge",
                             f"ldif:{DIRECTORY_LDIF}",
                             [{"number": n, "mount": f"/lustre/scratch{n}"} for n in VOLUMES])
    config = write_config(tmp_path / "lurge.toml", sections)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_script("manager.py", "both", "--dry-run", "--config", str(config), check=0)
    assert f"snapshot set {TODAY:%Y%m%d}" in result.stdout
    assert "mysql://lurge:***@db.invalid:3306/lurge" in result.stdout
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_second_manager_is_refused_at_once(nightly: Path, tmp_path: Path) -> None:
    with run_lock(str(tmp_path / "reports")):
        started = time.monotonic()
        result = run_script("manager.py", "both", "--config", str(nightly), check=1)
        assert time.monotonic() - started < 15
    assert "another lurge run" in result.stderr and str(os.getpid()) in result.stderr
    assert not tsv(tmp_path, TODAY).exists()


def test_staging_left_by_a_crash_is_removed(nightly: Path, tmp_path: Path) -> None:
    staging = tmp_path / "reports" / ".lurge-staging"
    staging.mkdir(parents=True)
    (staging / f"report-{TODAY:%Y%m%d}-118-999.sqlite").write_bytes(b"half written")
    result = run_script("manager.py", "report", "--config", str(nightly), check=0)
    assert "removed 1 staging files left by an earlier run" in result.stderr
    assert list(staging.iterdir()) == []
    assert tsv(tmp_path, TODAY).exists()


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config.write_text(config.read_text().replace("workers = 2", "workers = \"two\""))
    result = run_script("manager.py", "both", "--config", str(config), check=2)
    assert f"{config}: [paths] workers must be an integer, got str 'two'" in result.stderr
    missing = run_script("manager.py", "both", "--config", str(tmp_path / "nope.toml"), check=2)
    assert "nope.toml does not exist" in missing.stderr
