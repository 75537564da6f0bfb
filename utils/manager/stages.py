"""The nightly manager: pick the snapshot set, see which stages are done, run the others.

The set is the newest date within ``max_days_ago`` with a snapshot for every
configured volume; a newer date with only some of them is named in a
warning.  A stage is done for a date when its outputs are in place: the
report when its TSV exists and the database holds its rows, the inspector
when every volume with inspection roots was loaded from that date.  So a
run that stopped half-way (a ``both`` stopped after the report) is finished
by the next one.  See docs/recovery.md.  When both stages are pending, each
snapshot is read once for both (:mod:`utils.manager.fused`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import stat
from dataclasses import dataclass
from typing import Mapping, Sequence

from utils.common.config import Config
from utils.common.errors import LurgeError
from utils.common.text import plural
from utils.inspector.run import pending_volumes, run_inspections
from utils.manager.fused import FusedRead
from utils.manager.status import StageStatus
from utils.report.html import html_path
from utils.report.run import run_report, stage_in_workers
from utils.report.tsv import tsv_path
from utils.snapshots.discovery import SnapshotFolder, candidate_dates, snapshot_folder

log = logging.getLogger(__name__)

MODES = ("report", "inspector", "both")
REPORT_STAGE, PROJECTS_STAGE = "report", "inspector"


@dataclass(frozen=True)
class SnapshotSet:
    """One date's snapshot for every configured volume."""

    date: dt.date
    paths: Mapping[int, str]  # volume number -> snapshot path


def choose_set(config: Config, today: dt.date, *, date: dt.date | None = None,
               folder: SnapshotFolder | None = None) -> SnapshotSet:
    """``date``'s set, else the newest complete set within ``max_days_ago`` days.

    Warns for every newer date that has some snapshot but not all of them;
    no complete set is an error naming what is missing.
    """
    folder = folder or snapshot_folder(config)
    volumes = [volume.number for volume in config.volumes]
    if date is not None:
        found = folder.complete_set(date, volumes)
        if found is None:
            raise LurgeError(f"no complete snapshot set for {date:%Y%m%d} in {folder.directory}: "
                             + _missing(folder, date, volumes))
        return SnapshotSet(date, {volume: s.path for volume, s in found.items()})
    for candidate in candidate_dates(today, config.paths.max_days_ago):
        found = folder.complete_set(candidate, volumes)
        if found is not None:
            return SnapshotSet(candidate, {volume: s.path for volume, s in found.items()})
        if folder.has_any(candidate, volumes):
            log.warning("snapshot set %s is incomplete, so it is not used yet: %s",
                        f"{candidate:%Y%m%d}", _missing(folder, candidate, volumes))
    raise LurgeError(
        f"no complete snapshot set in {folder.directory} within the last "
        f"{config.paths.max_days_ago} days (volumes {', '.join(map(str, volumes))}; "
        f"files named like {folder.pattern.text})")


def _missing(folder: SnapshotFolder, date: dt.date, volumes: Sequence[int]) -> str:
    return "; ".join(folder.missing(date, volume) for volume in volumes
                     if folder.snapshot(date, volume) is None)


def stages_to_run(config: Config, mode: str, status: StageStatus, force: bool) -> list[str]:
    """The stages of ``mode`` that are not done for the date (all of them with ``force``)."""
    stages = [REPORT_STAGE, PROJECTS_STAGE] if mode == "both" else [mode]
    if force:
        return stages
    done = {REPORT_STAGE: status.report_done, PROJECTS_STAGE: status.inspector_done(config)}
    return [stage for stage in stages if not done[stage]]


def latest_link_path(report_dir: str, volume: int) -> str:
    return os.path.join(report_dir, f"latest-{volume}.dat.gz")


def check_latest_links(report_dir: str, volumes: Sequence[int]) -> None:
    """Refuse, before anything is published, a ``latest-<vol>.dat.gz`` that is not a link."""
    for volume in volumes:
        link = latest_link_path(report_dir, volume)
        try:
            mode = os.lstat(link).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            continue
        what = "a folder" if stat.S_ISDIR(mode) else "a file, not a symbolic link"
        raise LurgeError(f"{link} is {what}; lurge keeps a symbolic link to the volume's latest "
                         "snapshot there: move it away and run again (nothing was changed)")


def point_latest_links(report_dir: str, chosen: SnapshotSet) -> dict[int, str]:
    """Point ``<report_dir>/latest-<vol>.dat.gz`` at the chosen files (each an atomic swap)."""
    links = {}
    for volume, target in sorted(chosen.paths.items()):
        link = latest_link_path(report_dir, volume)
        temp = f"{link}.lurge-tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        os.symlink(os.path.abspath(target), temp)
        try:
            os.replace(temp, link)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        links[volume] = link
    return links


def log_done(config: Config, mode: str, status: StageStatus) -> None:
    """Say why there is nothing to do."""
    date = status.date
    if mode != PROJECTS_STAGE:
        log.info("report for %s: done (TSV %s and database rows in place)", date,
                 tsv_path(config.paths.report_dir, date))
    if mode != REPORT_STAGE:
        for volume in config.volumes:
            if volume.inspect_roots:
                log.info("inspector: volume %s already loaded from %s", volume.name, date)
    log.info("nothing newer to do: every stage of %r is done for %s, the newest complete "
             "snapshot set", mode, date)


def run_stages(config: Config, mode: str, chosen: SnapshotSet, status: StageStatus,
               force: bool) -> list[str]:
    """Run the stages not done for ``chosen`` (the caller holds the lock); returns them."""
    todo = stages_to_run(config, mode, status, force)
    if not todo:
        log_done(config, mode, status)
        return todo
    report_dir = config.paths.report_dir
    if REPORT_STAGE in todo:
        check_latest_links(report_dir, sorted(chosen.paths))
    elif mode == "both":
        log.info("report for %s: done already; running the inspector only", chosen.date)
    summary = ""
    fused = (FusedRead(config, chosen.date,
                       pending_volumes(config, chosen.date, chosen.paths, force=force))
             if REPORT_STAGE in todo and PROJECTS_STAGE in todo else None)
    if REPORT_STAGE in todo:
        outcome = run_report(config, chosen.date, chosen.paths, force=force,
                             stage=stage_in_workers if fused is None else fused,
                             before_page=None if fused is None else fused.load)
        log.info("report %s: database %s, TSV %s (%s)", chosen.date, outcome.database,
                 outcome.tsv, outcome.tsv_path)
        # Only a report that succeeded moves the links: a failed run publishes nothing.
        point_latest_links(report_dir, chosen)
        summary = outcome.summary
    if PROJECTS_STAGE in todo and (fused is None or not fused.loaded):  # not read with the report
        run_inspections(config, chosen.date, chosen.paths, force=force)
    if summary:  # the night's closing line: where groups are heading (docs/warnings.md)
        log.info("%s %s", chosen.date, summary)
    return todo


def describe_plan(config: Config, mode: str, chosen: SnapshotSet, status: StageStatus,
                  force: bool) -> list[str]:
    """What a run would do (for ``--dry-run``), from the same facts a real run checks."""
    date = chosen.date
    lines = [f"snapshot set {date:%Y%m%d}:"]
    lines += [f"  volume {volume}: {path}" for volume, path in sorted(chosen.paths.items())]
    url = config.database.redacted_url
    if status.schema_change:
        lines.append(f"database: {status.schema_change} in {url} first")
    todo = stages_to_run(config, mode, status, force)
    if mode != PROJECTS_STAGE:
        lines += _describe_report(config, chosen, status, force, REPORT_STAGE in todo)
    if mode != REPORT_STAGE:
        lines += _describe_inspector(config, status, force, PROJECTS_STAGE in todo)
    if status.database_problem:  # a real run stops at its first database step
        lines.append(f"would fail: {status.database_problem}")
    elif not todo:
        lines.append(f"nothing to do: every stage of {mode!r} is done for {date}")
    return lines


def _describe_report(config: Config, chosen: SnapshotSet, status: StageStatus, force: bool,
                     runs: bool) -> list[str]:
    date, url = chosen.date, config.database.redacted_url
    tsv = tsv_path(config.paths.report_dir, date)
    if not runs:
        return [f"report for {date}: done (TSV {tsv} and database rows in place)"]
    workers = min(config.paths.workers, len(chosen.paths))
    lines = [f"would run the report for {date} on {plural(len(chosen.paths), 'volume')} "
             f"({plural(workers, 'worker')})"]
    if status.rows is None:
        lines.append(f"would load database rows for {date} into {url} (unless already loaded)")
    elif status.rows and force:
        lines.append(f"would replace the database rows for {date} in {url}")
    elif status.rows:
        lines.append(f"database rows for {date} are already in {url}; they stay as they are")
    else:
        lines.append(f"would load database rows for {date} into {url}")
    lines.append(f"would write {html_path(config.paths.report_dir, date)} from the database's "
                 "rows of the date")
    if status.tsv and not force:
        lines.append(f"{tsv} exists; it stays as it is")
    else:
        lines.append(f"would {'rewrite' if status.tsv else 'write'} {tsv}")
    lines.append(f"would then point latest-<vol>.dat.gz links in {config.paths.report_dir} "
                 "at the set")
    return lines


def _describe_inspector(config: Config, status: StageStatus, force: bool, runs: bool) -> list[str]:
    date = status.date
    with_roots = [volume for volume in config.volumes if volume.inspect_roots]
    if not runs:
        return [f"inspector for {date}: done (every volume with inspection roots was loaded "
                "from that date)"]
    pending = with_roots if force or status.database_problem else status.pending_inspections(config)
    names = ", ".join(volume.name for volume in pending) or "none"
    return [f"would inspect and load volumes {names} from {date}",
            f"would then rewrite {html_path(config.paths.report_dir, date)} if the database "
            "holds the date's report rows"]
