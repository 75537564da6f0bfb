"""The plain reference (tests/reference.py) on hand-written cases.

The property tests trust tests/reference.py to state the snapshot rules of
docs/snapshots.md; these cases pin each rule down.  The unquoting answers
were recorded from Go's own ``strconv.Unquote``.
"""

from __future__ import annotations

import base64

import pytest

from tests.reference import (MAX_LINE_BYTES, LineCounts, count_lines, decode_base64, decode_path,
                             inspect_reference, is_failed_snapshot, kept_lines, parse_line,
                             reported, split_fields, split_lines, unquote_go, usage_by_gid,
                             usage_by_owner)

NUMBERS = b"\t100\t501\t1001\t1700000000\t1700000100\t1700000200\tf\t12345\t1\t64768"
B64_LINE = base64.b64encode(b"/lustre/s/p/a b.bam") + NUMBERS
QUOTED_LINE = b'"/lustre/s/p/a b.bam"' + NUMBERS


# ------------------------------------------------------------------ unquoting

@pytest.mark.parametrize(("field", "expected"), [
    (b'""', b""),
    (b'"abc"', b"abc"),
    (b'"a b"', b"a b"),                                   # spaces are not escaped
    (b'"\\a\\b\\f\\n\\r\\t\\v\\\\\\""', b'\x07\x08\x0c\n\r\t\x0b\\"'),
    (b'"\\x41\\xff\\xFf"', b"A\xff\xff"),                 # one byte, either case of hex
    (b'"\\000\\101\\377"', b"\x00A\xff"),                 # octal, up to 377
    (b'"\\u00e9\\U0001F600\\U0010ffff"', b"\xc3\xa9\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"),
    (b'"\\u0000"', b"\x00"),
    (b'"\xc3\xa9\x00\r\t"', b"\xc3\xa9\x00\r\t"),        # other bytes stand for themselves
    (b'"\xff\xfe"', b"\xff\xfe"),                         # even bytes that are not UTF-8
])
def test_quoted_fields_unquote_as_go_does(field: bytes, expected: bytes) -> None:
    assert unquote_go(field) == expected


@pytest.mark.parametrize("field", [
    b'"abc',           # unterminated
    b'abc"',
    b'"',
    b'"abc\\"',        # the last quote is escaped: unterminated
    b"\"\\'\"",        # \' is not an escape inside double quotes
    b'"\\q"', b'"\\e"', b'"\\8"', b'"\\ "',  # not escapes
    b'"\\x4"',         # \x with one digit
    b'"\\x4g"',
    b'"\\400"',        # octal above 377
    b'"\\38"', b'"\\12"',
    b'"\\ud800"', b'"\\uDFFF"',  # surrogates
    b'"\\U00110000"',  # above U+10FFFF
    b'"\\u12"', b'"\\U0001F60"',
    b'"a\nb"',         # a raw newline
    b'"a"b"', b'"a""',  # an unescaped quote inside
    b'"abc"x', b'"abc" ',  # anything after the closing quote
    b"'abc'",
])
def test_bad_quoting_does_not_unquote(field: bytes) -> None:
    assert unquote_go(field) is None
    assert decode_path(field) is None


def test_base64_fields_must_be_padded_standard_base64() -> None:
    assert decode_base64(base64.b64encode(b"/a/\xff")) == b"/a/\xff"
    assert decode_base64(b"QR==") == b"A"  # bits left over in the padding are ignored
    for bad in (b"QQ", b"QQ=", b"====", b"QQ==QQ==", b"L2E*", b"L2E_", b"L2E-", b"Q Q=", b'"QQ=="'):
        assert decode_base64(bad) is None, bad


@pytest.mark.parametrize(("field", "path"), [
    (b'"/a/b/"', b"/a/b"),                  # wrstat writes directories with a trailing /
    (b'"/a//"', b"/a/"),                    # only one is dropped
    (b'"/"', b"/"),                         # the root stays
    (b'"//"', b"/"),
    (b'"/a/b"', b"/a/b"),
    (base64.b64encode(b"/a/b/"), b"/a/b"),  # whatever the encoding
    (base64.b64encode(b"/"), b"/"),
    (b'""', b""),
])
def test_one_trailing_slash_is_dropped(field: bytes, path: bytes) -> None:
    assert decode_path(field) == path


# ------------------------------------------------------------------ lines

def test_fields_of_base64_and_quoted_lines() -> None:
    assert len(split_fields(B64_LINE)) == 11
    assert split_fields(QUOTED_LINE)[0] == b'"/lustre/s/p/a b.bam"'
    spaced = b'"/a b"\t1  2 \x0b3\x0c4 5 6 f 7 8 9\r'
    assert split_fields(spaced) == [b'"/a b"', b"1", b"2", b"3", b"4", b"5", b"6", b"f", b"7",
                                    b"8", b"9"]
    assert split_fields(b'  "/a b"\t1 2') == [b'"/a b"', b"1", b"2"]  # leading blanks skipped
    assert split_fields(b'"/a b" 1 2') == [b'"/a b" 1 2']  # no TAB: one field
    assert split_fields(b'"/a" \t1') == [b'"/a" ', b"1"]  # the field runs to the TAB


def test_well_formed_lines() -> None:
    for line in (B64_LINE, QUOTED_LINE, B64_LINE + b"\t4096", QUOTED_LINE + b"\t0",
                 B64_LINE.replace(b"\t", b" \x0b\x0c ") + b"\r", b"  " + B64_LINE + b"  ",
                 B64_LINE.replace(b"\t100\t", b"\t000000000000000000000000100\t"),
                 B64_LINE.replace(b"\t100\t", b"\t%d\t" % (2**63 - 1)),
                 B64_LINE.replace(b"\t64768", b"\t\x00dev"),  # the dev field is not checked
                 B64_LINE.replace(b"\tf\t", b"\t\xff\t")):     # nor is the type
        assert parse_line(line) is not None, line
    record = parse_line(QUOTED_LINE + b"\t4096")
    assert (record.path, record.size, record.uid, record.gid, record.mtime, record.kind,
            record.inode, record.nlink, record.apparent_size) == (
        b"/lustre/s/p/a b.bam", 100, 501, 1001, 1700000100, b"f", 12345, 1, 4096)
    assert parse_line(B64_LINE).apparent_size is None
    huge_zeros = B64_LINE.replace(b"\t100\t", b"\t" + b"0" * 5000 + b"7\t")
    assert parse_line(huge_zeros).size == 7


@pytest.mark.parametrize("line", [
    b"", b"   ", b"\t\r",
    B64_LINE.replace(b"\t64768", b""),                       # 10 fields
    B64_LINE + b"\t1\t2",                                    # 13 fields
    B64_LINE + b"\tx",                                       # a 12th field that is not a number
    B64_LINE + b"\t%d" % 2**63,
    B64_LINE.replace(b"\t100\t", b"\t%d\t" % 2**63),         # at 2^63
    B64_LINE.replace(b"\t501\t", b"\t%d\t" % 2**64),         # at 2^64
    B64_LINE.replace(b"\t12345\t", b"\t%d\t" % (2**64 + 5)),
    B64_LINE.replace(b"\t1\t", b"\t" + b"9" * 5000 + b"\t"),
    B64_LINE.replace(b"\t100\t", b"\t\xd9\xa1\xd9\xa0\xd9\xa0\t"),  # Arabic-Indic digits
    B64_LINE.replace(b"\t100\t", b"\t\xef\xbc\x91\xef\xbc\x90\t"),  # fullwidth digits
    B64_LINE.replace(b"\t100\t", b"\t+100\t"), B64_LINE.replace(b"\t100\t", b"\t-100\t"),
    B64_LINE.replace(b"\t100\t", b"\t1e2\t"), B64_LINE.replace(b"\t100\t", b"\t0x64\t"),
    B64_LINE.replace(b"\t100\t", b"\t1\x0002\t"),           # NUL is not whitespace
    B64_LINE[:8] + b" " + B64_LINE[8:],                    # a blank inside base64: 12 fields
    b'"/a b\t/c"' + NUMBERS,                               # a TAB inside quotes ends the field
    b'"/a b"' + NUMBERS.replace(b"\t", b" "),              # no TAB after the path: one field
])
def test_malformed_lines(line: bytes) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize("field", [
    b"not*base64", b"QQ", b'"abc', b'"\\q"', b'"\\x4"', b'"\\U00110000"', b'"a"b"', b'"/a" ',
    b'"/a b" 1'])  # the quoted field runs to the TAB, spaces and all
def test_a_path_that_does_not_decode_leaves_the_line_well_formed(field: bytes) -> None:
    line = field + b"\t" + NUMBERS.lstrip(b"\t").replace(b"\t", b" ")
    record = parse_line(line)
    assert record is not None and record.path is None


def test_lines_of_at_most_one_mebibyte() -> None:
    def line_of(length: int) -> bytes:
        padding = length - len(base64.b64encode(b"/")) - len(NUMBERS)
        line = base64.b64encode(b"/" + b"x" * (padding // 4 * 3)) + b" " * (padding % 4) + NUMBERS
        assert len(line) == length
        return line
    assert parse_line(line_of(MAX_LINE_BYTES)) is not None
    assert parse_line(line_of(MAX_LINE_BYTES + 1)) is None
    assert parse_line(line_of(MAX_LINE_BYTES - 1) + b"\r") is not None  # a CR counts, \n does not
    assert parse_line(line_of(MAX_LINE_BYTES) + b"\r") is None


def test_split_lines() -> None:
    assert split_lines(b"") == []
    assert split_lines(b"\n") == [b""]
    assert split_lines(b"a\nb") == [b"a", b"b"]
    assert split_lines(b"a\r\n\nb\rc\n") == [b"a\r", b"", b"b\rc"]


# ------------------------------------------------------------------ failed snapshots

def test_failed_snapshot_rule() -> None:
    assert count_lines([B64_LINE, b"bad", b"", QUOTED_LINE]) == LineCounts(4, 2)
    assert is_failed_snapshot(LineCounts(0, 0))                  # empty
    assert is_failed_snapshot(LineCounts(5, 5))                  # nothing well-formed
    assert not is_failed_snapshot(LineCounts(100, 1))            # exactly 1%
    assert is_failed_snapshot(LineCounts(100, 2))
    assert is_failed_snapshot(LineCounts(99, 1))
    assert not is_failed_snapshot(LineCounts(1, 0))
    assert not is_failed_snapshot(LineCounts(100, 29), 0.29)     # no rounding
    assert is_failed_snapshot(LineCounts(100, 30), 0.29)
    assert not is_failed_snapshot(LineCounts(10, 9), 1.0)
    assert is_failed_snapshot(LineCounts(10, 1), 0.0)
    assert not is_failed_snapshot(LineCounts(10, 0), 0.0)


# ------------------------------------------------------------------ the passes

def line(path: bytes, size: int, uid: int, gid: int, mtime: int, kind: bytes = b"f",
         nlink: int = 1, quoted: bool = False) -> bytes:
    field = b'"' + path + b'"' if quoted else base64.b64encode(path)
    return b"%s\t%d\t%d\t%d\t1\t%d\t1\t%s\t7\t%d\t1" % (field, size, uid, gid, mtime, kind, nlink)


def test_usage_per_gid_and_per_owner() -> None:
    big = 2**63 - 1
    lines = [
        line(b"/a", 10, 501, 1001, 100),
        line(b"/b", 9, 502, 1001, 300, nlink=2),     # 4 bytes each for two links
        line(b"/c", 50, 501, 1001, 200, nlink=0),    # nlink 0 adds nothing but is dated
        line(b"/d", 7, 501, 1001, 10**9),            # after the snapshot time: not dated
        b"not*base64\t5\t501\t1002\t1\t50\t1\tf\t7\t1\t1",  # an undecodable path still counts
        line(b"/e", big, 503, 1003, 10**9),
        line(b"/f", big, 503, 1003, 10**9),          # exact, past 2^64
        line(b"/g", 0, 504, 1004, 10**9),            # nothing used, nothing dated
        b"malformed",
    ]
    usage = usage_by_gid(lines, 1000)
    assert usage == {1001: (21, 300), 1002: (5, 50), 1003: (2 * big, None), 1004: (0, None)}
    assert reported(usage) == {1001: (21, 300), 1002: (5, 50), 1003: (2 * big, None)}
    assert usage_by_owner(lines, 1000) == {
        (501, 1001): (17, 200), (502, 1001): (4, 300), (501, 1002): (5, 50),
        (503, 1003): (2 * big, None), (504, 1004): (0, None)}


def test_inspector_reference_reads_both_encodings_alike() -> None:
    root = "/l/projects"
    paths = [(b"/l/projects/p1/", b"d", 1001), (b"/l/projects/p1/x y/", b"d", 1002),
             (b"/l/projects/p1/x y/f.bam", b"f", 1003), (b"/l/projects/p1/x y/g.vcf.gz/", b"f", 1003),
             (b"l/projects/p1/rel.bam", b"f", 1004)]  # a relative path lies under no root
    filetypes = {"BAM": r"\.bam$", "VCF": r"\.vcf(\.gz)?$"}
    base = [line(p, 1000, 501, gid, 50, kind) for p, kind, gid in paths]
    quoted = [line(p, 1000, 501, gid, 50, kind, quoted=True) for p, kind, gid in paths]
    expected = {
        (b"projects",): {"size": 2000, "files": 2, "mtime": 50, "types": [1000, 1000], "gid": 1003},
        (b"projects", b"p1"): {"size": 2000, "files": 2, "mtime": 50, "types": [1000, 1000],
                               "gid": 1001},
        (b"projects", b"p1", b"x y"): {"size": 2000, "files": 2, "mtime": 50,
                                       "types": [1000, 1000], "gid": 1002},
    }
    assert inspect_reference(base, [root], 2, filetypes, 100) == expected
    assert inspect_reference(quoted, [root], 2, filetypes, 100) == expected


def test_splitter_selection() -> None:
    prefixes = [b"/s/vr/projects"]
    lines = [
        line(b"/s/vr/projects/a", 1, 501, 2001, 5),          # named, under a prefix: kept
        line(b"/s/other/a", 1, 501, 2001, 5),                # named, elsewhere
        b"not*base64\t1\t501\t1001\t1\t1\t1\tf\t7\t1\t1",     # humgen: kept whatever its path
        b"not*base64\t1\t501\t2001\t1\t1\t1\tf\t7\t1\t1",     # named, undecodable path
        line(b"/s/vr/projects/b", 1, 501, 99999, 5),         # unknown gid
        line(b"/s/vr/projects/", 1, 501, 2002, 5, kind=b"d", quoted=True),  # the prefix itself
        line(b"/s/vr/projects/c", 1, 501, 1001, 5) + b"\r",  # kept with its CR
        b"malformed",
    ]
    assert kept_lines(lines, [1001], [2001, 2002], prefixes) == {
        2001: [lines[0]], 1001: [lines[2], lines[6]], 2002: [lines[5]]}
