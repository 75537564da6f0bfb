"""Running the project inspector: which volumes and roots, in parallel, to where.

What the records mean: docs/outputs.md ("Project inspector").
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Mapping, Sequence

from db.connection import connect
from db.directory import inspection_dates, load_inspection
from db.migrate import ensure_schema
from utils.common.config import Config, VolumeConfig, volume_for_path
from utils.common.errors import UsageError
from utils.common.text import plural
from utils.common.workers import map_in_workers
from utils.inspector.aggregate import DirectoryRecord
from utils.directory.ldap import DirectorySnapshot, load_directory
from utils.snapshots.discovery import Snapshot, open_snapshot
from utils.inspector.roots import InspectRoot
from utils.inspector.worker import InspectTask, inspect_volume
from utils.report.publish_html import rewrite_after_inspection

log = logging.getLogger(__name__)


def run_tasks(tasks: Sequence[InspectTask], workers: int) -> dict[str, list[DirectoryRecord]]:
    """Inspect every task's volume, one pool task per volume; volume name -> records."""
    for task in tasks:
        log.info("volume %s: inspecting %s, the snapshot of %s", task.volume.name,
                 task.snapshot.path, task.snapshot.date)
    if not tasks:
        return {}
    if len(tasks) == 1:
        return {tasks[0].volume.name: inspect_volume(tasks[0])}
    results = map_in_workers(inspect_volume, tasks, min(workers, len(tasks)))
    return {task.volume.name: records for task, records in zip(tasks, results)}


def configured_roots(config: Config) -> list[str]:
    """Every configured inspection root, volume by volume."""
    return [root for volume in config.volumes for root in volume.inspect_roots]


def resolve_path(config: Config, path: str) -> tuple[VolumeConfig, str]:
    """An ad-hoc PATH as a root: realpath, then ``[inspector] aliases``, then its volume.

    The path must be a configured inspection root or lie under one; anything
    else is a :class:`UsageError` naming the roots.
    """
    resolved = os.path.realpath(path)
    for alias in sorted(config.inspector.aliases, key=len, reverse=True):
        base = alias.rstrip("/")
        if resolved == base or resolved.startswith(base + "/"):
            resolved = config.inspector.aliases[alias].rstrip("/") + resolved[len(base):]
            break
    for volume in config.volumes:
        for root in volume.inspect_roots:
            if resolved == root or InspectRoot(root).matcher().matches(os.fsencode(resolved)):
                return volume, resolved
    shown = path if resolved == path else f"{path} (as {resolved})"
    volume = volume_for_path(config, resolved)
    where = ("it is not on any configured volume" if volume is None
             else f"it is on volume {volume.number}")
    roots = ", ".join(configured_roots(config)) or "none (no [[volume]] has inspect_roots)"
    raise UsageError(f"{shown} is under no configured inspection root ({where}); the roots are: "
                     f"{roots}")


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
                 snapshot_dates: Mapping[str, dt.date], *, rewrite_pages: bool = True) -> int:
    """``--tosql``: replace the inspected volumes' rows in one transaction, then rewrite the
    HTML page of each inspected date whose report rows are loaded (unless
    ``rewrite_pages`` is false: the caller writes the page next)."""
    with connect(config.database.url, timeout=config.database.timeout) as db:
        ensure_schema(db)
        earlier = inspection_dates(db)
        count = load_inspection(db, records, snapshot_dates, list(config.inspector.filetypes))
        _log_loaded(records, earlier, count)
        if rewrite_pages:
            rewrite_after_inspection(db, config, (snapshot_dates[name] for name in records))
    return count


def _log_loaded(records: Mapping[str, Sequence[DirectoryRecord]], earlier: Mapping[str, dt.date],
                count: int) -> None:
    replaced = sorted(name for name in records if name in earlier)
    loaded = sorted(name for name in records if name not in earlier)
    actions = ([f"replaced the rows of {', '.join(replaced)}"] if replaced else []) + (
        [f"loaded {', '.join(loaded)} (no earlier rows)"] if loaded else [])
    log.info("database: %s: %s", plural(count, "directory row"),
             "; ".join(actions) or "no volumes inspected")


def pending_volumes(config: Config, date: dt.date, snapshot_paths: Mapping[int, str], *,
                    force: bool = False) -> list[VolumeConfig]:
    """The volumes with inspection roots whose rows are not from ``date`` (all with ``force``);
    the others are logged as skipped."""
    with connect(config.database.url, timeout=config.database.timeout) as db:
        ensure_schema(db)
        loaded = inspection_dates(db)
    candidates = [v for v in config.volumes if v.inspect_roots and v.number in snapshot_paths]
    todo = [v for v in candidates if force or loaded.get(v.name) != date]
    for volume in candidates:
        if volume not in todo:
            log.info("inspector: volume %s already loaded from %s; skipped", volume.name, date)
    return todo


def run_inspections(config: Config, date: dt.date, snapshot_paths: Mapping[int, str], *,
                    force: bool = False) -> int:
    """The manager's inspector stage: inspect and load the chosen set.

    A volume whose ``inspection.snapshot_date`` is already ``date`` is skipped
    unless ``force``.  Returns the number of directory rows loaded.
    """
    todo = pending_volumes(config, date, snapshot_paths, force=force)
    if not todo:
        return 0
    snapshots = {v.number: open_snapshot(
        snapshot_paths[v.number], v.number, date,
        max_malformed_fraction=config.paths.max_malformed_fraction) for v in todo}
    tasks = configured_tasks(config, snapshots, config.inspector.depth, load_directory(config.ldap))
    records = run_tasks(tasks, config.paths.workers)
    return load_records(config, records, {v.name: date for v in todo})


def refuse_tosql_with_path(path: str | None, tosql: bool) -> None:
    if tosql and path is not None:
        raise UsageError("--tosql cannot be used with an explicit PATH: the database holds "
                         "whole configured volumes only")
