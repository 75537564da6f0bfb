"""One volume's share of the report, in a worker process: read, sum, build rows, stage.

A worker imports only what reading and staging need (no database, page or
chart code), so each worker process stays small; the parent publishes
(:mod:`utils.report.run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from utils.common.config import QuotaConfig, VolumeConfig
from utils.directory.ldap import DirectorySnapshot
from utils.report.rows import build_rows, build_user_rows
from utils.report.staging import write_rows
from utils.report.usage import GroupUsage, aggregate_owner_usage, group_totals
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats


@dataclass(frozen=True)
class VolumeTask:
    """Everything a worker needs for one volume (picklable)."""

    volume: VolumeConfig
    snapshot: Snapshot
    directory: DirectorySnapshot
    quota: QuotaConfig
    staging_file: str


@dataclass(frozen=True)
class StagedVolume:
    """What a worker produced."""

    volume: int
    staging_file: str
    rows: int
    lines: int
    malformed: int
    user_rows: int = 0


def stage_volume(task: VolumeTask) -> StagedVolume:
    """Worker: aggregate one snapshot per (uid, gid), build its rows, stage them."""
    stats = ReadStats(task.snapshot.path)
    return stage_usage(task, aggregate_owner_usage(task.snapshot, stats), stats)


def stage_usage(task: VolumeTask, owners: Mapping[tuple[int, int], GroupUsage],
                stats: ReadStats) -> StagedVolume:
    """Build one volume's group rows (from the per-owner sums) and user rows; stage both."""
    rows = build_rows(task.volume, task.snapshot.time, group_totals(owners), task.directory,
                      task.quota)
    user_rows = build_user_rows(task.volume.name, task.snapshot.time, dict(owners),
                                task.directory)
    write_rows(task.staging_file, rows, user_rows)
    return StagedVolume(task.volume.number, task.staging_file, len(rows), stats.lines,
                        stats.malformed, len(user_rows))
