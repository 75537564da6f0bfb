"""The group splitter's split pass: the kept lines of each group, one gzip file each.

What is kept, and why, is described in docs/splitter.md.

A well-formed line is kept when its gid is a humgen gid, or when its gid has
a posixGroup name and its decoded path starts with one of the special
prefixes (a plain byte-prefix test).  Selection works on whole chunks: gid
membership with NumPy, and the prefix test only on the candidate rows —
first on the base64 text (a necessary condition), then on the decoded bytes
of the rows that pass.

Kept lines are copied byte for byte.  In the worker threads each chunk's
kept lines are grouped per output file and compressed into one gzip member
per group; the main thread appends the members in file order.  A gzip file
may be a concatenation of members, which ``gzip -d`` and every other reader
read as one stream.  Nothing but the chunks in flight is held in memory.
"""

from __future__ import annotations

import collections
import functools
import gzip
import logging
import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.snapshots.pathfields import decode_paths, prefix_candidates
from utils.snapshots.byteviews import starts_with_any, value_offsets
from utils.snapshots.compression import HAVE_ISAL, igzip, isal_zlib
from utils.common.config import SplitterConfig
from utils.directory.ldap import DirectorySnapshot
from utils.snapshots.chunks import Chunk
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import LEAN_BLOCK_SIZE, ReadStats, map_chunks
from utils.splitter.dirswap import private_opener

log = logging.getLogger(__name__)

OUTPUT_SUFFIX = ".dat.gz"
NAME_MAX = 255  # bytes in one file name on Linux file systems
MAX_OPEN_FILES = 64  # output files kept open at once (least recently used are closed)
WRITE_BUFFER = 256 * 1024
_DIRECTORY = b"d"
_NEWLINE = 0x0A
_GID_LIMIT = 1 << 64


# ------------------------------------------------------------------ output names

def unusable_name_reason(name: str) -> str | None:
    """Why ``name`` cannot be an output file name in the output directory, or None."""
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return "it is . or .."
    if "/" in name:
        return "it contains /"
    if "\0" in name:
        return "it contains a NUL character"
    if name.startswith("."):
        return "it would make a hidden file, which the S3 sync ignores"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        return "it contains a control character (index.txt is tab- and line-separated)"
    try:
        encoded = os.fsencode(name + OUTPUT_SUFFIX)
    except UnicodeError:
        return "it cannot be encoded as a file name"
    if len(encoded) > NAME_MAX:
        return f"{name}{OUTPUT_SUFFIX} is longer than {NAME_MAX} bytes"
    return None


def output_filename(label: str) -> str:
    """The file a group's kept lines go to: ``<label>.dat.gz``."""
    return label + OUTPUT_SUFFIX


# ------------------------------------------------------------------ the plan

def member_compressor(level: int) -> Callable[[bytes], bytes]:
    """bytes -> one gzip member (header mtime 0, so equal input gives equal output)."""
    if HAVE_ISAL:
        return functools.partial(igzip.compress, compresslevel=min(level, isal_zlib.ISAL_BEST_COMPRESSION),
                                 mtime=0)
    return functools.partial(gzip.compress, compresslevel=level, mtime=0)


@dataclass(frozen=True)
class SplitPlan:
    """What to keep and where it goes; shared read-only by the worker threads."""

    humgen_gids: np.ndarray  # uint64: lines of these gids are kept
    prefix_gids: np.ndarray  # uint64: named non-humgen gids, kept under a special prefix
    special_prefixes: tuple[str, ...]
    labels: tuple[str, ...]  # output label (group name, or gid with by_gid) by output index
    output_of_gid: Mapping[int, int]  # gid -> output index; absent: the name is unusable
    unusable: Mapping[int, tuple[str, str]]  # gid -> (name, reason) for skipped names
    compress: Callable[[bytes], bytes]


def make_plan(directory: DirectorySnapshot, settings: SplitterConfig, *, by_gid: bool = False) -> SplitPlan:
    """The plan for ``directory``: kept gids, and each gid's output (name or gid)."""
    humgen = sorted(gid for gid in directory.humgen if 0 <= gid < _GID_LIMIT)
    prefix_only = sorted(gid for gid in directory.posix
                         if gid not in directory.humgen and 0 <= gid < _GID_LIMIT)
    labels: dict[str, int] = {}  # label -> output index
    first_gid: dict[str, int] = {}
    output_of_gid: dict[int, int] = {}
    unusable: dict[int, tuple[str, str]] = {}
    for gid in humgen + prefix_only:
        label = str(gid) if by_gid else directory.name(gid) or ""
        reason = unusable_name_reason(label)
        if reason is not None:
            unusable[gid] = (label, reason)
            continue
        if label in labels:
            log.warning("gids %d and %d are both named %r; their lines go to one file, %s",
                        first_gid[label], gid, label, output_filename(label))
        else:
            labels[label] = len(labels)
            first_gid[label] = gid
        output_of_gid[gid] = labels[label]
    return SplitPlan(
        humgen_gids=np.array(humgen, dtype=np.uint64),
        prefix_gids=np.array(prefix_only, dtype=np.uint64),
        special_prefixes=tuple(settings.special_prefixes),
        labels=tuple(labels),
        output_of_gid=output_of_gid,
        unusable=unusable,
        compress=member_compressor(settings.compress_level),
    )


# ------------------------------------------------------------------ one chunk

def select_rows(chunk: Chunk, plan: SplitPlan) -> tuple[np.ndarray, int]:
    """(mask of the chunk's kept rows, candidates whose path field does not decode)."""
    keep = np.isin(chunk.gid, plan.humgen_gids)
    if not plan.special_prefixes or not len(plan.prefix_gids):
        return keep, 0
    candidates = np.flatnonzero(np.isin(chunk.gid, plan.prefix_gids))
    if not len(candidates):
        return keep, 0
    paths = chunk.take_paths(candidates)
    passing = np.flatnonzero(prefix_candidates(paths, [p.encode() for p in plan.special_prefixes]))
    candidates, paths = candidates[passing], paths.take(passing)
    if not len(candidates):
        return keep, 0
    decoded, valid = decode_paths(paths)
    matched = starts_with_any(decoded, plan.special_prefixes) & valid
    keep[candidates[matched]] = True
    return keep, int(len(valid) - np.count_nonzero(valid))


@dataclass(frozen=True)
class GroupBatch:
    """One chunk's kept lines of one output, as a gzip member."""

    output: int
    member: bytes
    lines: int
    dirs: int


@dataclass
class ChunkSplit:
    """What one chunk contributes."""

    batches: list[GroupBatch]
    unusable_lines: dict[int, int]  # gid -> kept lines dropped because its name is unusable
    undecodable: int


def split_chunk(chunk: Chunk, plan: SplitPlan) -> ChunkSplit:
    """Select, group and compress one chunk's kept lines (runs in a worker thread)."""
    keep, undecodable = select_rows(chunk, plan)
    rows = np.flatnonzero(keep)
    if not len(rows):
        return ChunkSplit([], {}, undecodable)
    unique_gids, gid_index = np.unique(chunk.gid[rows], return_inverse=True)
    output_of_unique = np.array([plan.output_of_gid.get(int(gid), -1) for gid in unique_gids],
                                dtype=np.int64)
    unusable_lines = {int(gid): int(count) for gid, count, output
                      in zip(unique_gids, np.bincount(gid_index), output_of_unique) if output < 0}
    outputs = output_of_unique[gid_index]
    usable = outputs >= 0
    rows, outputs = rows[usable], outputs[usable]
    if not len(rows):
        return ChunkSplit([], unusable_lines, undecodable)
    order = np.argsort(outputs, kind="stable")  # grouped by output, input order within
    rows, outputs = rows[order], outputs[order]
    bounds = np.flatnonzero(np.diff(outputs)) + 1
    starts_of_groups = np.concatenate(([0], bounds)).tolist()
    ends_of_groups = np.concatenate((bounds, [len(rows)])).tolist()
    is_dir = pc.equal(chunk.type, _DIRECTORY).to_numpy(zero_copy_only=False)
    lines = _KeptLines(chunk)
    batches = []
    for start, end in zip(starts_of_groups, ends_of_groups):
        selected = rows[start:end]
        data = lines.joined(selected)
        batches.append(GroupBatch(int(outputs[start]), plan.compress(data), end - start,
                                  int(np.count_nonzero(is_dir[selected]))))
    return ChunkSplit(batches, unusable_lines, undecodable)


class _KeptLines:
    """A chunk's lines, joined for a selection of rows, each ending in a newline.

    When every row's line has its newline in the block, the lines with their
    newlines are values of one Arrow binary array over the block (when the
    rows are not the block's lines one after another, such as around a
    malformed line, the bytes between two rows are values of their own), and
    Arrow's take gathers a selection; otherwise the runs of consecutive lines
    are copied as slices.  Neither holds the GIL while copying.
    """

    def __init__(self, chunk: Chunk) -> None:
        self.text = np.frombuffer(chunk.block, dtype=np.uint8)
        self.starts, self.ends = chunk.spans()
        count = len(self.starts)
        self.array: pa.Array | None = None
        self.step = 1  # values per row in the array: the line, then any gap before the next
        if count and self.ends[-1] < len(self.text):  # every line has its newline
            if bool((self.starts[1:] == self.ends[:-1] + 1).all()):
                offsets = np.append(self.starts, self.ends[-1] + 1)
            else:
                offsets = np.empty(2 * count, dtype=np.int64)
                offsets[0::2] = self.starts
                offsets[1::2] = self.ends + 1
                self.step = 2
            self.array = pa.Array.from_buffers(pa.binary(), len(offsets) - 1, [
                None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(self.text)])

    def joined(self, rows: np.ndarray) -> memoryview | np.ndarray:
        """The lines of ``rows`` (ascending) with their newlines, as one buffer."""
        if self.array is not None:
            taken = self.array.take(rows * self.step)
            offsets = value_offsets(taken)
            return memoryview(taken.buffers()[2])[offsets[0]:offsets[-1]]
        return self._copied_runs(self.starts[rows], self.ends[rows])

    def _copied_runs(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Runs of lines that follow each other in the block are copied as one slice."""
        breaks = np.flatnonzero(starts[1:] != ends[:-1] + 1) + 1
        run_starts = starts[np.concatenate(([0], breaks))].tolist()
        run_ends = ends[np.concatenate((breaks - 1, [len(ends) - 1]))].tolist()
        pieces = [self.text[start:end + 1] for start, end in zip(run_starts, run_ends)]
        if run_ends[-1] == len(self.text):  # the block's last line has no newline of its own
            pieces[-1] = np.append(pieces[-1], np.uint8(_NEWLINE))
        return np.concatenate(pieces)


# ------------------------------------------------------------------ output files

class MemberFiles:
    """Appends gzip members to files in one directory, with a bounded number open.

    Files are created with mode 0600 (they belong to a set being built),
    opened for appending on first use and kept open; past ``max_open`` the
    least recently used one is flushed, fsync'ed and closed (and reopened if
    needed later).  :meth:`close` fsyncs and closes the rest.
    """

    def __init__(self, directory: str, max_open: int | None = None) -> None:
        self.directory = directory
        self.max_open = max(1, max_open or MAX_OPEN_FILES)
        self._open: collections.OrderedDict[str, BinaryIO] = collections.OrderedDict()

    def append(self, filename: str, data: bytes) -> None:
        handle = self._open.get(filename)
        if handle is None:
            if len(self._open) >= self.max_open:
                _, oldest = self._open.popitem(last=False)
                _sync_close(oldest)
            handle = open(os.path.join(self.directory, filename), "ab", buffering=WRITE_BUFFER,
                          opener=private_opener)
            self._open[filename] = handle
        else:
            self._open.move_to_end(filename)
        handle.write(data)

    def close(self) -> None:
        """Flush, fsync and close every open file (raises the first failure)."""
        while self._open:
            _, handle = self._open.popitem(last=False)
            try:
                _sync_close(handle)
            except BaseException:
                self.discard()
                raise

    def discard(self) -> None:
        """Close every open file without caring about errors (the output is abandoned)."""
        while self._open:
            _, handle = self._open.popitem()
            try:
                handle.close()
            except OSError:
                pass


def _sync_close(handle: BinaryIO) -> None:
    try:
        handle.flush()
        os.fsync(handle.fileno())
    finally:
        handle.close()


# ------------------------------------------------------------------ the pass

@dataclass
class GroupCounts:
    """What was written for one output: lines, and lines of type ``d``."""

    lines: int = 0
    dirs: int = 0


@dataclass
class SplitResult:
    """Counts per written output label, and what was left out."""

    groups: dict[str, GroupCounts] = field(default_factory=dict)
    lines_read: int = 0
    lines_kept: int = 0
    unusable_lines: dict[int, int] = field(default_factory=dict)  # gid -> lines not written


def split_snapshots(snapshots: Sequence[Snapshot], plan: SplitPlan, out_dir: str) -> SplitResult:
    """Write every kept line of ``snapshots`` (in order) to its group file in ``out_dir``.

    A failed snapshot raises :class:`~utils.errors.SnapshotError`; files already
    written stay (the caller abandons the directory).
    """
    result = SplitResult()
    files = MemberFiles(out_dir)
    try:
        for snapshot in snapshots:
            _split_one(snapshot, plan, files, result)
        files.close()
    except BaseException:
        files.discard()
        raise
    _warn_unusable(plan, result.unusable_lines)
    log.info("split %s lines into %d group files in %s (%s lines kept)", f"{result.lines_read:,}",
             len(result.groups), out_dir, f"{result.lines_kept:,}")
    return result


def _split_one(snapshot: Snapshot, plan: SplitPlan, files: MemberFiles, result: SplitResult) -> None:
    stats = ReadStats(snapshot.path)
    kept = undecodable = 0
    label = f"splitting volume {snapshot.volume}"
    for part in map_chunks(snapshot.path, lambda chunk: split_chunk(chunk, plan), label=label,
                           stats=stats, block_size=LEAN_BLOCK_SIZE,
                           max_malformed_fraction=snapshot.max_malformed_fraction):
        for batch in part.batches:
            name = plan.labels[batch.output]
            files.append(output_filename(name), batch.member)
            counts = result.groups.setdefault(name, GroupCounts())
            counts.lines += batch.lines
            counts.dirs += batch.dirs
            kept += batch.lines
        for gid, count in part.unusable_lines.items():
            result.unusable_lines[gid] = result.unusable_lines.get(gid, 0) + count
        undecodable += part.undecodable
    result.lines_read += stats.lines
    result.lines_kept += kept
    if undecodable:
        log.warning("%s: %d lines of named non-humgen groups have a path field that starts like a "
                    "special prefix but does not decode; not kept", snapshot.path, undecodable)
    log.info("volume %d (%s): kept %s of %s lines", snapshot.volume, snapshot.path, f"{kept:,}",
             f"{stats.lines:,}")


def _warn_unusable(plan: SplitPlan, unusable_lines: Mapping[int, int]) -> None:
    for gid, count in sorted(unusable_lines.items()):
        name, reason = plan.unusable[gid]
        log.warning("group %r (gid %d) is skipped: its name cannot be used as a file name (%s); "
                    "%d lines not written", name, gid, reason, count)
