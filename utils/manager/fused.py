"""One read per snapshot for ``manager.py both`` (docs/performance.md).

When both stages are pending, each volume's worker decompresses and parses
its snapshot once, and every chunk feeds several consumers: the report's
per-(user, group) sums and, for a volume whose inspection is pending, the
inspector.  The report is then published exactly as on its own (the
database, then the TSVs: :func:`utils.report.run.run_report` with
:class:`FusedRead` as its stager), and the inspections as the inspector
stage publishes them (:func:`utils.inspector.run.load_records`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from utils.common.config import Config, VolumeConfig
from utils.common.workers import map_in_workers
from utils.inspector.aggregate import DirectoryRecord, InspectionConsumer
from utils.inspector.run import InspectTask, load_records, plan_of
from utils.report.run import StagedVolume, VolumeTask, stage_usage
from utils.report.usage import OwnerUsageConsumer
from utils.snapshots.chunks import Chunk
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats, map_chunks

log = logging.getLogger(__name__)


class ChunkConsumer(Protocol):
    """A pass that takes its share of each chunk of a read."""

    def per_chunk(self, chunk: Chunk) -> Any:
        """This chunk's partial result (runs in the reader's parse threads)."""

    def collect(self, partial: Any) -> None:
        """Take one partial result (on the reading thread, in file order)."""


def read_once(snapshot: Snapshot, consumers: Sequence[ChunkConsumer], *, label: str,
              stats: ReadStats | None = None) -> None:
    """Read ``snapshot`` once, handing every chunk to each consumer in turn."""
    def per_chunk(chunk: Chunk) -> list[Any]:
        return [consumer.per_chunk(chunk) for consumer in consumers]

    for partials in map_chunks(snapshot.path, per_chunk, label=label, stats=stats,
                               max_malformed_fraction=snapshot.max_malformed_fraction):
        for consumer, partial in zip(consumers, partials):
            consumer.collect(partial)


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
    read_once(snapshot, consumers, label=f"{what} of volume {snapshot.volume}", stats=stats)
    staged = stage_usage(task.report, usage.result(), stats)
    if inspection is None:
        return FusedResult(staged, None)
    return FusedResult(staged, inspection.records(snapshot, task.report.volume.name,
                                                  task.report.directory))


class FusedRead:
    """The report's stager in ``both``: its workers also inspect the pending volumes.

    Called by :func:`utils.report.run.run_report` with the report's tasks; it
    keeps the inspector's records until :meth:`load` publishes them.
    """

    def __init__(self, config: Config, date: dt.date, inspect: Sequence[VolumeConfig]) -> None:
        self.config = config
        self.date = date
        self.inspect = list(inspect)  # the volumes whose inspection is pending
        self.records: dict[str, list[DirectoryRecord]] | None = None  # None: not read yet

    def __call__(self, tasks: Sequence[VolumeTask], workers: int) -> list[StagedVolume]:
        pending = {volume.number for volume in self.inspect}
        fused = [FusedTask(task, self._inspection(task) if task.volume.number in pending else None)
                 for task in tasks]
        for task in fused:
            if task.inspection is not None:
                log.info("volume %s: inspecting %s, the snapshot of %s, in the report's read",
                         task.report.volume.name, task.report.snapshot.path,
                         task.report.snapshot.date)
        results = map_in_workers(read_volume, fused, workers)
        self.records = {task.report.volume.name: result.records
                        for task, result in zip(fused, results) if result.records is not None}
        return [result.staged for result in results]

    def _inspection(self, task: VolumeTask) -> InspectTask:
        return InspectTask(task.volume, task.snapshot, task.volume.inspect_roots,
                           self.config.inspector.depth, self.config.inspector.filetypes,
                           task.directory)

    @property
    def done(self) -> bool:
        """Whether the read has happened (the report may have found nothing to do)."""
        return self.records is not None

    def load(self) -> int:
        """Replace the inspected volumes' rows, as the inspector stage does; rows loaded."""
        if not self.inspect or self.records is None:
            return 0
        return load_records(self.config, self.records,
                            {volume.name: self.date for volume in self.inspect})
