"""One volume's inspection, in a worker process.

A worker imports only what reading and aggregating need (no database or page
code), so each worker process stays small; :mod:`utils.inspector.run` loads
the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from utils.common.config import VolumeConfig
from utils.directory.ldap import DirectorySnapshot
from utils.inspector.aggregate import DirectoryRecord, InspectionPlan, inspect_snapshot
from utils.inspector.roots import InspectRoot
from utils.snapshots.discovery import Snapshot


@dataclass(frozen=True)
class InspectTask:
    """One volume's inspection (picklable, for a worker process)."""

    volume: VolumeConfig
    snapshot: Snapshot
    roots: tuple[str, ...]
    depth: int
    filetypes: Mapping[str, str]
    directory: DirectorySnapshot


def plan_of(task: InspectTask) -> InspectionPlan:
    """How to inspect the task's volume."""
    return InspectionPlan(tuple(InspectRoot(root) for root in task.roots), task.depth,
                          task.filetypes, task.snapshot.time)


def inspect_volume(task: InspectTask) -> list[DirectoryRecord]:
    """Worker: the records of one volume's roots."""
    return inspect_snapshot(task.snapshot, task.volume.name, plan_of(task), task.directory)
