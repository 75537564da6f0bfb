"""The snapshot reader: well-formed/malformed rules, both parsing lanes, failures."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import random

import numpy as np
import pyarrow as pa
import pytest

from tests.reference import parse_line, read_lines
from utils.snapshots import chunks, discovery, reader
from utils.common.errors import SnapshotError
from utils.snapshots.chunks import parse_block
from utils.snapshots.reader import iter_rows
from utils.demo.synthetic import MALFORMED_KINDS, SyntheticOptions, format_line, synthetic_lines, write_snapshot

GOOD = format_line(b"/lustre/scratch118/humgen/projects/p1/f.bam", 1000, 501, 1001, 1700000000,
                   1700000100, 1700000200, "f", 12345, 1, 64768)
GOOD_ROW = (b"L2x1c3RyZS9zY3JhdGNoMTE4L2h1bWdlbi9wcm9qZWN0cy9wMS9mLmJhbQ==", 1000, 1001,
            1700000100, 1, b"f")


def rows_of(block: bytes) -> list[tuple]:
    return list(iter_rows([parse_block(block).chunk]))


def test_well_formed_line_becomes_one_row() -> None:
    result = parse_block(GOOD)
    assert (result.lines, result.malformed) == (1, 0)
    assert rows_of(GOOD) == [GOOD_ROW]
    assert result.chunk.lines() == [GOOD.rstrip(b"\n")]


@pytest.mark.parametrize("line", [
    GOOD.replace(b"\t", b" "),                      # spaces instead of tabs
    GOOD.replace(b"\t", b" \t  "),                  # runs of mixed whitespace
    b"  " + GOOD[:-1] + b"  \n",                    # leading and trailing blanks
    GOOD[:-1] + b"\r\n",                            # CRLF line end
    GOOD.replace(b"\t1000\t", b"\t\t1000\t\t"),     # doubled tabs are one separator
    GOOD.replace(b"\t1000\t", b"\t0001000\t"),      # leading zeros
    GOOD[:-1],                                      # no final newline
    GOOD.replace(b"\t64768", b"\t64\x01768"),           # a control byte inside a field
])
def test_whitespace_variants_are_well_formed(line: bytes) -> None:
    result = parse_block(line)
    assert (result.lines, result.malformed) == (1, 0)
    assert rows_of(line) == [GOOD_ROW]
    block = GOOD + line + (b"" if line.endswith(b"\n") else b"\n") + GOOD[:-1]
    assert parse_block(block).chunk.lines() == [GOOD[:-1], line.removesuffix(b"\n"), GOOD[:-1]]


@pytest.mark.parametrize("line", [
    b"\n", b"   \n", b"\t\n",
    GOOD.replace(b"\t64768", b""),                        # 10 fields
    GOOD.replace(b"\t64768", b"\t64768\textra"),          # 12 fields
    GOOD.replace(b"\t1000\t", b"\t-1000\t"),              # negative size
    GOOD.replace(b"\t1000\t", b"\t+1000\t"),              # signed size
    GOOD.replace(b"\t1000\t", b"\t10.5\t"),               # not an integer
    GOOD.replace(b"\t1000\t", b"\t1e3\t"),
    GOOD.replace(b"\t501\t", b"\tabc\t"),                 # uid not numeric
    GOOD.replace(b"\t12345\t", b"\t0x10\t"),              # inode not decimal
    GOOD.replace(b"\t1000\t", b"\t0X3E8\t"),              # size not decimal
    GOOD.replace(b"\t1700000000\t", b"\t\xd9\xa1\t"),    # non-ASCII digit
    GOOD.replace(b"\t1\t64768", b"\t\t64768"),            # empty nlink: 10 fields
    GOOD.replace(b"\tf\t", b"\tf x\t"),                   # a space inside a text field: 12 fields
    GOOD.replace(b"\t1000\t", b"\t10 00\t"),              # a space inside a number
    GOOD.replace(b"\t1000\t", b"\t1000\x0b5\t"),          # vertical tab splits a field
    GOOD.replace(b"\t501\t", b"\t501\r2\t"),              # lone CR splits a field
    GOOD[:-1] + b"\r" + GOOD,                             # lone CR joins two lines: 22 fields
    GOOD.replace(b"\t64768", b"\t64\x01 7x68"),         # a control byte, a space: a 12th field, not a number
    GOOD.replace(b"\t1000\t", b"\t18446744073709551616\t"),  # does not fit 64 bits
])
def test_malformed_lines_are_counted_and_skipped(line: bytes) -> None:
    assert parse_line(line.rstrip(b"\n")) is None or b"18446744073709551616" in line
    block = GOOD + line + GOOD
    result = parse_block(block)
    assert (result.lines, result.malformed) == (3, 1)
    assert rows_of(block) == [GOOD_ROW, GOOD_ROW]
    assert result.chunk.lines() == [GOOD.rstrip(b"\n")] * 2


def test_largest_values_below_2_63_are_accepted() -> None:
    top = 2**63 - 1
    line = format_line(b"/x", top, top, top, top, top, top, "f", top, top, top)
    assert rows_of(line) == [(b"L3g=", top, top, top, top, b"f")]
    padded = line.replace(b"\t%d\t" % top, b"\t0000000%d\t" % top, 1)
    assert rows_of(padded) == [(b"L3g=", top, top, top, top, b"f")]


@pytest.mark.parametrize("value", [2**63, 2**64 - 1, 2**64, 10**30])
@pytest.mark.parametrize("field", range(7))
def test_numbers_from_2_63_are_malformed(value: int, field: int) -> None:
    numbers = [1, 2, 3, 4, 5, 6, 7]
    numbers[field] = value
    size, uid, gid, atime, mtime, ctime, inode = numbers
    line = format_line(b"/x", size, uid, gid, atime, mtime, ctime, "f", inode, 1, 64768)
    block = GOOD + line + GOOD
    result = parse_block(block)
    assert (result.lines, result.malformed) == (3, 1)
    assert rows_of(block) == [GOOD_ROW, GOOD_ROW]


def test_generator_malformed_kinds_are_all_malformed() -> None:
    rng = random.Random(3)
    for make in MALFORMED_KINDS:
        for _ in range(20):
            bad = make(GOOD, rng)
            assert parse_line(bad.rstrip(b"\n")) is None, bad
            assert parse_block(bad).malformed == 1, bad


@pytest.mark.parametrize("options", [
    SyntheticOptions(seed=5, lines=30_000),
    SyntheticOptions(seed=6, lines=30_000, malformed_fraction=0.01, unusual_fraction=0.01,
                     bad_base64_fraction=0.01),
])
def test_parse_block_matches_reference_parser(options: SyntheticOptions) -> None:
    lines = list(synthetic_lines("/lustre/scratch118", options))
    block = b"".join(lines)
    result = parse_block(block)
    expected = [parse_line(line.rstrip(b"\n")) for line in lines]
    kept = [r for r in expected if r is not None]
    assert result.lines == len(lines)
    assert result.malformed == len(lines) - len(kept)
    assert rows_of(block) == [(r.path_b64, r.size, r.gid, r.mtime, r.nlink, r.kind)
                              for r in kept]
    assert result.chunk.lines() == [r.raw for r in kept]


def test_odd_lines_in_a_large_block_cost_only_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = list(synthetic_lines("/lustre/scratch118", SyntheticOptions(seed=7, lines=20_000)))
    lines[12_345] = b"bad line with enough bytes to be judged\n"
    lines[12_346] = lines[12_346].replace(b"\t", b" ", 1)  # well-formed, not clean
    exact_lines: list[int] = []
    real_exact = chunks._parse_exact
    monkeypatch.setattr(chunks, "_parse_exact", lambda lines, numbers, block, spans: exact_lines.extend(
        numbers.tolist()) or real_exact(lines, numbers, block, spans))
    block = b"".join(lines)
    result = parse_block(block)
    assert result.malformed == 1 and result.lines == 20_000
    assert len(exact_lines) == 2  # only the two odd lines took the exact lane
    assert len(result.chunk) == 19_999
    assert result.chunk.lines() == [line[:-1] for i, line in enumerate(lines) if i != 12_345]


@pytest.mark.parametrize("good_lines", [0, 5, 700])
def test_blocks_of_short_lines_are_judged_by_their_length(monkeypatch: pytest.MonkeyPatch,
                                                          good_lines: int) -> None:
    """Blank lines by the hundred thousand take the masking lane, which judges them by
    their length: a block that starts with them is never tokenized whole, and one that
    has them further on is refused as soon as Arrow has counted its rows."""
    monkeypatch.setattr(chunks, "_rows_with_empty_fields", _must_not_run)
    block = GOOD * good_lines + b"\n" * 300_000 + GOOD
    result = parse_block(block, use_threads=False)
    assert (result.lines, result.malformed) == (good_lines + 300_001, 300_000)
    assert result.chunk.lines() == [GOOD[:-1]] * (good_lines + 1)


def _must_not_run(*args: object) -> None:
    raise AssertionError("the whole-block lane went on with a block of short lines")


def write_gz(path: str, data: bytes) -> str:
    with gzip.open(path, "wb") as handle:
        handle.write(data)
    return path


def test_blocks_are_line_aligned_whatever_the_block_size(tmp_path) -> None:
    lines = list(synthetic_lines("/m", SyntheticOptions(seed=8, lines=3000)))
    path = write_gz(str(tmp_path / "20250101_1.dat.gz"), b"".join(lines))
    for block_size in (7, 100, 4096, 1 << 20):
        blocks = list(reader.read_blocks(path, block_size))
        assert b"".join(blocks) == b"".join(lines)
        assert all(block.endswith(b"\n") for block in blocks)


def test_a_last_line_without_newline_is_given_one(tmp_path) -> None:
    lines = list(synthetic_lines("/m", SyntheticOptions(seed=8, lines=300)))
    path = write_gz(str(tmp_path / "20250101_1.dat.gz"), b"".join(lines)[:-1])
    for block_size in (100, 1 << 20):
        blocks = list(reader.read_blocks(path, block_size))
        assert b"".join(blocks) == b"".join(lines)


def test_map_chunks_counts_and_logs(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    options = SyntheticOptions(seed=9, lines=5000, malformed_fraction=0.02)
    path = str(tmp_path / "20250101_118.dat.gz")
    write_snapshot(path, synthetic_lines("/m", options))
    reference = read_lines(path)
    expected_malformed = sum(parse_line(line) is None for line in reference)
    stats = reader.ReadStats(path)
    with caplog.at_level(logging.INFO, logger="utils.snapshots.reader"):
        sizes = list(reader.map_chunks(path, lambda chunk: int(chunk.size.sum()), stats=stats,
                                       max_malformed_fraction=0.05))
    assert (stats.lines, stats.malformed) == (5000, expected_malformed)
    assert sum(sizes) == sum(r.size for r in map(parse_line, reference) if r)
    skipped = [r for r in caplog.records if r.getMessage()
               == f"skipped {expected_malformed} malformed lines of 5000 in {path}"]
    assert [r.levelno for r in skipped] == [logging.WARNING]


def test_last_line_without_newline_is_read(tmp_path) -> None:
    path = write_gz(str(tmp_path / "20250101_1.dat.gz"), GOOD + GOOD[:-1])
    stats = reader.ReadStats(path)
    assert len(list(iter_rows(reader.read_chunks(path, stats=stats)))) == 2
    assert stats.lines == 2


def test_truncated_snapshot_is_a_failed_snapshot(tmp_path) -> None:
    path = str(tmp_path / "20250101_118.dat.gz")
    write_snapshot(path, synthetic_lines("/m", SyntheticOptions(seed=1, lines=20_000)),
                   truncate_bytes=1000)
    with pytest.raises(SnapshotError, match=f"failed snapshot {path}: truncated"):
        list(reader.read_chunks(path))


def test_corrupt_snapshot_is_a_failed_snapshot(tmp_path) -> None:
    path = str(tmp_path / "20250101_118.dat.gz")
    write_snapshot(path, synthetic_lines("/m", SyntheticOptions(seed=1, lines=20_000)))
    with open(path, "r+b") as handle:  # flip bytes in the CRC trailer
        handle.seek(-8, os.SEEK_END)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(SnapshotError, match=f"failed snapshot {path}"):
        list(reader.read_chunks(path))


def test_damaged_deflate_data_is_a_failed_snapshot(tmp_path) -> None:
    """A flipped byte in the compressed data itself: whichever decompressor reads it,
    its own error becomes a failed snapshot naming the file (ISA-L's error is no
    OSError and could not travel back from a pool worker)."""
    path = tmp_path / "20250101_118.dat.gz"
    data = bytearray(gzip.compress(b"".join(b"%d\n" % i for i in range(3000)), 6, mtime=0))
    data[10] ^= 0xFF  # the first byte after the 10-byte gzip header
    path.write_bytes(bytes(data))
    for fast in (True, False):
        with pytest.raises(SnapshotError, match=f"failed snapshot {path}: .*(distance|invalid)"):
            list(reader.read_blocks(str(path), fast=fast))


def test_not_gzip_is_a_failed_snapshot(tmp_path) -> None:
    path = tmp_path / "20250101_118.dat.gz"
    path.write_bytes(b"plain text, not gzip\n" * 100)
    with pytest.raises(SnapshotError, match=str(path)):
        list(reader.read_chunks(str(path)))


def test_missing_snapshot_is_a_failed_snapshot(tmp_path) -> None:
    with pytest.raises(SnapshotError, match="missing"):
        list(reader.read_chunks(str(tmp_path / "missing.dat.gz")))


def test_snapshot_names_and_discovery(tmp_path) -> None:
    assert discovery.snapshot_filename(dt.date(2025, 3, 4), 118) == "20250304_118.dat.gz"
    assert discovery.parse_snapshot_filename("20250304_118.dat.gz") == (dt.date(2025, 3, 4), 118)
    for bad in ("20250304_118.dat", "2025034_118.dat.gz", "20251304_118.dat.gz", "x_1.dat.gz"):
        assert discovery.parse_snapshot_filename(bad) is None
    today = dt.date(2025, 3, 10)
    assert discovery.candidate_dates(today, 3) == [today, dt.date(2025, 3, 9), dt.date(2025, 3, 8)]
    for name in ("20250309_118.dat.gz", "20250308_118.dat.gz", "20250308_119.dat.gz"):
        write_gz(str(tmp_path / name), GOOD)
    os.utime(tmp_path / "20250309_118.dat.gz", (1741500000, 1741500000))
    assert discovery.complete_set(str(tmp_path), [118, 119], dt.date(2025, 3, 9)) is None
    assert discovery.complete_set(str(tmp_path), [118, 119], dt.date(2025, 3, 8)) == {
        118: str(tmp_path / "20250308_118.dat.gz"), 119: str(tmp_path / "20250308_119.dat.gz")}
    newest = discovery.newest_snapshot(str(tmp_path), 118, today, 10)
    assert newest == discovery.Snapshot(str(tmp_path / "20250309_118.dat.gz"), 118,
                                      dt.date(2025, 3, 9), 1741500000.0)
    assert discovery.newest_snapshot(str(tmp_path), 118, today, 1) is None
    assert discovery.newest_snapshot(str(tmp_path), 120, today, 10) is None


def test_take_rows_from_pieces_equals_take_from_the_whole() -> None:
    pieces = [pa.array([b"a", b"b"], pa.binary()), pa.array([], pa.binary()),
              pa.array([b"c", b"d", b"e"], pa.binary())]
    chunked = pa.chunked_array(pieces, type=pa.binary())
    for rows in ([], [0], [1, 2, 4], [0, 1, 2, 3, 4], [3]):
        taken = chunks.take_rows(chunked, np.array(rows, dtype=np.int64))
        assert taken.to_pylist() == [b"abcde"[i:i + 1] for i in rows]
    assert chunks.take_rows(pieces[0], np.array([1])).to_pylist() == [b"b"]


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 64, 511, 512, 1001, 4095, 4096, 4097, 5000,
                                    8197, 70_001])
def test_high_bytes_are_found_wherever_they_lie(length: int) -> None:
    """High bytes, found stretch by stretch, at any offset (unaligned, in the tail too)."""
    rng = np.random.default_rng(length)
    for density in (0.2, 0.001):
        text = rng.integers(0, 256, length + 3, dtype=np.uint8)
        text[rng.random(length + 3) >= density] = ord("7")
        view = np.frombuffer(text.tobytes(), dtype=np.uint8)[3:]  # not 8-byte aligned
        assert chunks._high_bytes(view).tolist() == np.flatnonzero(view >= 0x80).tolist()
    every_byte = np.arange(256, dtype=np.uint8).repeat(33)  # each byte value at many offsets
    for shift in range(8):
        text = np.roll(every_byte, shift)
        assert chunks._high_bytes(text).tolist() == np.flatnonzero(text >= 0x80).tolist()


def test_bad_numbers_are_the_values_that_are_not_digits_below_2_to_63() -> None:
    values = [b"0", b"123", b"", b"12ab", b"-5", b"+42", b"1.5e9", b"\xff\xfe", b"/", b":",
              b"9" * 18, b"9" * 19, b"9223372036854775807", b"9223372036854775808", b"0" * 30]
    array = pa.array(values, type=pa.binary())
    expected = [row for row, value in enumerate(values)
                if value and not (value.isdigit() and int(value) < 2**63)]
    assert chunks._bad_numbers(array, may_be_long=True).tolist() == expected
    assert chunks._bad_numbers(array.slice(3), may_be_long=True).tolist() == [
        row - 3 for row in expected if row >= 3]


