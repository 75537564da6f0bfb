"""Hostile lines against the reader: line and malformed counts, and the rows it keeps,
exactly as the plain reference (tests/reference.py) says — per block, across block
boundaries, and through map_chunks.

The ``present`` tests hold the reader to the rules it implemented first; the
``amended`` ones to the whole of docs/snapshots.md (quoted paths, 12 fields,
numbers below 2**63, lines of at most 1 MiB).
"""

from __future__ import annotations

import base64
import os
import tempfile

import pytest
from hypothesis import assume, example, given, strategies as st

from tests.hostile import HOSTILE, SNAPSHOT_TIME, Domain, hostile_lines, padded, write_gzip
from tests.reference import LineCounts, count_lines, parse_line, split_lines
from utils.snapshots import chunks
from utils.snapshots.chunks import Chunk, parse_block
from utils.snapshots.reader import BLOCK_SIZE, ReadStats, map_chunks, read_blocks


_TAIL = b"\t1\t501\t1001\t1\t%d\t1\tf\t7\t1\t64768" % (SNAPSHOT_TIME - 5)
# Lines the amended rules read differently from the reader before its rework.
AMENDED_ONLY = [
    b'"/lustre/scratch118/humgen/projects/p1/a b\\tc/"' + _TAIL + b"\n",   # quoted, with a space
    base64.b64encode(b"/lustre/scratch118/humgen/projects/p1/f") + _TAIL + b"\t4096\n",  # 12 fields
    base64.b64encode(b"/x") + _TAIL.replace(b"\t1\t501", b"\t%d\t501" % 2**63) + b"\n",  # 2^63
]

Row = tuple[bytes, int, int, int, int, bytes]


def expected(text: bytes) -> tuple[LineCounts, list[Row]]:
    """Counts and kept rows (raw line, size, gid, mtime, nlink, type) by the reference."""
    lines = split_lines(text)
    records = [record for record in map(parse_line, lines) if record is not None]
    return count_lines(lines), [(r.raw, r.size, r.gid, r.mtime, r.nlink, r.kind) for r in records]


def chunk_rows(chunk: Chunk) -> list[Row]:
    return list(zip(chunk.lines(), chunk.size.tolist(), chunk.gid.tolist(), chunk.mtime.tolist(),
                    chunk.nlink.tolist(), chunk.type.to_pylist()))


# ------------------------------------------------------------------ one block

def check_parse_block(lines: list[bytes]) -> None:
    text = b"".join(lines)
    counts, rows = expected(text)
    for use_threads in (True, False):
        result = parse_block(text, use_threads=use_threads)
        assert (result.lines, result.malformed) == (counts.lines, counts.malformed)
        assert chunk_rows(result.chunk) == rows


@HOSTILE
@given(hostile_lines(Domain.PRESENT, max_lines=20))
def test_parse_block_present_rules(lines: list[bytes]) -> None:
    check_parse_block(lines)


@HOSTILE
@given(hostile_lines(Domain.AMENDED, max_lines=20, long=False))
@example(AMENDED_ONLY)
def test_parse_block_amended_rules(lines: list[bytes]) -> None:
    check_parse_block(lines)


@HOSTILE
@given(hostile_lines(Domain.AMENDED, max_lines=20, long=False), st.integers(0, 40))
def test_odd_lines_on_the_whole_block_lane(lines: list[bytes], clean: int) -> None:
    """When Arrow skips lines or keeps rows with an empty field, the odd lines' text
    comes from Arrow and every line's span from the rows' fields and that text
    (no scan for newlines): rows and spans are the reference's, line by line."""
    ordinary = b"L3RtcC9h" + _TAIL + b"\n"  # a well-formed line the lines are spread among
    block = b"".join([ordinary] * clean + lines + [ordinary] * clean)
    assume(block and b"\r" not in block)  # what the whole-block lane takes
    try:
        result = chunks._parse_whole(block, 11, use_threads=False)
    except chunks._Refused:
        assume(False)
    counts, rows = expected(block)
    assert (result.lines, result.malformed) == (counts.lines, counts.malformed)
    assert chunk_rows(result.chunk) == rows


@pytest.mark.parametrize("blank, whole_lane", [
    ([b"\n"], True),
    ([b"\n", b"\n"], True),
    ([b"\t" * 10 + b"\n"], True),
    ([b"\t" * 10 + b"\n", b"\t" * 10 + b"\n"], True),
    ([b"\n", b"\t" * 10 + b"\n"], False),  # which is which: refused, the masking lane tells
])
def test_blank_lines_on_the_whole_block_lane(blank: list[bytes], whole_lane: bool) -> None:
    """A row whose fields are all empty is an empty line or tabs alone: the block's
    length tells which when they are all of one kind."""
    ordinary = b"L3RtcC9h" + _TAIL + b"\n"
    lines = [ordinary] * 3
    for line in blank:
        lines += [line] + [ordinary] * 3
    block = b"".join(lines)
    counts, rows = expected(block)
    if whole_lane:
        result = chunks._parse_whole(block, 11, use_threads=False)
        assert chunk_rows(result.chunk) == rows
        starts = [len(b"".join(lines[:i])) for i, line in enumerate(lines) if line == ordinary]
        assert result.chunk.spans()[0].tolist() == starts
    else:
        with pytest.raises(chunks._Refused):
            chunks._parse_whole(block, 11, use_threads=False)
    result = parse_block(block, use_threads=False)
    assert (result.lines, result.malformed) == (counts.lines, counts.malformed) == (
        len(lines), len(blank))
    assert chunk_rows(result.chunk) == rows


# ------------------------------------------------------------------ lines across blocks

def check_small_blocks(lines: list[bytes], block_size: int) -> None:
    text = b"".join(lines)
    counts, rows = expected(text)
    with tempfile.TemporaryDirectory() as folder:
        blocks = list(read_blocks(write_gzip(os.path.join(folder, "s.gz"), text), block_size))
    assert b"".join(blocks) == text + (b"\n" if text and not text.endswith(b"\n") else b"")
    results = [parse_block(block) for block in blocks]
    assert sum(r.lines for r in results) == counts.lines
    assert sum(r.malformed for r in results) == counts.malformed
    assert [row for r in results for row in chunk_rows(r.chunk)] == rows


@HOSTILE
@given(hostile_lines(Domain.PRESENT, max_lines=20), st.sampled_from([16, 61, 256, 4096]))
def test_lines_straddling_small_blocks_present_rules(lines: list[bytes], block_size: int) -> None:
    check_small_blocks(lines, block_size)


@HOSTILE
@given(hostile_lines(Domain.AMENDED, max_lines=20, long=False), st.sampled_from([16, 61, 256, 4096]))
@example(AMENDED_ONLY, 16)
def test_lines_straddling_small_blocks_amended_rules(lines: list[bytes], block_size: int) -> None:
    check_small_blocks(lines, block_size)


# ------------------------------------------------------------------ map_chunks

def check_map_chunks(text: bytes, block_size: int) -> None:
    counts, rows = expected(text)
    with tempfile.TemporaryDirectory() as folder:
        path = write_gzip(os.path.join(folder, "20251124_118.dat.gz"), text)
        stats = ReadStats(path)
        found = [row for part in map_chunks(path, chunk_rows, stats=stats, block_size=block_size)
                 for row in part]
    assert (stats.lines, stats.malformed) == (counts.lines, counts.malformed)
    assert found == rows


@HOSTILE
@given(hostile_lines(Domain.PRESENT), st.sampled_from([4096, 65536, BLOCK_SIZE]))
def test_map_chunks_present_rules(lines: list[bytes], block_size: int) -> None:
    check_map_chunks(padded(lines), block_size)


@HOSTILE
@given(hostile_lines(Domain.AMENDED), st.sampled_from([65536, 1 << 20, BLOCK_SIZE]))
@example(AMENDED_ONLY, 65536)
def test_map_chunks_amended_rules(lines: list[bytes], block_size: int) -> None:
    check_map_chunks(padded(lines), block_size)
