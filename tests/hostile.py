"""Hypothesis strategies for hostile snapshot text, and what the property tests share.

A hostile snapshot is a list of lines, each drawn from a mix of well-formed
lines (both path encodings, 11 or 12 fields, odd separators and line ends),
nearly well-formed ones (a field too many or too few, a number out of
range, digits that are not ASCII, a path that does not decode), random
bytes, blank lines and, rarely, very long lines.  Expected results always
come from tests/reference.py.

Two domains of lines:

* ``Domain.PRESENT``: what the reader handled before the rules of
  docs/snapshots.md were amended — base64 paths only, 11 fields, numbers
  below 2**63 (or 2**64 and above in the size, gid, mtime and nlink
  fields), no trailing ``/``, lines up to 64 KiB, and sums that stay below
  2**64.  The tests on it must pass today.
* ``Domain.AMENDED``: everything the amended rules cover (quoted paths, a
  12th field, numbers from 2**63, trailing ``/``, lines up to 4 MiB, sums
  past 2**64).
"""

from __future__ import annotations

import base64
import enum
import gzip
import math
import os
from typing import Sequence

from hypothesis import HealthCheck, settings, strategies as st

from tests.reference import MAX_LINE_BYTES, count_lines, split_lines
from utils.demo.goquote import go_quote
from utils.demo.synthetic import SyntheticOptions, synthetic_lines

SNAPSHOT_TIME = 1_764_000_000
MOUNT = b"/lustre/scratch118"
ROOTS = ["/lustre/scratch118/humgen/projects", "/lustre/scratch118/realdata/mdt[0-9]/projects"]
ANY_GROUP_PREFIXES = ("/lustre/scratch118/vr/projects", "/lustre/scratch118/humgen/projects/p2")
HUMGEN = {1001: "hgi", 1002: "mueller-lab"}
NAMED = {2001: "ops", 2002: "shared-dev"}  # posixGroup names of non-humgen gids
GIDS = (1001, 1002, 2001, 2002, 99999, 0, 4242)
UIDS = (0, 501, 502)

# Settings for every hostile property test: no deadline (files are written),
# no example database (the suite must not leave files behind), a modest number
# of examples; LURGE_FUZZ_EXAMPLES=5000 makes a deeper (slower) search.
HOSTILE = settings(deadline=None, database=None,
                   max_examples=int(os.environ.get("LURGE_FUZZ_EXAMPLES", "40")),
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.large_base_example])


class Domain(enum.Enum):
    PRESENT = "present"
    AMENDED = "amended"


# ------------------------------------------------------------------ paths

_NAMES = (b"p1", b"p2", b"p3", b"users", b"USERS", b"sub", b"ab1", b"a b", b"x\ty", b"n\nl",
          b"c\rr", b"\xff\xfe", "😀".encode(), b'q"t', b"b\\s", b"f.bam", b"g.VCF.gz", b"h.cram",
          b"i.BED", b"j.sam.gz", b"k.txt", b".", b"..", b"\x00nul", b"-")
_PARENTS = (MOUNT + b"/humgen/projects", MOUNT + b"/realdata/mdt0/projects",
            MOUNT + b"/realdata/mdt7/projects", MOUNT + b"/realdata/mdtX/projects",
            MOUNT + b"/vr/projects", MOUNT + b"/humgen/projects/p2", MOUNT, b"/elsewhere", b"",
            b"lustre/scratch118/humgen/projects")  # relative: under no root


@st.composite
def paths(draw: st.DrawFn, domain: Domain) -> bytes:
    """A path, usually under a root or a special prefix; components may hold any byte but ``/``."""
    name = st.one_of(st.sampled_from(_NAMES),
                     st.binary(min_size=1, max_size=5).filter(lambda b: b"/" not in b))
    parts = draw(st.lists(name, max_size=5))
    if parts and draw(st.integers(0, 9)) == 0:  # an empty component below the parent
        parts.insert(draw(st.integers(0, len(parts) - 1)), b"")
    path = draw(st.sampled_from(_PARENTS)) + b"".join(b"/" + part for part in parts)
    if domain is Domain.AMENDED and draw(st.integers(0, 3)) == 0:
        path += b"/"
    return path or b"/"


# A quoted field that does not unquote, and why.
_BAD_QUOTED = (b'"/a', b'"/a\\"', b"\"/a\\'\"", b'"/a\\q"', b'"/a\\x4"', b'"/a\\x4g"',
               b'"/a\\400"', b'"/a\\38"', b'"/a\\ud800"', b'"/a\\U00110000"', b'"/a"b"',
               b'"/a" x', b'"/a"" ', b'"/a\\u12"')


@st.composite
def path_fields(draw: st.DrawFn, domain: Domain) -> bytes:
    """The path field of a line: base64 or (amended) quoted, sometimes damaged."""
    path = draw(paths(domain))
    quoted = domain is Domain.AMENDED and draw(st.booleans())
    roll = draw(st.integers(0, 19))
    if quoted:
        field = go_quote(path)
        if roll == 0:
            return draw(st.sampled_from(_BAD_QUOTED))
        if roll == 1:  # a raw byte that Go would have escaped, or an escape Go would not write
            raw = draw(st.sampled_from([b"\xff", b"\x00", b"\r", b" ", b"\\101", b"\\u00e9",
                                        b"\\U0001F600", b"\\x2F", b"\\/"]))
            return field[:-1] + raw + b'"'
        return field
    field = base64.b64encode(path)
    if roll == 0:  # not padded standard base64
        return draw(st.sampled_from([field.rstrip(b"="), field + b"=", field[:-1] + b"*",
                                     field.replace(b"+", b"-").replace(b"/", b"_") + b"-_",
                                     b"=" + field, field[:2] + b"=" + field[3:], field + b"QQ=="]))
    return field


# ------------------------------------------------------------------ numbers

def _digits(value: int, zeros: int) -> bytes:
    return b"0" * zeros + str(value).encode()


_NOT_NUMBERS = (b"-1", b"+1", b"1.5", b"1e3", b"0x1f", b"\xd9\xa3\xd9\xa1",  # Arabic-Indic
                b"\xef\xbc\x93",  # fullwidth
                b"\xe0\xa5\xa7",  # Devanagari
                b"12a", b"\xff", b"\x00", b"one", b"1_000")


@st.composite
def numbers(draw: st.DrawFn, domain: Domain, wide: bool, small: bool = False) -> bytes:
    """A numeric field: usually a number below 2**63, sometimes not a number at all.

    ``wide``: the field may hold 2**64 or more in the present domain (the
    current reader checks the fields it keeps).  ``small``: stays below 2**56
    in the present domain, so that sums of a file's sizes fit 64 bits.
    """
    roll = draw(st.integers(0, 29))
    if roll == 0:
        return draw(st.sampled_from(_NOT_NUMBERS))
    if roll == 1 and (wide or domain is Domain.AMENDED):
        return str(draw(st.sampled_from([2**64, 2**64 + 1, 10**25, 2**65]))).encode()
    if roll == 2 and domain is Domain.AMENDED:
        return str(draw(st.sampled_from([2**63, 2**63 + 1, 2**64 - 1]))).encode()
    top = 2**56 if small and domain is Domain.PRESENT else 2**63 - 1
    value = draw(st.one_of(st.integers(0, 5000), st.integers(0, top), st.sampled_from([0, 1, top])))
    return _digits(value, draw(st.sampled_from([0, 0, 0, 1, 25])))


@st.composite
def times(draw: st.DrawFn, domain: Domain, wide: bool) -> bytes:
    """Around the snapshot time (before, at, after), or any number."""
    near = st.integers(SNAPSHOT_TIME - 400 * 86400, SNAPSHOT_TIME + 3)
    if draw(st.integers(0, 3)):
        return str(draw(near)).encode()
    return draw(numbers(domain, wide=wide))


# ------------------------------------------------------------------ lines

_SEPARATORS = (b"\t", b"\t", b"\t", b" ", b"  ", b"\t\t", b"\x0b", b"\x0c", b" \t", b"\r", b"\t \x0c")
_ENDINGS = (b"\n", b"\n", b"\n", b"\r\n", b"\r\r\n", b" \n")


@st.composite
def record_lines(draw: st.DrawFn, domain: Domain) -> bytes:
    """A line built from fields: well-formed, or nearly so."""
    fields = [
        draw(path_fields(domain)),
        draw(numbers(domain, wide=True, small=True)),                       # size
        str(draw(st.sampled_from(UIDS))).encode() if draw(st.integers(0, 5)) else
        draw(numbers(domain, wide=False)),                                  # uid
        str(draw(st.sampled_from(GIDS))).encode() if draw(st.integers(0, 5)) else
        draw(numbers(domain, wide=True)),                                   # gid
        draw(times(domain, wide=False)),                                    # atime
        draw(times(domain, wide=True)),                                     # mtime
        draw(times(domain, wide=False)),                                    # ctime
        draw(st.sampled_from([b"f", b"f", b"f", b"d", b"d", b"l", b"X", b"\xff", b"ff"])),
        draw(numbers(domain, wide=False)),                                  # inode
        draw(st.sampled_from([b"0", b"1", b"1", b"1", b"2", b"3", b"%d" % (2**63 - 1)]))
        if draw(st.integers(0, 5)) else draw(numbers(domain, wide=True)),  # nlink
        draw(st.sampled_from([b"64768", b"0", b"dev\x01", b"-1"])),         # dev: never checked
    ]
    if domain is Domain.AMENDED and draw(st.booleans()):
        fields.append(draw(numbers(domain, wide=True)))                     # apparent size
    shape = draw(st.integers(0, 15))
    if shape == 0:
        del fields[draw(st.integers(1, len(fields) - 1))]
    elif shape == 1:
        fields.append(draw(st.sampled_from([b"x", b"1", b"-"])) if domain is Domain.AMENDED
                      else b"extra")
        if domain is Domain.AMENDED:
            fields.append(b"1")
    quoted = fields[0].startswith(b'"')
    separators = [draw(st.sampled_from(_SEPARATORS)) for _ in fields[1:]]
    if quoted and draw(st.integers(0, 9)):
        separators[0] = b"\t"  # usually, as wrstat writes it
    line = fields[0] + b"".join(sep + field for sep, field in zip(separators, fields[1:]))
    lead = draw(st.sampled_from([b"", b"", b"", b" ", b"\t", b"\x0c "]))
    if quoted and domain is Domain.PRESENT:
        lead = b""
    return lead + line + draw(st.sampled_from(_ENDINGS))


@st.composite
def noise_lines(draw: st.DrawFn, domain: Domain) -> bytes:
    """Blank lines, whitespace, NUL, random bytes (which may hold line ends of their own)."""
    line = draw(st.one_of(
        st.sampled_from([b"\n", b"\r\n", b" \n", b"\t\t\n", b"\x00\n", b"\x0b\x0c\r\n"]),
        st.builds(_with_newline_at, st.binary(max_size=120), st.integers(0, 150)),
        st.binary(max_size=40).map(lambda data: data.replace(b"\n", b"")),  # joined to what follows
    ))
    if domain is Domain.PRESENT:  # a path field beginning with a quote is read the new way
        line = b"\n".join(part if not part.lstrip(b" \t\r\x0b\x0c").startswith(b'"') else b"x"
                          for part in line.split(b"\n"))
    return line


def _with_newline_at(data: bytes, position: int) -> bytes:
    """Random bytes as a line: at most one newline of its own (at ``position``, if within)."""
    data = data.replace(b"\n", b"")
    return data[:position] + b"\n" + data[position:] + b"\n"


def _sized_line(length: int, well_formed: bool) -> bytes:
    """A base64 line of exactly ``length`` bytes (without newline), well-formed or not."""
    tail = b"\t1\t501\t1001\t1\t%d\t1\tf\t7\t1\t64768" % (SNAPSHOT_TIME - 5)
    if not well_formed:
        tail = tail.replace(b"\t501\t", b"\tx01\t")
    head = base64.b64encode(b"/lustre/scratch118/humgen/projects/p1/long")  # no padding
    room = length - len(head) - len(tail)
    body = b"A" * (room // 4 * 4)
    return head + body + b" " * (room % 4) + tail


def long_lines(domain: Domain) -> st.SearchStrategy[bytes]:
    """Lines of tens of KiB (present) or around the 1 MiB bound and up to 4 MiB (amended)."""
    if domain is Domain.PRESENT:
        lengths = st.sampled_from([40 * 1024, 64 * 1024])
    else:
        lengths = st.sampled_from([MAX_LINE_BYTES - 1, MAX_LINE_BYTES, MAX_LINE_BYTES + 1,
                                   3 * MAX_LINE_BYTES // 2, 4 * MAX_LINE_BYTES])
    return st.builds(lambda length, good: _sized_line(length, good) + b"\n", lengths,
                     st.booleans())


@st.composite
def hostile_lines(draw: st.DrawFn, domain: Domain, max_lines: int = 12,
                  long: bool = True) -> list[bytes]:
    """A list of hostile line texts (each usually ending in a newline), and in about one
    list in twenty a long line among them."""
    one = st.one_of(record_lines(domain), record_lines(domain), record_lines(domain),
                    noise_lines(domain))
    lines = draw(st.lists(one, max_size=max_lines))
    if long and draw(st.integers(0, 9)) == 7:
        lines.insert(draw(st.integers(0, len(lines))), draw(long_lines(domain)))
    return lines


# ------------------------------------------------------------------ files

_BACKGROUND = list(synthetic_lines(MOUNT.decode(), SyntheticOptions(
    seed=77, lines=4000, snapshot_time=SNAPSHOT_TIME, project_gids=(1001, 1002),
    other_gids=(2001, 2002, 99999))))


def padded(hostile: Sequence[bytes], max_malformed_fraction: float = 0.01) -> bytes:
    """``hostile`` (each line given a newline if it lacks one) spread through enough
    generated well-formed lines that the file is not a failed snapshot: its malformed
    lines stay within ``max_malformed_fraction`` (with a margin for rounding)."""
    lines = [line if line.endswith(b"\n") else line + b"\n" for line in hostile]
    counts = count_lines(split_lines(b"".join(lines)))
    needed = max(1, math.ceil(counts.malformed / max_malformed_fraction * 1.01) - counts.lines + 1)
    if needed > len(_BACKGROUND):
        raise ValueError(f"{counts.malformed} malformed lines need more background lines")
    background = _BACKGROUND[:needed]
    step = len(background) // (len(lines) + 1) + 1
    pieces = []
    for index, line in enumerate(lines):
        pieces += background[index * step:(index + 1) * step] + [line]
    pieces += background[len(lines) * step:]
    return b"".join(pieces)


def write_gzip(path: str, text: bytes, mtime: float = SNAPSHOT_TIME) -> str:
    """``text`` gzip'd at ``path`` (fast level: these files are thrown away), dated ``mtime``."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1,
                                                mtime=0) as handle:
        handle.write(text)
    os.utime(path, (mtime, mtime))
    return path
