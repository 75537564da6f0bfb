"""The reader's bounds: lines of at most 1 MiB, memory bounded whatever the line length.

A line too long to be well-formed is dropped as it is read (it still counts as
one malformed line); the reader never asks for a buffer larger than the
longest well-formed line plus one block, which these tests see by recording
every buffer size it requests.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.hostile import SNAPSHOT_TIME, write_gzip
from tests.reference import count_lines, split_lines
from utils.common.errors import SnapshotError
from utils.snapshots import reader
from utils.snapshots.chunks import MAX_LINE_BYTES, parse_block

BLOCK = 256 * 1024
GOOD = b"L3g=\t1\t501\t1001\t1\t%d\t1\tf\t7\t1\t64768\n" % (SNAPSHOT_TIME - 5)


def _sized(length: int) -> bytes:
    """A well-formed line of exactly ``length`` bytes (without its newline)."""
    tail = GOOD[len(b"L3g="):-1]
    head = b"L3g=" + b"A" * ((length - len(GOOD) + 1) // 4 * 4)
    return head + b" " * (length - len(head) - len(tail)) + tail


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every buffer size read_blocks asks for (the allocation itself is unchanged)."""
    sizes: list[int] = []
    allocate = reader.uninitialized_bytearray
    monkeypatch.setattr(reader, "uninitialized_bytearray",
                        lambda size: sizes.append(size) or allocate(size))
    return sizes


def _write_stream(path: Path, pieces: list[tuple[bytes, int]]) -> str:
    """A gzip file of each (bytes, repeat count) in turn, written without holding it whole."""
    with gzip.open(path, "wb", compresslevel=1) as handle:
        for data, times in pieces:
            for _ in range(times):
                handle.write(data)
    return str(path)


def test_lines_at_the_bound() -> None:
    block = GOOD + _sized(MAX_LINE_BYTES) + b"\n" + _sized(MAX_LINE_BYTES + 1) + b"\n" + GOOD
    assert len(_sized(MAX_LINE_BYTES)) == MAX_LINE_BYTES
    result = parse_block(block)
    assert (result.lines, result.malformed) == (4, 1)
    assert [len(line) for line in result.chunk.lines()] == [len(GOOD) - 1, MAX_LINE_BYTES,
                                                           len(GOOD) - 1]


def test_a_long_line_between_good_ones_costs_only_itself(tmp_path: Path, requested: list[int]) -> None:
    text = GOOD * 3 + b"x" * (5 * MAX_LINE_BYTES) + b"\n" + GOOD * 2 + _sized(MAX_LINE_BYTES) + b"\n"
    path = write_gzip(str(tmp_path / "20251124_118.dat.gz"), text)
    stats = reader.ReadStats(path)
    kept = [line for part in reader.map_chunks(path, lambda chunk: chunk.lines(), stats=stats,
                                               block_size=BLOCK, max_malformed_fraction=0.5)
            for line in part]
    assert (stats.lines, stats.malformed) == (7, 1) == tuple(
        vars(count_lines(split_lines(text))).values())
    assert kept == [GOOD[:-1]] * 5 + [_sized(MAX_LINE_BYTES)]
    assert max(requested) <= MAX_LINE_BYTES + BLOCK


def test_one_huge_line_without_newline_is_a_failed_snapshot(tmp_path: Path,
                                                            requested: list[int]) -> None:
    path = _write_stream(tmp_path / "20251124_118.dat.gz", [(b"A" * BLOCK, 64)])  # 16 MiB
    blocks = list(reader.read_blocks(path, BLOCK))
    assert blocks == [bytearray(b"\n")]  # the dropped line stands as an empty one
    assert max(requested) <= MAX_LINE_BYTES + BLOCK
    with pytest.raises(SnapshotError, match=f"failed snapshot {path}: no well-formed line among 1$"):
        list(reader.map_chunks(path, len, block_size=BLOCK))


def test_newlines_only_is_a_failed_snapshot(tmp_path: Path, requested: list[int]) -> None:
    path = _write_stream(tmp_path / "20251124_118.dat.gz", [(b"\n" * BLOCK, 16)])  # 4 MiB
    stats = reader.ReadStats(path)
    with pytest.raises(SnapshotError, match=f"no well-formed line among {16 * BLOCK}$"):
        list(reader.map_chunks(path, len, stats=stats, block_size=BLOCK))
    assert (stats.lines, stats.malformed) == (16 * BLOCK, 16 * BLOCK)
    assert max(requested) <= MAX_LINE_BYTES + BLOCK
