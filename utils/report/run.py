"""The nightly usage report, end to end (what it computes: docs/outputs.md).

One worker process per volume (:mod:`utils.report.worker`) reads its snapshot
once, sums it per (user, group), builds that volume's group and per-user rows
and stages them in its own SQLite file.  The parent then publishes: first the
database (group and user rows in one transaction, skipped when the date is
loaded), then the HTML page built from the database's rows (atomically,
always rewritten; in ``manager.py both`` the inspection read alongside is
loaded just before it), then the per-user TSV and the group TSV (each
atomically, skipped when the group TSV exists).  The group TSV is the
manager's "done" marker, so it is written last, and a failed page write stops
the run before it.  Staging files are removed whatever happens, including a
stop by SIGTERM or Ctrl-C.  A failed snapshot aborts the run before anything
is published.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, TypeVar

from db.connection import Database, connect
from db.migrate import ensure_schema
from db.history import group_history
from db.usage import SKIPPED, load_usage, usage_loaded
from utils.common.atomic import remove_stale_temporaries
from utils.common.config import Config
from utils.common.errors import LurgeError, UsageError
from utils.common.text import plural
from utils.common.workers import map_in_workers
from utils.directory.ldap import DirectorySnapshot, load_directory
from utils.snapshots.discovery import open_snapshot
from utils.report.publish_html import publish_html
from utils.report.rows import UsageRow, UserUsageRow
from utils.report.tsv import (tsv_dir, tsv_path, tsv_written, user_tsv_path, write_report,
                              write_user_report)
from utils.report.staging import (prepare_staging, read_rows, read_user_rows, remove_staging,
                                  staging_path)
from utils.report.worker import StagedVolume, VolumeTask, stage_volume
from utils.report.warnings import summarise, with_warnings

log = logging.getLogger(__name__)
R = TypeVar("R", UsageRow, UserUsageRow)


@dataclass(frozen=True)
class StagedRows:
    """Every volume's staged rows, in volume order."""

    rows: list[UsageRow]
    user_rows: list[UserUsageRow]


# Runs the workers for the tasks (with at most the given number of processes).
Stager = Callable[[Sequence["VolumeTask"], int], list[StagedVolume]]


@dataclass(frozen=True)
class ReportOutcome:
    """What each sink did."""

    date: dt.date
    rows: int
    database: str  # "loaded", "replaced", "skipped"
    tsv: str  # "written", "rewritten", "skipped"
    tsv_path: str
    summary: str = ""  # the night's warnings in one line (empty when nothing was reported)


def stage_in_workers(tasks: Sequence[VolumeTask], workers: int) -> list[StagedVolume]:
    """The report's own read: :func:`stage_volume` for each task, one process per volume."""
    return map_in_workers(stage_volume, tasks, workers)


def run_report(config: Config, date: dt.date, snapshot_paths: Mapping[int, str], *,
               force: bool = False, stage: Stager = stage_in_workers,
               before_page: Callable[[], object] | None = None) -> ReportOutcome:
    """Report ``date`` from the given snapshot files (volume number -> path).

    ``stage`` runs the volume workers; the manager's ``both`` passes one whose
    workers also inspect the volumes in the same read, and ``before_page``,
    which loads those inspections after the report's database rows, so that
    the page written next shows them.
    """
    report_dir = config.paths.report_dir
    tsv = tsv_path(report_dir, date)
    for number, path in snapshot_paths.items():
        if number not in {volume.number for volume in config.volumes}:
            raise UsageError(f"{path}: volume {number} is not configured in {config.source}")
    with connect(config.database.url, timeout=config.database.timeout) as db:
        ensure_schema(db)
        loaded = usage_loaded(db, date)
        if loaded and tsv_written(tsv) and not force:
            log.info("report for %s: database rows and %s already exist; nothing to do", date, tsv)
            return ReportOutcome(date, 0, "skipped", "skipped", tsv)
        directory = load_directory(config.ldap)
        removed = prepare_staging(report_dir)
        if removed:
            log.warning("removed %d staging files left by an earlier run", len(removed))
        for name in remove_stale_temporaries(tsv_dir(report_dir)):
            log.warning("removed %s, a temporary report file left by an earlier run", name)
        try:
            staged = _stage_all(config, date, snapshot_paths, directory, stage)
            rows = _with_warnings(db, config, date, staged.rows)
            database = _publish_database(db, date, rows, staged.user_rows, loaded, force)
            if before_page is not None:
                before_page()
            _publish_html(db, config, date)
            tsv_action = _publish_tsv(tsv, user_tsv_path(report_dir, date), rows,
                                      staged.user_rows, force)
        finally:
            remove_staging(report_dir)
    return ReportOutcome(date, len(rows), database, tsv_action, tsv, summarise(rows))


def _stage_all(config: Config, date: dt.date, snapshot_paths: Mapping[int, str],
               directory: DirectorySnapshot, stage: Stager) -> StagedRows:
    """Run the per-volume workers; return every staged row, in volume order."""
    tasks = [
        VolumeTask(config.volume(number),
                   open_snapshot(path, number, date,
                                 max_malformed_fraction=config.paths.max_malformed_fraction),
                   directory, config.quota,
                   staging_path(config.paths.report_dir, "report", f"{date:%Y%m%d}", number))
        for number, path in sorted(snapshot_paths.items())
    ]
    workers = min(config.paths.workers, len(tasks))
    log.info("report for %s: %s on %s", date, plural(len(tasks), "volume"),
             plural(workers, "worker"))
    rows: list[UsageRow] = []
    user_rows: list[UserUsageRow] = []
    for result in stage(tasks, workers):
        log.info("volume %d: %d lines, %d malformed, %d group rows and %d user rows staged",
                 result.volume, result.lines, result.malformed, result.rows, result.user_rows)
        rows.extend(read_rows(result.staging_file))
        user_rows.extend(read_user_rows(result.staging_file))
    return StagedRows(rows, user_rows)


def _with_warnings(db: Database, config: Config, date: dt.date, rows: list[UsageRow]) -> list[UsageRow]:
    """Each row with its days until full and status, from the database's earlier rows."""
    days = config.warnings.history_days
    history = {volume: group_history(db, volume, date, days)
               for volume in sorted({row.volume for row in rows})}
    return [with_warnings(row, history[row.volume].get((row.group_name, row.is_humgen), ()),
                          date, config.warnings)
            for row in rows]


def _publish_database(db, date: dt.date, rows: list[UsageRow], user_rows: list[UserUsageRow],
                      loaded: bool, force: bool) -> str:
    if loaded and not force:
        log.info("database: rows for %s already loaded; skipped", date)
        return "skipped"
    result = load_usage(db, date, rows, user_rows, replace=force)
    if result.action == SKIPPED:  # a run racing this one loaded the date first
        log.info("database: rows for %s already loaded; skipped", date)
    else:
        log.info("database: %s %d rows for %s (and %d user rows)", result.action,
                 result.group_rows, date, result.user_rows)
    return result.action


def _publish_html(db: Database, config: Config, date: dt.date) -> None:
    """The date's page, from the rows just published (a failed write fails the run: no TSV)."""
    if publish_html(db, config, date) is None:
        log.info("html: the database holds no rows for %s; no page written", date)


def _publish_tsv(path: str, user_path: str, rows: list[UsageRow], user_rows: list[UserUsageRow],
                 force: bool) -> str:
    """The per-user TSV, then the group TSV (the "done" marker); both skipped when the
    group TSV exists (unless ``force``)."""
    exists = tsv_written(path)
    if exists and not force:
        log.info("tsv: %s exists; skipped", path)
        return "skipped"
    _write_tsv(user_path, user_rows, write_user_report)
    _write_tsv(path, rows, write_report)
    return "rewritten" if exists else "written"


def _write_tsv(path: str, rows: Sequence[R], write: Callable[[str, Sequence[R]], None]) -> None:
    try:
        write(path, rows)
    except OSError as exc:  # a full disk, a file-size limit, permissions...
        raise LurgeError(f"could not write {path}: {exc.strerror or exc}; nothing was left at "
                         "that name (the next run writes it)") from exc
    log.info("tsv: wrote %s (%d rows)", path, len(rows))
