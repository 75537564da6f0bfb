"""The nightly manager: pick the snapshot set, then run the stages."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Mapping

from db.migrate import pending_upgrade
from utils.common.config import Config
from utils.common.errors import DatabaseError, LurgeError
from utils.inspector.run import run_inspections
from utils.snapshots.discovery import candidate_dates, complete_set
from utils.report.run import run_report
from utils.report.tsv import tsv_path

log = logging.getLogger(__name__)

MODES = ("report", "inspector", "both")


@dataclass(frozen=True)
class SnapshotSet:
    """One date's snapshot for every configured volume."""

    date: dt.date
    paths: Mapping[int, str]  # volume number -> snapshot path


def choose_set(config: Config, mode: str, today: dt.date, *, date: dt.date | None = None,
               force: bool = False) -> SnapshotSet | None:
    """The set to process, or None when the newest report already exists.

    Searches today, yesterday, … (``max_days_ago`` days).  In report/both
    mode an existing ``report-<date>.tsv`` met first means there is nothing
    newer to do (unless ``force``).  ``date`` picks that date's set instead.
    """
    volumes = [volume.number for volume in config.volumes]
    mpistat_dir = config.paths.mpistat_dir
    if date is not None:
        paths = complete_set(mpistat_dir, volumes, date)
        if paths is None:
            raise LurgeError(f"no complete snapshot set for {date:%Y%m%d} in {mpistat_dir} "
                             f"(volumes {', '.join(map(str, volumes))})")
        return SnapshotSet(date, paths)
    for candidate in candidate_dates(today, config.paths.max_days_ago):
        if mode != "inspector" and not force:
            if os.path.exists(tsv_path(config.paths.report_dir, candidate)):
                log.info("report for %s already exists; nothing newer to do", candidate)
                return None
        paths = complete_set(mpistat_dir, volumes, candidate)
        if paths is not None:
            return SnapshotSet(candidate, paths)
    raise LurgeError(
        f"no complete snapshot set in {mpistat_dir} within the last "
        f"{config.paths.max_days_ago} days (volumes {', '.join(map(str, volumes))})")


def latest_link_path(report_dir: str, volume: int) -> str:
    return os.path.join(report_dir, f"latest-{volume}.dat.gz")


def point_latest_links(report_dir: str, chosen: SnapshotSet) -> dict[int, str]:
    """Point ``<report_dir>/latest-<vol>.dat.gz`` at the chosen files (atomic swap)."""
    links = {}
    for volume, target in chosen.paths.items():
        link = latest_link_path(report_dir, volume)
        temp = f"{link}.lurge-tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        os.symlink(os.path.abspath(target), temp)
        os.replace(temp, link)
        links[volume] = link
    return links


def describe_plan(config: Config, mode: str, chosen: SnapshotSet | None, force: bool) -> list[str]:
    """Human-readable lines of what a run would do (for ``--dry-run``)."""
    if chosen is None:
        return ["nothing to do: the newest report already exists"]
    lines = [f"snapshot set {chosen.date:%Y%m%d}:"]
    lines += [f"  volume {volume}: {path}" for volume, path in sorted(chosen.paths.items())]
    if mode in ("report", "both"):
        tsv = tsv_path(config.paths.report_dir, chosen.date)
        lines.append(f"would run the report for {chosen.date} on {len(chosen.paths)} volumes "
                     f"({min(config.paths.workers, len(chosen.paths))} workers)")
        lines.append(f"would load database rows for {chosen.date} into "
                     f"{config.database.redacted_url}"
                     + (" (replacing any)" if force else " (unless already loaded)"))
        lines.append(f"would write {tsv}" + ("" if force else " (unless it exists)"))
        lines.append(f"would then point latest-<vol>.dat.gz links in {config.paths.report_dir}")
    if mode in ("inspector", "both"):
        skip = "" if force else " not already inspected from that date"
        lines.append(f"would inspect volumes{skip}: "
                     + ", ".join(str(v.number) for v in config.volumes if v.inspect_roots))
    lines.append(_schema_plan(config))
    return lines


def _schema_plan(config: Config) -> str:
    """What the run would do to the database schema first (nothing is changed here)."""
    try:
        upgrade = pending_upgrade(config.database.url, timeout=config.database.timeout)
    except DatabaseError as err:
        return f"would fail: {err}"
    return upgrade or "database schema: up to date"


def run_stages(config: Config, mode: str, chosen: SnapshotSet, force: bool) -> None:
    """Run the report and/or inspector stages for ``chosen`` (the caller holds the lock)."""
    if mode in ("report", "both"):
        outcome = run_report(config, chosen.date, chosen.paths, force=force)
        log.info("report %s: database %s, TSV %s (%s)", chosen.date, outcome.database,
                 outcome.tsv, outcome.tsv_path)
        # Only a report that succeeded moves the links: a failed run publishes nothing.
        point_latest_links(config.paths.report_dir, chosen)
    if mode in ("inspector", "both"):
        run_inspections(config, chosen.date, chosen.paths, force=force)
