"""The report's aggregation pass: used bytes and newest mtime per gid (SPEC §2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from utils.snapshots.chunks import Chunk
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats, map_chunks

NO_MTIME = -1  # sentinel for "no mtime at or before the snapshot time"


@dataclass
class GroupUsage:
    """What one gid holds on one volume."""

    used: int = 0
    last_mtime: int | None = None

    def merge(self, used: int, last_mtime: int | None) -> None:
        self.used += used
        if last_mtime is not None and (self.last_mtime is None or last_mtime > self.last_mtime):
            self.last_mtime = last_mtime

    @property
    def is_empty(self) -> bool:
        """Nothing used and nothing dated: such a group is not reported."""
        return self.used == 0 and self.last_mtime is None


def chunk_usage(chunk: Chunk, snapshot_time: float) -> pa.Table:
    """Per-gid partial sums of one chunk: columns gid, used_sum, mtime_max.

    ``used`` is ⌊size / nlink⌋ (nothing for nlink 0); ``mtime_max`` ignores
    mtimes later than the snapshot time and is NO_MTIME when none remain.
    """
    nlink = chunk.nlink
    linked = nlink > 0
    used = np.zeros(len(chunk), dtype=np.uint64)
    np.floor_divide(chunk.size, nlink, out=used, where=linked)
    threshold = np.uint64(math.floor(snapshot_time))
    dated = chunk.mtime <= threshold
    mtime = np.where(dated, chunk.mtime.astype(np.int64), NO_MTIME)
    table = pa.table({"gid": chunk.gid, "used": used, "mtime": mtime})
    return table.group_by("gid", use_threads=False).aggregate([("used", "sum"), ("mtime", "max")])


def aggregate_usage(snapshot: Snapshot, stats: ReadStats | None = None) -> dict[int, GroupUsage]:
    """gid -> usage over every well-formed line of ``snapshot`` (all object types)."""
    totals: dict[int, GroupUsage] = {}
    label = f"usage of volume {snapshot.volume}"
    for partial in map_chunks(snapshot.path, lambda c: chunk_usage(c, snapshot.time),
                              label=label, stats=stats):
        for gid, used, mtime in zip(partial.column("gid").to_pylist(),
                                    partial.column("used_sum").to_pylist(),
                                    partial.column("mtime_max").to_pylist()):
            totals.setdefault(gid, GroupUsage()).merge(used, None if mtime == NO_MTIME else mtime)
    return totals
