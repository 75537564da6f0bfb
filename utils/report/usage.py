"""The report's aggregation pass: used bytes, inodes and newest mtime per key.

The key is the gid for the group report (docs/outputs.md), or (uid, gid): the
report worker sums per owner and derives the group totals from those sums.
Sums are exact whatever the sizes: each chunk sums the high and low 32 bits of
⌊size / nlink⌋ separately, and so do the compactions that add the chunks'
small tables together in Arrow (neither half can wrap below 2^32 lines); the
compacted sums are then combined as Python integers, before 2^31 lines have
gone into them.  Python objects per key appear only then, not per chunk, so
the cost does not grow with the number of distinct owners a chunk holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.snapshots.chunks import Chunk
from utils.snapshots.consumers import read_once
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats, map_chunks

NO_MTIME = -1  # sentinel for "no mtime at or before the snapshot time"
GROUP_KEYS = ("gid",)
OWNER_KEYS = ("uid", "gid")
_LOW_BITS = np.uint64(0xFFFFFFFF)
_HIGH_SHIFT = np.uint64(32)
_COMPACT_EVERY = 32  # chunk tables collected before they are summed together in Arrow
_FOLD_LINES = 1 << 31  # lines summed in Arrow before the sums move to Python integers
_SUMS = [("high_sum", "sum"), ("low_sum", "sum"), ("inodes_sum", "sum"), ("mtime_max", "max")]


@dataclass
class GroupUsage:
    """What one key (a gid, or a uid and gid) holds on one volume."""

    used: int = 0
    inodes: int = 0
    last_mtime: int | None = None

    def merge(self, used: int, inodes: int, last_mtime: int | None) -> None:
        """Add another part of the same key's lines."""
        self.used += used
        self.inodes += inodes
        if last_mtime is not None and (self.last_mtime is None or last_mtime > self.last_mtime):
            self.last_mtime = last_mtime

    @property
    def is_empty(self) -> bool:
        """Nothing used and nothing dated: such a group is not reported."""
        return self.used == 0 and self.last_mtime is None


def chunk_usage(chunk: Chunk, snapshot_time: float, keys: Sequence[str] = GROUP_KEYS) -> pa.Table:
    """Per-key partial sums of one chunk.

    Columns: the key columns, ``high_sum`` and ``low_sum`` (the two 32-bit
    halves of Σ ⌊size / nlink⌋; nothing for nlink 0), ``inodes`` (lines) and
    ``mtime_max`` (ignoring mtimes later than the snapshot time; NO_MTIME when
    none remain).
    """
    nlink = chunk.nlink
    used = np.zeros(len(chunk), dtype=np.uint64)
    np.floor_divide(chunk.size, nlink, out=used, where=nlink > 0)
    if snapshot_time >= 0:
        dated = chunk.mtime <= np.uint64(math.floor(snapshot_time))
    else:  # a snapshot dated before 1970: no mtime is at or before it
        dated = np.zeros(len(chunk), dtype=bool)
    mtime = np.where(dated, chunk.mtime.astype(np.int64), NO_MTIME)
    columns = {key: getattr(chunk, key) for key in keys}
    columns.update(high=used >> _HIGH_SHIFT, low=used & _LOW_BITS, mtime=mtime,
                   inodes=np.ones(len(chunk), dtype=np.uint64))
    table = pa.table(columns)
    return table.group_by(list(keys), use_threads=False).aggregate(
        [("high", "sum"), ("low", "sum"), ("inodes", "sum"), ("mtime", "max")])


def merge_partial(totals: dict[Hashable, GroupUsage], partial: pa.Table,
                  keys: Sequence[str] = GROUP_KEYS) -> None:
    """Add one chunk's partial sums to ``totals`` (keyed by the key value, or a
    tuple of them when there are several keys)."""
    key_values = [partial.column(key).to_pylist() for key in keys]
    labels = key_values[0] if len(keys) == 1 else list(zip(*key_values))
    for label, high, low, inodes, mtime in zip(labels,
                                               partial.column("high_sum").to_pylist(),
                                               partial.column("low_sum").to_pylist(),
                                               partial.column("inodes_sum").to_pylist(),
                                               partial.column("mtime_max").to_pylist()):
        totals.setdefault(label, GroupUsage()).merge((high << 32) + low, inodes,
                                                     None if mtime == NO_MTIME else mtime)


class UsageTotals:
    """Per-key totals over a snapshot's chunks, in file order (see the module docstring)."""

    def __init__(self, keys: Sequence[str] = GROUP_KEYS, *, compact_every: int = _COMPACT_EVERY,
                 fold_lines: int = _FOLD_LINES) -> None:
        self.keys = tuple(keys)
        self.compact_every = compact_every
        self.fold_lines = min(fold_lines, _FOLD_LINES)
        self._totals: dict[Hashable, GroupUsage] = {}
        self._tables: list[pa.Table] = []
        self._lines = 0  # lines summed into the pending tables

    def add(self, partial: pa.Table) -> None:
        """Take one chunk's :func:`chunk_usage` table."""
        self._tables.append(partial)
        self._lines += pc.sum(partial.column("inodes_sum")).as_py() or 0
        if self._lines >= self.fold_lines:
            self._fold()
        elif len(self._tables) >= self.compact_every:
            self._tables = [self._combined()]

    def result(self) -> dict[Hashable, GroupUsage]:
        """key -> usage (a tuple key for several key columns) over every table added."""
        self._fold()
        return self._totals

    def _combined(self) -> pa.Table:
        grouped = pa.concat_tables(self._tables).group_by(list(self.keys), use_threads=False) \
            .aggregate(_SUMS)
        return grouped.rename_columns([name if name in self.keys else name.rsplit("_", 1)[0]
                                       for name in grouped.column_names])

    def _fold(self) -> None:
        if self._tables:
            merge_partial(self._totals, self._combined(), self.keys)
        self._tables, self._lines = [], 0


class OwnerUsageConsumer:
    """The report's share of a read: usage per (uid, gid), one chunk at a time.

    :meth:`per_chunk` runs in the reader's parse threads; :meth:`collect`
    takes the partial sums in file order on the reading thread; :meth:`result`
    gives the totals at the end.  The group totals are derived from these
    (:func:`group_totals`), so one hash aggregation per chunk serves both the
    group and the per-user report.
    """

    def __init__(self, snapshot_time: float) -> None:
        self.snapshot_time = snapshot_time
        self._totals = UsageTotals(OWNER_KEYS)

    def per_chunk(self, chunk: Chunk) -> pa.Table:
        return chunk_usage(chunk, self.snapshot_time, OWNER_KEYS)

    def collect(self, partial: pa.Table) -> None:
        self._totals.add(partial)

    def result(self) -> dict[tuple[int, int], GroupUsage]:
        """(uid, gid) -> usage over every chunk collected."""
        return self._totals.result()  # type: ignore[return-value]


def group_totals(owners: Mapping[tuple[int, int], GroupUsage]) -> dict[int, GroupUsage]:
    """gid -> usage, summed exactly over the (uid, gid) totals of that gid."""
    groups: dict[int, GroupUsage] = {}
    for (_, gid), owner in owners.items():
        groups.setdefault(gid, GroupUsage()).merge(owner.used, owner.inodes, owner.last_mtime)
    return groups


def aggregate_owner_usage(snapshot: Snapshot,
                          stats: ReadStats | None = None) -> dict[tuple[int, int], GroupUsage]:
    """(uid, gid) -> usage over every well-formed line of ``snapshot`` (all object types)."""
    consumer = OwnerUsageConsumer(snapshot.time)
    read_once(snapshot, [consumer], label=f"usage of volume {snapshot.volume}", stats=stats)
    return consumer.result()


def aggregate_usage(snapshot: Snapshot, stats: ReadStats | None = None) -> dict[int, GroupUsage]:
    """gid -> usage over every well-formed line of ``snapshot`` (all object types)."""
    totals = UsageTotals(GROUP_KEYS)
    label = f"usage of volume {snapshot.volume}"
    for partial in map_chunks(snapshot.path, lambda c: chunk_usage(c, snapshot.time),
                              label=label, stats=stats,
                              max_malformed_fraction=snapshot.max_malformed_fraction):
        totals.add(partial)
    return totals.result()  # type: ignore[return-value]
