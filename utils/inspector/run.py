"""Running the project inspector: which volumes and roots, in parallel, to where."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

from db.connection import connect
from db.directory import inspection_dates, load_inspection
from db.migrate import ensure_schema
from utils.common.config import Config, VolumeConfig, volume_for_path
from utils.common.errors import LurgeError, UsageError
from utils.inspector.aggregate import DirectoryRecord, InspectionPlan, inspect_snapshot
from utils.directory.ldap import DirectorySnapshot, load_directory
from utils.common.logs import setup_logging
from utils.snapshots.discovery import Snapshot, newest_snapshot, open_snapshot
from utils.inspector.roots import InspectRoot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InspectTask:
    """One volume's inspection (picklable, for a worker process)."""

    volume: VolumeConfig
    snapshot: Snapshot
    roots: tuple[str, ...]
    depth: int
    filetypes: Mapping[str, str]
    directory: DirectorySnapshot


def inspect_volume(task: InspectTask) -> list[DirectoryRecord]:
    """Worker: the records of one volume's roots."""
    plan = InspectionPlan(tuple(InspectRoot(root) for root in task.roots), task.depth,
                          task.filetypes, task.snapshot.time)
    return inspect_snapshot(task.snapshot, task.volume.name, plan, task.directory)


def run_tasks(tasks: Sequence[InspectTask], workers: int) -> dict[str, list[DirectoryRecord]]:
    """Inspect every task's volume, one pool task per volume; volume name -> records."""
    if not tasks:
        return {}
    if len(tasks) == 1:
        return {tasks[0].volume.name: inspect_volume(tasks[0])}
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(tasks)), initializer=setup_logging) as pool:
        results = pool.map(inspect_volume, tasks, chunksize=1)
    return {task.volume.name: records for task, records in zip(tasks, results)}


def resolve_path(config: Config, path: str) -> tuple[VolumeConfig, str]:
    """An ad-hoc PATH as a root: realpath, then ``[inspector] aliases``, then its volume."""
    resolved = os.path.realpath(path)
    for alias in sorted(config.inspector.aliases, key=len, reverse=True):
        base = alias.rstrip("/")
        if resolved == base or resolved.startswith(base + "/"):
            resolved = config.inspector.aliases[alias].rstrip("/") + resolved[len(base):]
            break
    volume = volume_for_path(config, resolved)
    if volume is None:
        raise LurgeError(f"{path} (as {resolved}) is not on any configured volume")
    return volume, resolved


def snapshot_for(config: Config, volume: VolumeConfig, today: dt.date) -> Snapshot:
    """The newest snapshot of ``volume`` within ``max_days_ago`` days."""
    snapshot = newest_snapshot(config.paths.mpistat_dir, volume.number, today,
                               config.paths.max_days_ago)
    if snapshot is None:
        raise LurgeError(f"no snapshot of volume {volume.number} in {config.paths.mpistat_dir} "
                         f"within the last {config.paths.max_days_ago} days")
    if snapshot.date != today:
        log.warning("volume %d: newest snapshot is from %s", volume.number, snapshot.date)
    return snapshot


def configured_tasks(config: Config, snapshots: Mapping[int, Snapshot], depth: int,
                     directory: DirectorySnapshot) -> list[InspectTask]:
    """One task per volume with ``inspect_roots`` and a snapshot."""
    return [InspectTask(volume, snapshots[volume.number], volume.inspect_roots, depth,
                        config.inspector.filetypes, directory)
            for volume in config.volumes if volume.inspect_roots and volume.number in snapshots]


def check_database(config: Config) -> None:
    """Connect and create missing tables, so that ``--tosql`` fails before inspecting, not after."""
    with connect(config.database.url, timeout=config.database.timeout) as db:
        ensure_schema(db)


def load_records(config: Config, records: Mapping[str, Sequence[DirectoryRecord]],
                 snapshot_dates: Mapping[str, dt.date]) -> int:
    """``--tosql``: replace the inspected volumes' rows in one transaction."""
    with connect(config.database.url, timeout=config.database.timeout) as db:
        ensure_schema(db)
        count = load_inspection(db, records, snapshot_dates, list(config.inspector.filetypes))
    log.info("database: replaced directory rows of %s (%d rows)",
             ", ".join(sorted(records)) or "no volumes", count)
    return count


def run_inspections(config: Config, date: dt.date, snapshot_paths: Mapping[int, str], *,
                    force: bool = False) -> int:
    """The manager's inspector stage: inspect and load the chosen set.

    A volume whose ``inspection.snapshot_date`` is already ``date`` is skipped
    unless ``force``.  Returns the number of directory rows loaded.
    """
    with connect(config.database.url, timeout=config.database.timeout) as db:
        ensure_schema(db)
        loaded = inspection_dates(db)
    candidates = [v for v in config.volumes if v.inspect_roots and v.number in snapshot_paths]
    todo = [v for v in candidates if force or loaded.get(v.name) != date]
    for volume in candidates:
        if volume not in todo:
            log.info("inspector: volume %s already loaded from %s; skipped", volume.name, date)
    if not todo:
        return 0
    snapshots = {v.number: open_snapshot(snapshot_paths[v.number], v.number, date) for v in todo}
    tasks = configured_tasks(config, snapshots, config.inspector.depth, load_directory(config.ldap))
    records = run_tasks(tasks, config.paths.workers)
    return load_records(config, records, {v.name: date for v in todo})


def refuse_tosql_with_path(path: str | None, tosql: bool) -> None:
    if tosql and path is not None:
        raise UsageError("--tosql cannot be used with an explicit PATH: the database holds "
                         "whole configured volumes only")
