"""utils/report/usage.py: totals per key stay exact however the chunks' sums are combined.

Chunk tables are summed in Arrow (every ``compact_every`` tables) and moved to
Python integers (every ``fold_lines`` lines); with small values of both, a
small file goes through many compactions and folds, and every total must still
equal tests/reference.py's, including sums far beyond 2^64 bytes.
"""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import pytest

from tests.reference import read_lines, records, usage_by_owner
from utils.demo.synthetic import SyntheticOptions, format_line, synthetic_lines, write_snapshot
from utils.report.usage import (GROUP_KEYS, OWNER_KEYS, UsageTotals, aggregate_owner_usage,
                                aggregate_usage, chunk_usage, group_totals)
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import map_chunks

T = 1_764_000_000
HUGE = 2**63 - 1  # the largest size a well-formed line can carry


def snapshot(tmp_path: Path) -> Snapshot:
    options = SyntheticOptions(seed=3, lines=20_000, snapshot_time=T,
                               uids=tuple(range(500, 540)), malformed_fraction=0.001)
    huge = [format_line(b"/lustre/scratch118/big/%d" % index, HUGE, 501 + index % 3, 1001, T - 60,
                        T - 60, T - 60, "f", index, 1, 64768) for index in range(40)]
    path = tmp_path / "20251124_118.dat.gz"
    write_snapshot(str(path), [*huge[:20], *synthetic_lines("/lustre/scratch118", options),
                               *huge[20:]], mtime=T)
    return Snapshot(str(path), 118, dt.date(2025, 11, 24), T)


@pytest.mark.parametrize("compact_every, fold_lines", [(32, 2**31), (3, 2**31), (2, 1500), (1, 1)])
def test_totals_per_owner_are_exact(tmp_path: Path, compact_every: int, fold_lines: int) -> None:
    source = snapshot(tmp_path)
    totals = UsageTotals(OWNER_KEYS, compact_every=compact_every, fold_lines=fold_lines)
    chunks = 0
    for partial in map_chunks(source.path, lambda chunk: chunk_usage(chunk, T, OWNER_KEYS),
                              block_size=64 * 1024):
        totals.add(partial)
        chunks += 1
    assert chunks > 40  # enough chunks for several compactions
    found = {owner: (usage.used, usage.last_mtime) for owner, usage in totals.result().items()}
    lines = read_lines(source.path)
    assert found == usage_by_owner(lines, T)
    inodes = collections.Counter((record.uid, record.gid) for record in records(lines))
    assert {owner: usage.inodes for owner, usage in totals.result().items()} == inodes
    assert max(used for used, _ in found.values()) > 2**64  # the sums went past 64 bits


def test_group_totals_from_owners_equal_the_sums_per_gid(tmp_path: Path) -> None:
    source = snapshot(tmp_path)
    per_gid = aggregate_usage(source)
    assert group_totals(aggregate_owner_usage(source)) == per_gid
    assert UsageTotals(GROUP_KEYS).result() == {}
    assert per_gid[1001].used > 2**64
