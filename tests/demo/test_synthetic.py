"""The synthetic generator: its pinned default output, Go quoting, the three shapes, file names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import hashlib
import re

import pytest
from hypothesis import given, settings, strategies as st

from tests.reference import parse_line, unquote_go
from utils.demo.goquote import go_quote
from utils.demo.synthetic import (ALL_ODD_NAMES, EXTRA_ODD_NAMES, SHAPES, SyntheticOptions,
                                  format_line, snapshot_name, snapshot_pattern, synthetic_lines)

MOUNT = "/lustre/scratch118"

# Recorded before the shapes were added: existing callers (tests, bench, demo) get the same bytes.
DEFAULT_OUTPUT_SHA256 = [
    (SyntheticOptions(seed=0, lines=5000),
     "db503a768a2021f1bc39e98838b392dde03d46adee4cab915ebb00e792eaac85"),
    (SyntheticOptions(seed=6, lines=5000, malformed_fraction=0.05, unusual_fraction=0.05,
                      bad_base64_fraction=0.05),
     "8c0fc2f4b4436d7e9d8e9ea8f5e3140bae4dcca0070eb3e5ad0132d3c1fb0c97"),
    (SyntheticOptions(seed=3, lines=3000, oddities=False),
     "e8ec61a436bc39e1c068b8d126131c00723ce34ae7b17ead4c94f75aac3f79d7"),
]


@pytest.mark.parametrize(("options", "digest"), DEFAULT_OUTPUT_SHA256)
def test_default_output_is_unchanged(options: SyntheticOptions, digest: str) -> None:
    assert hashlib.sha256(b"".join(synthetic_lines(MOUNT, options))).hexdigest() == digest


# ------------------------------------------------------------------ Go quoting

# Answers recorded from Go's fmt.Sprintf("%q", ...).
GO_QUOTED = [
    (b"", b'""'),
    (b"plain/path name.bam", b'"plain/path name.bam"'),
    (b"tab\there", b'"tab\\there"'),
    (b"new\nline", b'"new\\nline"'),
    (b"cr\rlf", b'"cr\\rlf"'),
    (b'q"uote', b'"q\\"uote"'),
    (b"back\\slash", b'"back\\\\slash"'),
    (b"apos'trophe", b'"apos\'trophe"'),
    (b"\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f", b'"\\x00\\x01\\a\\b\\v\\f\\x1b\\x1f\\x7f"'),
    (b"\xff\xfe", b'"\\xff\\xfe"'),
    (b"caf\xc3\xa9", b'"caf\xc3\xa9"'),
    (b"\xe9t\xe9", b'"\\xe9t\\xe9"'),
    (b"\xf0\x9f\x98\x80", b'"\xf0\x9f\x98\x80"'),
    (b"\xf0\xa0\x9c\x8e", b'"\xf0\xa0\x9c\x8e"'),
    (b"\xc2\xa0\xc2\x85\xe2\x80\x8b\xe2\x80\xa8\xef\xbb\xbf\xe3\x80\x80",
     b'"\\u00a0\\u0085\\u200b\\u2028\\ufeff\\u3000"'),
    (b"\xee\x80\x80\xf3\xb0\x80\x80\xf4\x8f\xbf\xbf", b'"\\ue000\\U000f0000\\U0010ffff"'),
    (b"\xed\xa0\x80", b'"\\xed\\xa0\\x80"'),          # an encoded surrogate
    (b"\xc0\xaf", b'"\\xc0\\xaf"'),                    # an overlong form
    (b"\xf4\x90\x80\x80", b'"\\xf4\\x90\\x80\\x80"'),  # above U+10FFFF
    (b"\xe2\x82", b'"\\xe2\\x82"'),                    # truncated
    (b"\xef\xbf\xbd", b'"\xef\xbf\xbd"'),              # U+FFFD itself is printable
    (b"e\xcc\x81", b'"e\xcc\x81"'),                    # a combining mark
    (b"\x80", b'"\\x80"'),
]


@pytest.mark.parametrize(("raw", "quoted"), GO_QUOTED)
def test_go_quote_matches_go(raw: bytes, quoted: bytes) -> None:
    assert go_quote(raw) == quoted
    assert unquote_go(quoted) == raw


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.binary(max_size=40), st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_go_quote_round_trips_and_never_leaves_a_raw_tab_or_newline(raw: bytes) -> None:
    quoted = go_quote(raw)
    assert b"\t" not in quoted and b"\n" not in quoted
    assert unquote_go(quoted) == raw


# ------------------------------------------------------------------ the three shapes

ODD = SyntheticOptions(seed=4, lines=6000, malformed_fraction=0.02, bad_base64_fraction=0.02,
                       unusual_fraction=0.02, odd_names=ALL_ODD_NAMES, odd_name_fraction=0.05,
                       odd_directories=True)


def shaped(options: SyntheticOptions, shape: str) -> list[bytes]:
    return list(synthetic_lines(MOUNT, dataclasses.replace(options, shape=shape)))


def test_wrstat5_lines_are_mpistat_lines() -> None:
    assert shaped(ODD, "wrstat5") == shaped(ODD, "mpistat")


def entry(raw: bytes) -> tuple | None:
    record = parse_line(raw.rstrip(b"\n"))
    if record is None:
        return None
    return (record.path, record.size, record.uid, record.gid, record.atime, record.mtime,
            record.ctime, record.kind, record.inode, record.nlink, record.dev)


def test_wrstat6_lines_describe_the_same_entries() -> None:
    mpistat, wrstat6 = shaped(ODD, "mpistat"), shaped(ODD, "wrstat6")
    assert len(mpistat) == len(wrstat6) == ODD.lines
    assert [entry(line) for line in wrstat6] == [entry(line) for line in mpistat]
    records = [parse_line(line.rstrip(b"\n")) for line in wrstat6]
    good = [r for r in records if r is not None]
    assert 0 < len(records) - len(good) < 0.05 * len(records)  # malformed lines, as asked
    assert all(r.path_field.startswith(b'"') and r.apparent_size is not None for r in good)
    assert any(r.apparent_size != r.size for r in good)
    assert sum(r.path is None for r in good) > 0  # paths that do not unquote, as asked
    directories = [r for r in good if r.kind == b"d" and r.path is not None]
    assert directories and all(r.path_field.endswith(b'/"') for r in directories)
    paths = b"\n".join(r.path for r in good if r.path is not None)
    for name in EXTRA_ODD_NAMES:  # every hard name, in files or directories
        assert name in paths, name
    assert any(b"\\" in r.path_field and r.kind == b"d" for r in good)  # escaped directory names


@pytest.mark.parametrize("shape", SHAPES)
def test_every_variant_keeps_its_kind_in_every_shape(shape: str) -> None:
    malformed = SyntheticOptions(seed=5, lines=600, malformed_fraction=1.0, shape=shape)
    assert all(parse_line(line.rstrip(b"\n")) is None
               for line in synthetic_lines(MOUNT, malformed))
    undecodable = SyntheticOptions(seed=5, lines=600, bad_base64_fraction=1.0, shape=shape)
    records = [parse_line(line.rstrip(b"\n")) for line in synthetic_lines(MOUNT, undecodable)]
    assert all(r is not None and r.path is None for r in records)
    unusual = SyntheticOptions(seed=5, lines=600, unusual_fraction=1.0, shape=shape)
    lines = list(synthetic_lines(MOUNT, unusual))
    assert all(parse_line(line.rstrip(b"\n")) is not None for line in lines)
    assert any(line.endswith(b"\r\n") for line in lines) and any(b"  " in line for line in lines)


def test_format_line_in_each_shape() -> None:
    values = (10, 501, 1001, 1, 2, 3)
    assert format_line(b"/a b/", *values, "d", 7, 2, 9) == b"L2EgYi8=\t10\t501\t1001\t1\t2\t3\td\t7\t2\t9\n"
    assert format_line(b"/a b", *values, "d", 7, 2, 9, shape="wrstat6") == \
        b'"/a b/"\t10\t501\t1001\t1\t2\t3\td\t7\t2\t9\t10\n'
    assert format_line(b"/a\tb", *values, "f", 7, 1, 9, " ", "\r\n", shape="wrstat6",
                       apparent_size=4096) == b'"/a\\tb"\t10 501 1001 1 2 3 f 7 1 9 4096\r\n'
    with pytest.raises(ValueError, match="wrstat7"):
        SyntheticOptions(shape="wrstat7")


# ------------------------------------------------------------------ file names

def test_file_names_and_patterns() -> None:
    date = dt.date(2025, 11, 24)
    assert snapshot_name("mpistat", date, 118) == "20251124_118.dat.gz"
    assert snapshot_pattern("mpistat") == "{date}_{volume}.dat.gz"
    wrstat = snapshot_name("wrstat6", date, 118)
    assert re.fullmatch(r"20251124_scratch118\.[0-9a-f]{20}\.[0-9a-f]{20}\.stats\.gz", wrstat)
    assert snapshot_name("wrstat5", date, 118) == wrstat
    assert snapshot_name("wrstat5", date, 118, "lustre-s118") != wrstat
    for shape in SHAPES:
        def glob(volume: int) -> str:
            return snapshot_pattern(shape).replace("{date}", "20251124").replace("{volume}",
                                                                                str(volume))
        assert fnmatch.fnmatchcase(snapshot_name(shape, date, 118), glob(118))
        assert not fnmatch.fnmatchcase(snapshot_name(shape, date, 118), glob(11))
        assert not fnmatch.fnmatchcase(snapshot_name(shape, date, 11), glob(118))
