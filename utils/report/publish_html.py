"""The HTML report of a date, built from the database and written in place (docs/html-report.md).

The page is built from what the database holds for the date — its group
rows, the last 90 days of history, its per-user rows and each volume's
current inspector rows — so the report stage, the inspector's rewrite and
``report.py --html-only`` all draw the same page for the same rows.  It is
written atomically: a failed write (a full disk, say) leaves the previous
page, or none, and raises a :class:`LurgeError` naming the file.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import replace
from typing import Iterable

from db.connection import Database
from db.directory import inspection_dates
from db.history import DirectoryUsage, directory_rows, usage_over_time, usage_rows, user_rows
from utils.common.config import Config
from utils.common.errors import LurgeError, UsageError
from utils.common.text import plural
from utils.report.html import html_path, write_html
from utils.report.html_model import (HISTORY_DAYS, HistoryPoint, HtmlReport, ProjectRow,
                                     VolumeReport, gib_to_bytes, volume_report)
from utils.report.rows import UsageRow, UserUsageRow, archived_directory

log = logging.getLogger(__name__)

ARCHIVED_ELSEWHERE = "yes"  # shown for an archived group whose archive folder is no longer found


def build_page(database: Database, config: Config, date: dt.date) -> HtmlReport | None:
    """The page of ``date`` from the database; None when it holds no group rows for the date."""
    rows = usage_rows(database, date)
    if not rows:
        return None
    by_volume: dict[str, list[UsageRow]] = defaultdict(list)
    for row in rows:
        by_volume[row.volume].append(_with_archive(config, row))
    history = usage_over_time(database, date, HISTORY_DAYS)
    users: dict[str, list[UserUsageRow]] = defaultdict(list)
    for user in user_rows(database, date):
        users[user.volume].append(user)
    inspected = inspection_dates(database)
    filetypes = tuple(config.inspector.filetypes)
    volumes = []
    for volume in sorted(by_volume):
        points: dict[tuple[str, bool], list[HistoryPoint]] = defaultdict(list)
        for point in history.get(volume, ()):
            points[(point.group_name, point.is_humgen)].append(
                HistoryPoint(point.record_date, point.used or 0, point.quota_used, point.quota))
        projects = (_projects(directory_rows(database, volume), filetypes)
                    if volume in inspected else None)
        volumes.append(volume_report(volume, by_volume[volume], date, points, users[volume],
                                     projects, filetypes, inspected.get(volume)))
    return HtmlReport(date, tuple(volumes))


def publish_html(database: Database, config: Config, date: dt.date, *,
                 remedy: str = "the next run writes it") -> str | None:
    """Write ``date``'s page from the database; return its path (None when the date has no rows).

    A failed write raises a :class:`LurgeError` that ends with ``remedy``;
    nothing is left at the page's name but the page that was there before, if any.
    """
    page = build_page(database, config, date)
    if page is None:
        return None
    path = html_path(config.paths.report_dir, date)
    try:
        write_html(path, page)
    except OSError as exc:  # a full disk, a file-size limit, permissions...
        raise LurgeError(f"could not write {path}: {exc.strerror or exc}; nothing was left at "
                         f"that name ({remedy})") from exc
    log.info("html: wrote %s (%s)", path, _describe(page.volumes))
    return path


def regenerate_html(database: Database, config: Config, date: dt.date) -> str:
    """``report.py --html-only``: the page of ``date`` again, from the database alone."""
    path = publish_html(database, config, date)
    if path is None:
        raise UsageError(f"the database {config.database.redacted_url} holds no report rows for "
                         f"{date}: there is nothing to build its page from (report the date "
                         "first: report.py DATE FILE...)")
    return path


def rewrite_after_inspection(database: Database, config: Config, dates: Iterable[dt.date]) -> list[str]:
    """After an inspection of ``dates``: rewrite each date's page whose report rows are loaded.

    A date without report rows is left alone (its report stage writes the page).
    """
    written = []
    for date in sorted(set(dates)):
        try:
            path = publish_html(database, config, date,
                                remedy=f"python report.py --html-only {date} writes it")
        except LurgeError as exc:
            raise LurgeError(f"the inspection was loaded, but {exc}") from exc
        if path is None:
            log.info("html: no report rows for %s in the database; its page is left to the "
                     "report", date)
            continue
        log.info("html: rewrote the page of %s with the inspection's projects", date)
        written.append(path)
    return written


def _with_archive(config: Config, row: UsageRow) -> UsageRow:
    """An archived row with its archive folder, looked up again in the volume's archive roots."""
    if not row.archived:
        return row
    roots = next((v.archive_roots for v in config.volumes if v.name == row.volume), ())
    return replace(row, archived_dirs=archived_directory(roots, row.group_name) or ARCHIVED_ELSEWHERE)


def _projects(rows: Iterable[DirectoryUsage], filetypes: tuple[str, ...]) -> list[ProjectRow]:
    """The inspector's rows as page rows (sizes in bytes, file types in ``filetypes`` order)."""
    return [
        ProjectRow(project=row.project_name.decode("utf-8", "surrogateescape"),
                   directory=(None if row.directory_path is None
                              else row.directory_path.decode("utf-8", "surrogateescape")),
                   size=gib_to_bytes(row.size),
                   filetype_sizes=tuple(gib_to_bytes(row.filetype_sizes.get(name))
                                        for name in filetypes),
                   num_files=row.num_files or 0, last_modified=row.last_modified, pi=row.pi,
                   group_name=row.group_name)
        for row in rows
    ]


def _describe(volumes: Iterable[VolumeReport]) -> str:
    volumes = list(volumes)
    groups = sum(len(volume.groups) for volume in volumes)
    charts = sum(len(volume.histories) for volume in volumes)
    return (f"{plural(len(volumes), 'volume')}, {plural(groups, 'group')}, "
            f"{plural(charts, 'chart')}")
