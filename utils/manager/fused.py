"""One read per snapshot for ``manager.py both`` (docs/performance.md).

When both stages are pending, each volume's worker decompresses and parses
its snapshot once, and every chunk feeds several consumers
(:mod:`utils.manager.fused_worker`): the report's per-(user, group) sums and,
for a volume whose inspection is pending, the inspector.  The report is then
published as on its own (:func:`utils.report.run.run_report` with
:class:`FusedRead` as its stager), and the inspections as the inspector stage
loads them (:func:`utils.inspector.run.load_records`), right after the
report's database rows: the page, written next, is built once and shows both.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Sequence

from utils.common.config import Config, VolumeConfig
from utils.common.workers import map_in_workers
from utils.inspector.aggregate import DirectoryRecord
from utils.inspector.run import load_records
from utils.inspector.worker import InspectTask
from utils.manager.fused_worker import FusedTask, read_volume
from utils.report.worker import StagedVolume, VolumeTask

log = logging.getLogger(__name__)


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
        self.loaded = False  # whether load() has published the records

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

    def load(self) -> int:
        """Replace the inspected volumes' rows, as the inspector stage does, but leave the
        page to the report, which writes it next; rows loaded.

        Called by :func:`utils.report.run.run_report` once its database rows are in.
        """
        if self.records is None:
            return 0
        count = load_records(self.config, self.records,
                             {volume.name: self.date for volume in self.inspect},
                             rewrite_pages=False) if self.inspect else 0
        self.loaded = True
        return count
