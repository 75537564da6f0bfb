"""Deterministic synthetic snapshots (for tests, the demo and benchmarks).

Given a seed, :func:`synthetic_lines` always yields the same lines: realistic
volume trees (``humgen/projects/<project>/…`` with ``users/`` subtrees,
``realdata/mdtN/projects/…``, home trees under ``users/``, team areas), every
object type, hard links, ``nlink`` 0, future mtimes, names with tabs,
newlines and non-UTF-8 bytes, an optional fraction of malformed lines, and
optionally lines that are well-formed but unusual (space separators, CRLF).
:func:`write_snapshot` gzips the lines, optionally truncating the file to
imitate a failed snapshot.

The same tree can be written in three shapes (``SyntheticOptions.shape``):
``mpistat`` and ``wrstat5`` (base64 paths, 11 fields; only the file names
differ) and ``wrstat6`` (Go-quoted paths, directories with a trailing ``/``,
a 12th field with the apparent size).  Every random draw is made as for
mpistat whatever the shape, so line i of each shape describes the same
entry, and a line that is malformed (or whose path does not decode) in one
shape is so in all three.  :func:`snapshot_name` names a file as each
producer does.  docs/snapshots.md describes the formats.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from utils.demo.goquote import go_quote
from utils.snapshots.compression import open_gzip_writer

FILE_EXTENSIONS = (
    "bam", "bam.bai", "sam", "sam.gz", "cram", "CRAM", "cram.crai", "vcf.gz", "vcf.gz.tbi",
    "bcf", "gvcf.gz", "VCF", "ped", "bed", "bed.gz", "txt", "fastq.gz", "log", "json", "Bam",
    "tar", "py", "h5",
)
OTHER_TYPES = ("l", "s", "b", "c", "F", "X")
ODD_NAMES = (b"tab\there.bam", b"new\nline.cram", b"latin1-\xe9\xff.vcf.gz", b"caf\xc3\xa9.txt",
             b"space name.bed", b"x" * 200 + b".bam", b"\xff\xfe\xfd", b"quote'\"name.sam")
# Names that take every path of Go's quoting (and of base64); opt-in, see SyntheticOptions.odd_names.
EXTRA_ODD_NAMES = (
    b"back\\slash\\.bam", b'"quoted" name.vcf', b" leading and trailing space ",
    "emoji-\U0001F600.cram".encode(), "cjk-\U0002070E.bed".encode(),  # 4-byte UTF-8
    "accent-e\u0301-\u00e9.sam".encode(), b"replacement-\xef\xbf\xbd.txt",  # printable as-is
    b"bell\x07bs\x08ff\x0cvt\x0bcr\r.ped", b"esc\x1b-del\x7f-nul-less.txt",  # ASCII controls
    "nbsp\u00a0zwsp\u200bnel\u0085bom\ufeff.bam".encode(),  # non-printable runes: \u
    "private\ue000-plane15\U000f0000.vcf.gz".encode(),  # non-printable above U+FFFF: \U
    b"surrogate-\xed\xa0\x80.sam", b"overlong-\xc0\xaf.cram",  # not UTF-8: \x per byte
    b"above-max-\xf4\x90\x80\x80.bed", b"lone-continuation-\x80-truncated-\xe2\x82.vcf",
    b"all\tat\nonce\"'\\\xff\xe2\x82\xac.bam",
)
ALL_ODD_NAMES = ODD_NAMES + EXTRA_ODD_NAMES
SHAPES = ("mpistat", "wrstat5", "wrstat6")
QUOTED_SHAPES = ("wrstat6",)  # Go-quoted paths and 12 fields
# A wrstat 6 path field that does not unquote (\q is not an escape).
BAD_QUOTED_PATH = b'"not\\qquoted"'


@dataclass(frozen=True)
class SyntheticOptions:
    """What to generate; every field has a sensible default."""

    seed: int = 0
    lines: int = 10_000
    snapshot_time: int = 1_764_000_000
    project_gids: tuple[int, ...] = (1001, 1002, 1003, 1004, 1005)
    other_gids: tuple[int, ...] = (2001, 2002, 99999)  # non-humgen and unknown gids
    uids: tuple[int, ...] = (501, 502, 503, 504)
    users: tuple[str, ...] = ("ab1", "cd2", "ef3", "gh4")
    projects: int = 12  # under humgen/projects
    projects_per_mdt: int = 3  # under each realdata/mdtN/projects
    malformed_fraction: float = 0.0  # lines that are not well-formed (skipped by every pass)
    # well-formed lines whose path field does not decode (bad base64; wrstat6: a bad escape)
    bad_base64_fraction: float = 0.0
    unusual_fraction: float = 0.0  # well-formed lines with space separators or CRLF endings
    oddities: bool = True  # odd names, future mtimes, nlink 0, hard links, rare types
    dev: int = 64768
    shape: str = "mpistat"  # one of SHAPES
    odd_names: tuple[bytes, ...] = ODD_NAMES  # names of odd files (ALL_ODD_NAMES: every hard case)
    odd_name_fraction: float = 0.003  # files (with oddities) that get one of odd_names
    odd_directories: bool = False  # sub-directories named after odd_names too

    def __post_init__(self) -> None:
        check_shape(self.shape)


def check_shape(shape: str) -> None:
    """Refuse a shape that is not one of SHAPES."""
    if shape not in SHAPES:
        raise ValueError(f"unknown snapshot shape {shape!r} (one of {', '.join(SHAPES)})")


@dataclass
class _Entry:
    path: bytes
    kind: str
    size: int
    uid: int
    gid: int
    mtime: int
    inode: int
    nlink: int


@dataclass
class _State:
    rng: random.Random
    options: SyntheticOptions
    mount: bytes
    next_inode: int = 1000
    emitted_links: list[_Entry] = field(default_factory=list)


def synthetic_lines(mount: str, options: SyntheticOptions = SyntheticOptions()) -> Iterator[bytes]:
    """Yield exactly ``options.lines`` snapshot lines (each ending in ``\\n``)."""
    state = _State(random.Random(options.seed), options, mount.rstrip("/").encode())
    produced = 0
    for entry in _entries(state):
        if produced >= options.lines:
            return
        yield _decorate(state, entry)
        produced += 1


def write_snapshot(path: str, lines: Iterable[bytes], *, mtime: float | None = None,
                   truncate_bytes: int = 0, level: int = 1) -> None:
    """Gzip ``lines`` into ``path``; drop the last ``truncate_bytes`` bytes if asked."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open_gzip_writer(tmp, level) as out:
        batch: list[bytes] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 10_000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
    if truncate_bytes:
        size = os.path.getsize(tmp)
        with open(tmp, "r+b") as handle:
            handle.truncate(max(size - truncate_bytes, 10))
    os.replace(tmp, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def format_line(path: bytes, size: int, uid: int, gid: int, atime: int, mtime: int, ctime: int,
                kind: str, inode: int, nlink: int, dev: int, sep: str = "\t", end: str = "\n", *,
                shape: str = "mpistat", apparent_size: int | None = None) -> bytes:
    """One snapshot line in the given shape (default mpistat's).

    wrstat6 lines quote the path (a directory's with a trailing ``/``), end
    the path field with a TAB whatever ``sep`` is, and add the apparent size
    (default ``size``) as a 12th field.
    """
    check_shape(shape)
    numbers = (size, uid, gid, atime, mtime, ctime, kind, inode, nlink, dev)
    if shape not in QUOTED_SHAPES:
        fields = (base64.b64encode(path).decode("ascii"),) + numbers
        return (sep.join(map(str, fields)) + end).encode("ascii")
    if kind == "d" and not path.endswith(b"/"):
        path += b"/"
    apparent = size if apparent_size is None else apparent_size
    rest = sep.join(map(str, numbers + (apparent,))) + end
    return go_quote(path) + b"\t" + rest.encode("ascii")


def snapshot_name(shape: str, date: dt.date, volume: int, name: str | None = None) -> str:
    """The file name each producer gives a volume's snapshot of ``date``.

    mpistat: ``YYYYMMDD_<volume>.dat.gz``; wrstat:
    ``YYYYMMDD_<name>.<unique>.<unique>.stats.gz``, ``name`` being the
    basename of the crawled directory (default ``scratch<volume>``) and the
    two uniques fixed strings derived from the date and name.
    """
    check_shape(shape)
    if shape == "mpistat":
        return f"{date:%Y%m%d}_{volume}.dat.gz"
    name = name or f"scratch{volume}"
    digest = hashlib.sha256(f"{date:%Y%m%d}/{name}".encode()).hexdigest()
    return f"{date:%Y%m%d}_{name}.{digest[:20]}.{digest[20:40]}.stats.gz"


def snapshot_pattern(shape: str) -> str:
    """The ``[paths] snapshot_pattern`` that finds :func:`snapshot_name`'s files."""
    check_shape(shape)
    return "{date}_{volume}.dat.gz" if shape == "mpistat" else "{date}_scratch{volume}.*.*.stats.gz"


# ---------------------------------------------------------------- the tree

def _entries(state: _State) -> Iterator[_Entry]:
    """An endless walk over a plausible volume.

    A fixed set of projects (under ``humgen/projects`` and
    ``realdata/mdtN/projects``) and team areas exists from the start; every
    round adds a new batch of directories and files to each of them, and new
    home directories under ``users/`` — so more lines mean fuller projects,
    not more of them, as on a real volume.
    """
    rng = state.rng
    opts = state.options
    yield _dir(state, b"", opts.other_gids[0])
    for top in (b"/humgen", b"/humgen/projects", b"/humgen/teams", b"/users", b"/realdata"):
        yield _dir(state, top, opts.other_gids[0])
    for mdt in range(2):
        yield _dir(state, b"/realdata/mdt%d" % mdt, opts.other_gids[0])
        yield _dir(state, b"/realdata/mdt%d/projects" % mdt, opts.other_gids[0])
    gids = opts.project_gids
    projects = [(b"/humgen/projects/project%03d" % index, gids[index % len(gids)])
                for index in range(opts.projects)]
    projects += [(b"/realdata/mdt%d/projects/p%d" % (mdt, index), gids[index % len(gids)])
                 for mdt in range(2) for index in range(opts.projects_per_mdt)]
    teams = [(b"/humgen/teams/team%d" % index, gid) for index, gid in enumerate(gids)]
    round_number = 0
    while True:
        for index, (rel, gid) in enumerate(projects):
            if round_number == 0:
                yield from _project_skeleton(state, rel, gid)
            yield from _project_batch(state, rel, gid, round_number)
            if rng.random() < 0.2:
                user = rng.choice(opts.users).encode() + b"-%d-%d" % (round_number, index)
                yield from _home(state, user)
        for rel, gid in teams:
            if round_number == 0:
                yield _dir(state, rel, gid)
            if rng.random() < 0.3:
                yield from _subtree(state, rel + b"/batch%d" % round_number, gid, 2, 20)
        round_number += 1


SUBDIRECTORIES = 4


def _project_skeleton(state: _State, rel: bytes, gid: int) -> Iterator[_Entry]:
    """A project's own directory, its sub-directories and users/ area, and a README."""
    yield _dir(state, rel, gid)
    for sub in range(SUBDIRECTORIES):
        yield _dir(state, rel + b"/sub%d" % sub, gid)
    yield _dir(state, rel + b"/users", gid)
    for user in state.options.users:
        yield _dir(state, rel + b"/users/" + user.encode(), gid)
    yield _file(state, rel + b"/README.txt", gid)


def _project_batch(state: _State, rel: bytes, gid: int, round_number: int) -> Iterator[_Entry]:
    """One round's new data in a project: a batch directory tree in a sub-directory,
    sometimes one in a user's area."""
    rng = state.rng
    sub = rng.randrange(SUBDIRECTORIES)
    batch = rel + b"/sub%d/batch%d" % (sub, round_number)
    yield from _subtree(state, batch, gid, rng.randint(1, 3), rng.randint(3, 40))
    if rng.random() < 0.4:
        user = rng.choice(state.options.users).encode()
        yield from _subtree(state, rel + b"/users/" + user + b"/batch%d" % round_number, gid, 2,
                            rng.randint(2, 15))


def _home(state: _State, user: bytes) -> Iterator[_Entry]:
    gid = state.rng.choice(state.options.other_gids)
    yield from _subtree(state, b"/users/" + user, gid, 2, state.rng.randint(2, 20))


def _subtree(state: _State, rel: bytes, gid: int, depth: int, files: int) -> Iterator[_Entry]:
    rng = state.rng
    yield _dir(state, rel, gid)
    for number in range(files):
        yield from _object(state, rel, gid, number)
    if depth > 1:
        for child in range(rng.randint(1, 2)):
            yield from _subtree(state, rel + b"/" + _child_name(state, rel, child), gid, depth - 1,
                                max(1, files // 2))


def _child_name(state: _State, parent: bytes, child: int) -> bytes:
    """``d<child>``, with an odd name appended when asked (chosen without a random draw)."""
    names = state.options.odd_names
    if not state.options.odd_directories or not names:
        return b"d%d" % child
    return b"d%d-" % child + names[(len(parent) + child) % len(names)]


def _object(state: _State, parent: bytes, gid: int, number: int) -> Iterator[_Entry]:
    """A file (usually), a hard link to an earlier file, or a rarer object type."""
    rng = state.rng
    odd = state.options.oddities
    if odd and state.emitted_links and rng.random() < 0.01:
        original = state.emitted_links.pop()
        yield _Entry(state.mount + parent + b"/hardlink%d" % number, "f", original.size,
                     original.uid, original.gid, original.mtime, original.inode, original.nlink)
        return
    if odd and rng.random() < 0.03:
        kind = rng.choice(OTHER_TYPES)
        yield _make(state, parent + b"/obj%d" % number, kind, gid, rng.randint(0, 100))
        return
    if odd and rng.random() < state.options.odd_name_fraction:
        name = rng.choice(state.options.odd_names)
    else:
        name = b"s%d-sample%d.%s" % (number, rng.randint(0, 999), rng.choice(FILE_EXTENSIONS).encode())
    if odd and rng.random() < 0.05:
        gid = rng.choice(state.options.other_gids)
    entry = _file(state, parent + b"/" + name, gid)
    if odd:
        roll = rng.random()
        if roll < 0.02:
            entry.nlink = rng.randint(2, 3)
            state.emitted_links.append(entry)
        elif roll < 0.025:
            entry.nlink = 0
    yield entry


def _file(state: _State, rel: bytes, gid: int) -> _Entry:
    return _make(state, rel, "f", gid, int(state.rng.lognormvariate(12, 3.5)) % (1 << 44))


def _dir(state: _State, rel: bytes, gid: int) -> _Entry:
    entry = _make(state, rel, "d", gid, 4096)
    entry.nlink = state.rng.randint(2, 6)
    return entry


def _make(state: _State, rel: bytes, kind: str, gid: int, size: int) -> _Entry:
    rng = state.rng
    opts = state.options
    age = rng.randint(0, 3 * 365 * 86400)
    mtime = opts.snapshot_time - age
    if opts.oddities and rng.random() < 0.005:
        mtime = opts.snapshot_time + rng.randint(1, 10 * 86400)  # clock skew
    state.next_inode += rng.randint(1, 7)
    return _Entry(state.mount + rel, kind, size, rng.choice(opts.uids), gid, mtime,
                  state.next_inode, 1)


# ------------------------------------------------------ line-level variety

def _decorate(state: _State, entry: _Entry) -> bytes:
    """Format ``entry`` in the options' shape, sometimes replaced by a malformed or unusual
    variant.  The random draws are those of the mpistat line whatever the shape."""
    rng = state.rng
    opts = state.options
    atime = entry.mtime + rng.randint(0, 1000)
    values = (entry.size, entry.uid, entry.gid, atime, entry.mtime, entry.mtime, entry.kind,
              entry.inode, entry.nlink, opts.dev)
    line = format_line(entry.path, *values)
    quoted = opts.shape in QUOTED_SHAPES
    shaped = format_line(entry.path, *values, shape=opts.shape,
                         apparent_size=_apparent_size(entry)) if quoted else line
    roll = rng.random()
    if roll < opts.malformed_fraction:
        make = rng.choice(MALFORMED_KINDS)
        return _malformed_quoted(make, line, shaped, rng) if quoted else make(line, rng)
    roll -= opts.malformed_fraction
    if roll < opts.bad_base64_fraction:
        bad_path = BAD_QUOTED_PATH if quoted else b"not*base64"
        return bad_path + shaped[shaped.index(b"\t"):]
    roll -= opts.bad_base64_fraction
    if roll < opts.unusual_fraction:
        if rng.random() < 0.5:
            spaces = b" " * rng.randint(1, 3)
            if quoted:  # the quoted path field ends at its TAB; the other separators may vary
                path_field, rest = shaped.split(b"\t", 1)
                return path_field + b"\t" + rest.replace(b"\t", spaces)
            return line.replace(b"\t", spaces)
        return shaped[:-1] + b"\r\n"
    return shaped


def _apparent_size(entry: _Entry) -> int:
    """The 12th field of a wrstat6 line: the size, larger for one file in seven (sparse
    or allocated differently), so that no figure can silently use it."""
    return entry.size if entry.inode % 7 else entry.size * 3 + 1


def _malformed_quoted(make: Callable[[bytes, random.Random], bytes], line: bytes, shaped: bytes,
                      rng: random.Random) -> bytes:
    """The malformed variant ``make`` of a wrstat6 line, drawing what ``make`` draws for
    the mpistat ``line``.  It starts from the first 11 fields (a 12th numeric field
    would make some variants well-formed again)."""
    eleven = shaped[:shaped.rindex(b"\t")] + b"\n"
    if make is _cut_line:  # the cut is drawn on the mpistat line, then kept before the last TAB
        cut = rng.randint(1, line.rindex(b"\t"))
        return eleven[:min(cut, eleven.rindex(b"\t"))] + b"\n"
    return make(eleven, rng)


def _swap_field(index: int, value: bytes) -> Callable[[bytes, random.Random], bytes]:
    def make(line: bytes, rng: random.Random) -> bytes:
        fields = line.rstrip(b"\n").split(b"\t")
        fields[index] = value
        return b"\t".join(fields) + b"\n"
    return make


def _drop_field(line: bytes, rng: random.Random) -> bytes:
    fields = line.rstrip(b"\n").split(b"\t")
    del fields[rng.randrange(len(fields))]
    return b"\t".join(fields) + b"\n"


def _extra_field(line: bytes, rng: random.Random) -> bytes:
    return line.rstrip(b"\n") + b"\textra\n"


def _cut_line(line: bytes, rng: random.Random) -> bytes:
    return line[: rng.randint(1, line.rindex(b"\t"))] + b"\n"


# Each makes a line that is NOT well-formed (see docs/snapshots.md).
MALFORMED_KINDS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    _drop_field,
    _extra_field,
    _cut_line,
    _swap_field(1, b"12ab"),        # non-numeric size
    _swap_field(3, b"-5"),          # negative gid
    _swap_field(5, b"1.5e9"),       # non-integer mtime
    _swap_field(9, b""),            # empty nlink (two adjacent tabs)
    _swap_field(8, b"+42"),         # signed inode
    _swap_field(2, b"\xff\xfe"),    # non-ASCII uid
    lambda line, rng: b"\n",        # empty line
    lambda line, rng: b"   \t \n",  # whitespace only
    lambda line, rng: b"garbage line without fields\n",
)
