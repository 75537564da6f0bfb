"""The worker's side of the one read in ``manager.py both`` (docs/performance.md).

Each volume's worker decompresses and parses its snapshot once and hands
every chunk to several consumers (:func:`utils.snapshots.consumers.read_once`):
the report's per-(user, group) sums and, when the volume's inspection is
pending, the inspector.  Like the other workers it imports no database or
page code.
"""

from __future__ import annotations

from dataclasses import dataclass

from utils.inspector.aggregate import DirectoryRecord, InspectionConsumer
from utils.inspector.worker import InspectTask, plan_of
from utils.report.usage import OwnerUsageConsumer
from utils.report.worker import StagedVolume, VolumeTask, stage_usage
from utils.snapshots.consumers import ChunkConsumer, read_once
from utils.snapshots.reader import BLOCK_SIZE, LEAN_BLOCK_SIZE, ReadStats


@dataclass(frozen=True)
class FusedTask:
    """One volume's report task and, when its inspection is pending, its inspection (picklable)."""

    report: VolumeTask
    inspection: InspectTask | None


@dataclass(frozen=True)
class FusedResult:
    """What a fused worker produced: the staged report rows and the inspector's records."""

    staged: StagedVolume
    records: list[DirectoryRecord] | None  # None: the volume was not inspected


def read_volume(task: FusedTask) -> FusedResult:
    """Worker: one read of the volume's snapshot for the report and the inspector."""
    snapshot = task.report.snapshot
    stats = ReadStats(snapshot.path)
    usage = OwnerUsageConsumer(snapshot.time)
    inspection = None if task.inspection is None else InspectionConsumer(plan_of(task.inspection))
    consumers: list[ChunkConsumer] = [usage] if inspection is None else [usage, inspection]
    what = "usage" if inspection is None else "usage and inspection"
    read_once(snapshot, consumers, label=f"{what} of volume {snapshot.volume}", stats=stats,
              block_size=BLOCK_SIZE if inspection is None else LEAN_BLOCK_SIZE)
    staged = stage_usage(task.report, usage.result(), stats)
    if inspection is None:
        return FusedResult(staged, None)
    return FusedResult(staged, inspection.records(snapshot, task.report.volume.name,
                                                  task.report.directory))
