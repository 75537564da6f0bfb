"""The project inspector's aggregation pass.

Per chunk, with Arrow/NumPy: keep files and directories whose base64 path
can lie under a root, decode those paths into one buffer (each path a span
of it), take each entry's directory (the entry for ``d``, its parent for
``f``) as Arrow views into that buffer, and classify every *distinct*
directory once (which records it counts toward; record keys are cut at slash
positions).  File types come from the names' endings
(:mod:`utils.filetypes`).  Rows are summed per (directory class, gid),
spread over each class's records and summed again per (record, gid) — all
in Arrow/NumPy, off the GIL as much as possible.  The main thread only
collects those small tables and compacts them now and then; Python objects
per record appear once, at the end.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.snapshots.pathfields import decode_path_spans, prefix_candidates
from utils.snapshots.byteviews import binary_views, equal_ignoring_case, pieces_of, spans_of
from utils.inspector.filetypes import NO_TYPE, FileTypeMatcher
from utils.directory.ldap import DirectorySnapshot
from utils.snapshots.chunks import Chunk
from utils.snapshots.discovery import Snapshot
from utils.snapshots.consumers import read_once
from utils.snapshots.reader import LEAN_BLOCK_SIZE, ReadStats
from utils.report.rows import days_since
from utils.inspector.roots import OUTSIDE_ROOTS, Components, InspectRoot, classify

log = logging.getLogger(__name__)

NO_MTIME = -1
NO_ROW = -1
_FILE = b"f"
_SLASH = ord("/")
_DIRECTORY = b"d"
_COMPACT_EVERY = 32  # partial tables collected before they are summed together
_SAMPLE_EVERY = 64  # every n-th row's path decides whether a chunk is decoded whole


@dataclass(frozen=True, eq=False)
class RecordSet:
    """The records (global ids) an entry in some directory counts toward.

    ``exact`` are the records whose path is that directory itself: a
    directory entry there sets the record's group.
    """

    records: tuple[int, ...]
    exact: tuple[int, ...]


class RecordRegistry:
    """Global ids of record paths (``b"projects/p1/sub"``), shared by the chunk threads."""

    def __init__(self) -> None:
        self.paths: list[bytes] = []
        self._ids: dict[bytes, int] = {}
        self._lineages: dict[bytes, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def lineage(self, key: bytes) -> tuple[int, ...]:
        """Ids of the key's ancestors and of the key itself, outermost first."""
        found = self._lineages.get(key)
        if found is not None:
            return found
        missing = [key]  # the key and its ancestors not yet known, innermost first
        cut = key.rfind(b"/")
        while cut > 0:
            parent = key[:cut]
            found = self._lineages.get(parent)
            if found is not None:
                break
            missing.append(parent)
            cut = parent.rfind(b"/")
        found = found or ()
        for prefix in reversed(missing):  # outermost first: no recursion, whatever the depth
            found = found + (self.record_id(prefix),)
            self._lineages[prefix] = found
        return found

    def record_id(self, key: bytes) -> int:
        with self._lock:
            found = self._ids.get(key)
            if found is None:
                found = self._ids[key] = len(self.paths)
                self.paths.append(key)
            return found


@dataclass
class InspectionPlan:
    """What to inspect on one volume and how; shared by the chunk threads."""

    roots: tuple[InspectRoot, ...]
    depth: int
    filetypes: Mapping[str, str]  # name -> regex on the file name, first match wins
    snapshot_time: float
    registry: RecordRegistry = field(default_factory=RecordRegistry, repr=False)

    def __post_init__(self) -> None:
        self.filetype_matcher = FileTypeMatcher(self.filetypes)
        self._matchers = [root.matcher() for root in self.roots]
        prefixes = {root.literal_prefix for root in self.roots}
        # prefixes that every inspected path starts with (none: no filter)
        self.path_prefixes = () if b"" in prefixes else tuple(sorted(prefixes))
        # None: a snapshot dated before 1970, at or before which no mtime lies
        self.mtime_threshold = (np.uint64(math.floor(self.snapshot_time))
                                if self.snapshot_time >= 0 else None)
        self._key_sets: dict[tuple[bytes, bool], RecordSet] = {}

    def record_sets(self, directories: pa.Array) -> tuple[list[RecordSet], np.ndarray]:
        """The distinct RecordSets of these (distinct) directories, and each one's index.

        The index is -1 where nothing is inspected.  Keys are cut at slash
        positions, one root at a time; only distinct keys (and the rare
        directory under several roots, or with a non-canonical path) are
        handled in Python.
        """
        sets: list[RecordSet] = []
        positions: dict[int, int] = {}  # id(RecordSet) -> index in sets

        def position(record_set: RecordSet) -> int:
            found = positions.get(id(record_set))
            if found is None:
                found = positions[id(record_set)] = len(sets)
                sets.append(record_set)
            return found

        index = np.full(len(directories), -1, dtype=np.int64)
        claimed = np.zeros(len(directories), dtype=np.int64)
        matches = []
        for matcher in self._matchers:
            mask = pc.match_substring_regex(directories, matcher.pattern)
            matches.append(mask.to_numpy(zero_copy_only=False))
            claimed += matches[-1]
        data, starts, ends = spans_of(directories)
        slashes = np.flatnonzero(data == _SLASH)
        odd = (claimed > 1) | (_non_canonical(data, slashes, starts, ends) & (claimed > 0))
        for matcher, mask in zip(self._matchers, matches):
            rows = np.flatnonzero(mask & ~odd)
            if len(rows):
                keys, exact = self._keys_for(data, slashes, starts[rows], ends[rows],
                                             matcher.depth)
                codes, inverse = np.unique(keys.indices.to_numpy() * 2 + exact,
                                           return_inverse=True)
                distinct = keys.dictionary.cast(pa.binary()).to_pylist()
                found = [position(self._key_set(distinct[code // 2], bool(code % 2)))
                         for code in codes.tolist()]
                index[rows] = np.asarray(found, dtype=np.int64)[inverse]
        for row in np.flatnonzero(odd).tolist():
            record_set = self._classified_set(directories[row].as_py())
            if record_set is not None:
                index[row] = position(record_set)
        return sets, index

    def _keys_for(self, data: np.ndarray, slashes: np.ndarray, starts: np.ndarray,
                  ends: np.ndarray, root_depth: int) -> tuple[pa.DictionaryArray, np.ndarray]:
        """Record keys (dictionary-encoded) of canonical directories under one root, and
        whether each directory is its key.

        Directory i is ``data[starts[i]:ends[i]]``; ``slashes`` are the positions of
        every ``/`` in ``data``; ``root_depth`` is the index of the root's last
        component when a path is split on ``/`` (component 0 is the empty one
        before the leading slash).  A key is that component and the ``depth``
        below it, one more when the component two below it is ``users``.
        """
        first = np.searchsorted(slashes, starts)
        count = np.searchsorted(slashes, ends) - first  # components: count + 1

        def end_of_component(index: int) -> np.ndarray:
            """Where component ``index`` of each directory ends (its value's end if absent)."""
            slash = np.minimum(first + index, len(slashes) - 1)
            return np.where(index < count, slashes[slash], ends)

        depth = self.depth
        relative_length = count + 1 - root_depth
        users = (relative_length > 2) & equal_ignoring_case(
            data, end_of_component(root_depth + 1) + 1, end_of_component(root_depth + 2), b"users")
        key_ends = np.where(users, end_of_component(root_depth + depth + 1),
                            end_of_component(root_depth + depth))
        keys = pc.dictionary_encode(binary_views(data, end_of_component(root_depth - 1) + 1,
                                                 key_ends))
        exact = relative_length <= np.where(users, depth + 2, depth + 1)
        return keys, exact

    def _key_set(self, key: bytes, exact: bool) -> RecordSet:
        """The RecordSet of a key (and its ancestors); ``exact`` when the directory is the key."""
        cached = self._key_sets.get((key, exact))
        if cached is None:
            lineage = self.registry.lineage(key)
            cached = RecordSet(lineage, lineage[-1:] if exact else ())
            self._key_sets[(key, exact)] = cached
        return cached

    def _classified_set(self, directory: bytes) -> RecordSet | None:
        """The slow, general path (several roots, odd paths): :func:`utils.roots.classify`."""
        found = classify(directory, self._matchers, self.depth)
        if found is OUTSIDE_ROOTS:
            return None
        ids = [tuple(self.registry.record_id(b"/".join(path)) for path in paths)
               for paths in (found.records, found.exact)]
        return RecordSet(*ids)


def _non_canonical(data: np.ndarray, slashes: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> np.ndarray:
    """Which values ``data[starts[i]:ends[i]]`` (laid out one after another) hold
    ``//`` or end in ``/``; ``slashes`` are the positions of every ``/``."""
    first = slashes[:-1][np.diff(slashes) == 1]  # the first slash of each "//"
    value = np.searchsorted(ends, first, side="right")  # the value each lies in
    doubled = np.zeros(len(starts), dtype=bool)
    inside = value < len(ends)
    inside[inside] = first[inside] + 1 < ends[value[inside]]
    doubled[value[inside]] = True
    trailing = (ends > starts) & (data[np.maximum(ends - 1, 0)] == _SLASH)
    return doubled | trailing


_HALVES = ("hi", "lo")
_LOW_BITS = np.uint64(0xFFFFFFFF)
_HIGH_SHIFT = np.uint64(32)


def _sum_columns(type_count: int) -> list[str]:
    """Summed columns: bytes as 32-bit halves (sums that cannot wrap, joined as Python
    ints at the end), files, and each file type's bytes as halves."""
    return ["used_hi", "used_lo", "files"] + [f"type{index}_{half}" for index in range(type_count)
                                              for half in _HALVES]


@dataclass
class ChunkPartial:
    """One chunk's sums per (record, gid), and its directory entries at records."""

    sums: pa.Table | None  # record, gid, used, files, type<i> (sums), mtime (max)
    entries: pa.Table | None  # record, gid, dir_row (max row of a directory entry there)
    undecodable: int


def inspect_chunk(chunk: Chunk, plan: InspectionPlan) -> ChunkPartial:
    """Sum one chunk's inspected files and directories per (record, gid)."""
    is_file = pc.equal(chunk.type, _FILE)
    entries = pc.or_(is_file, pc.equal(chunk.type, _DIRECTORY)).to_numpy(zero_copy_only=False)
    encoded = chunk.path_pieces
    if _mostly_under_prefixes(encoded, plan):
        # Most paths lie under a root: decode them all.  Paths outside every
        # root are classified as not inspected, so no prefix test is needed.
        rows = np.arange(len(chunk))
        paths = decode_path_spans(encoded)
        keep = entries.copy()
        invalid = np.flatnonzero(entries & ~paths.valid)
        undecodable = int(_under_prefixes(chunk.take_paths(invalid), plan).sum())
    else:
        rows = np.flatnonzero(entries & _under_prefixes(encoded, plan))
        if not len(rows):
            return ChunkPartial(None, None, 0)
        paths = decode_path_spans(chunk.take_paths(rows))
        keep = np.ones(len(rows), dtype=bool)
        undecodable = int((~paths.valid).sum())
    keep &= paths.valid
    data, starts, ends = paths.data, paths.starts, paths.ends
    absolute = (ends > starts) & (data[starts] == _SLASH)
    if not absolute.all():  # only absolute paths have a parent to split off
        rows, starts, ends, keep = rows[absolute], starts[absolute], ends[absolute], keep[absolute]
    files = is_file.to_numpy(zero_copy_only=False)[rows]
    slashes = np.flatnonzero(data == _SLASH)
    last_slash = slashes[np.searchsorted(slashes, ends) - 1]  # an absolute path has one
    directories = pc.dictionary_encode(binary_views(data, starts, np.where(files, last_slash, ends)))
    classes, class_of_directory = plan.record_sets(directories.dictionary.cast(pa.binary()))
    class_of_row = np.where(keep, class_of_directory[directories.indices.to_numpy()], -1)
    inspected = np.flatnonzero(class_of_row >= 0)
    if not len(inspected):
        return ChunkPartial(None, None, undecodable)
    filetype = plan.filetype_matcher.types_of(data, last_slash[inspected] + 1, ends[inspected])
    table = _row_values(chunk, rows[inspected], files[inspected], class_of_row[inspected],
                        filetype, plan)
    by_class = _regroup(table, ["class", "gid", "filetype"],
                        [("used_hi", "sum"), ("used_lo", "sum"), ("files", "sum"), ("mtime", "max"),
                         ("dir_row", "max")])
    by_class = _with_type_columns(by_class, len(plan.filetypes))
    return ChunkPartial(_spread_sums(by_class, classes, _sum_columns(len(plan.filetypes))),
                        _spread_entries(by_class, classes), undecodable)


def _mostly_under_prefixes(encoded: pa.Array | pa.ChunkedArray, plan: InspectionPlan) -> bool:
    """Whether most paths (judged on a sample of the first piece) start like a root's."""
    first = next((piece for piece in pieces_of(encoded) if len(piece)), None)
    if first is None:
        return False
    sample = first.take(np.arange(0, len(first), _SAMPLE_EVERY))
    return bool(_under_prefixes(sample, plan).sum() * 2 > len(sample))


def _under_prefixes(encoded: pa.Array | pa.ChunkedArray, plan: InspectionPlan) -> np.ndarray:
    """Row mask: the path field may stand for a path under one of the roots."""
    if not plan.path_prefixes:
        return np.ones(len(encoded), dtype=bool)
    return prefix_candidates(encoded, plan.path_prefixes)


def _regroup(table: pa.Table, keys: list[str], aggregations: list[tuple[str, str]]) -> pa.Table:
    """group_by + aggregate, with the result columns named like the inputs."""
    grouped = table.group_by(keys, use_threads=False).aggregate(aggregations)
    return grouped.rename_columns([name if name in keys else name.rsplit("_", 1)[0]
                                   for name in grouped.column_names])


def _spread_sums(by_class: pa.Table, classes: list[RecordSet], sums: list[str]) -> pa.Table:
    """Per-class sums counted toward every record of the class, re-summed per (record, gid)."""
    record, source = _spread(by_class.column("class").to_numpy(), [c.records for c in classes])
    columns = {"record": record}
    for name in ["gid", "mtime"] + sums:
        columns[name] = by_class.column(name).to_numpy()[source]
    return _regroup(pa.table(columns), ["record", "gid"],
                    [(name, "sum") for name in sums] + [("mtime", "max")])


def _spread_entries(by_class: pa.Table, classes: list[RecordSet]) -> pa.Table | None:
    """Directory entries that sit exactly at a record: (record, gid, newest row)."""
    dir_rows = by_class.column("dir_row").to_numpy()
    with_entry = np.flatnonzero(dir_rows != NO_ROW)
    if not len(with_entry):
        return None
    class_ids = by_class.column("class").to_numpy()[with_entry]
    record, source = _spread(class_ids, [c.exact for c in classes])
    source = with_entry[source]
    table = pa.table({"record": record, "gid": by_class.column("gid").to_numpy()[source],
                      "dir_row": dir_rows[source]})
    return _regroup(table, ["record", "gid"], [("dir_row", "max")])


def _spread(class_ids: np.ndarray, members: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Each row once per member of its class: (member ids, source row indexes)."""
    counts = np.array([len(m) for m in members], dtype=np.int64)
    flat = np.array([i for m in members for i in m], dtype=np.int64)
    starts = np.cumsum(counts) - counts
    per_row = counts[class_ids]
    source = np.repeat(np.arange(len(class_ids)), per_row)
    position = np.arange(len(source)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    return flat[starts[class_ids][source] + position], source


def _row_values(chunk: Chunk, rows: np.ndarray, files: np.ndarray, classes: np.ndarray,
                filetype: np.ndarray, plan: InspectionPlan) -> pa.Table:
    """The per-row numbers that get summed, with each row's file type (NO_TYPE: not a file)."""
    nlink = chunk.nlink[rows]
    counted = files & (nlink > 0)
    used = np.zeros(len(rows), dtype=np.uint64)
    np.floor_divide(chunk.size[rows], nlink, out=used, where=counted)
    mtime = chunk.mtime[rows]
    dated = (mtime <= plan.mtime_threshold if plan.mtime_threshold is not None
             else np.zeros(len(rows), dtype=bool))
    columns = {
        "class": classes,
        "gid": chunk.gid[rows],
        "used_hi": used >> _HIGH_SHIFT,
        "used_lo": used & _LOW_BITS,
        "files": files.astype(np.int64),
        "mtime": np.where(dated, mtime.astype(np.int64), NO_MTIME),
        "dir_row": np.where(files, NO_ROW, rows.astype(np.int64)),
        "filetype": np.where(files, filetype, NO_TYPE),
    }
    return pa.table(columns)


def _with_type_columns(by_type: pa.Table, type_count: int) -> pa.Table:
    """Add type<i>_hi and _lo: the group's used bytes where its file type is i (else 0)."""
    filetype = by_type.column("filetype").to_numpy()
    for half in _HALVES:
        used = by_type.column(f"used_{half}").to_numpy()
        for index in range(type_count):
            by_type = by_type.append_column(
                f"type{index}_{half}", pa.array(np.where(filetype == index, used, np.uint64(0))))
    return by_type


# ----------------------------------------------------------------- records

class _Totals:
    """Per (record, gid) sums over the chunks seen so far, kept as Arrow tables."""

    def __init__(self, type_count: int) -> None:
        self.sums = _sum_columns(type_count)
        self.tables: list[pa.Table] = []

    def add(self, table: pa.Table) -> None:
        self.tables.append(table)
        if len(self.tables) >= _COMPACT_EVERY:
            self.tables = [self.combined()]

    def combined(self) -> pa.Table | None:
        if not self.tables:
            return None
        return _regroup(pa.concat_tables(self.tables), ["record", "gid"],
                        [(name, "sum") for name in self.sums] + [("mtime", "max")])


@dataclass
class _Accumulator:
    """One record's totals."""

    size: int = 0
    files: int = 0
    mtime: int = NO_MTIME
    types: list[int] = field(default_factory=list)
    bytes_by_gid: dict[int, int] = field(default_factory=dict)
    directory_entry: tuple[tuple[int, int], int] | None = None  # ((chunk, row), gid)


@dataclass(frozen=True)
class DirectoryRecord:
    """One row of the inspector's output (docs/outputs.md)."""

    volume: str
    path: Components
    size: int
    num_files: int
    last_modified: float | None
    filetype_sizes: tuple[int, ...]
    gid: int | None
    group_name: str | None
    is_humgen: bool
    pi: str | None

    @property
    def project(self) -> bytes:
        return b"/".join(self.path[:2])

    @property
    def subdirectory(self) -> bytes:
        return b"/".join(self.path[2:])

    @property
    def key(self) -> bytes:
        """The record's path relative to its root's parent (rows are ordered by it)."""
        return b"/".join(self.path)


class InspectionConsumer:
    """The inspector's share of a read, one chunk at a time.

    :meth:`per_chunk` runs in the reader's parse threads; :meth:`collect`
    takes the partial sums in file order on the reading thread; :meth:`records`
    turns them into the volume's records once the whole snapshot is read.
    """

    def __init__(self, plan: InspectionPlan) -> None:
        self.plan = plan
        self.totals = _Totals(len(plan.filetypes))
        self.entries: list[tuple[int, pa.Table]] = []
        self.undecodable = 0
        self._sequence = 0

    def per_chunk(self, chunk: Chunk) -> ChunkPartial:
        return inspect_chunk(chunk, self.plan)

    def collect(self, partial: ChunkPartial) -> None:
        self.undecodable += partial.undecodable
        if partial.sums is not None:
            self.totals.add(partial.sums)
        if partial.entries is not None:
            self.entries.append((self._sequence, partial.entries))
        self._sequence += 1

    def records(self, snapshot: Snapshot, volume_name: str,
                directory: DirectorySnapshot) -> list[DirectoryRecord]:
        """Every record under the plan's roots, ordered by key."""
        if self.undecodable:
            log.warning("skipped %d lines whose path field does not decode in %s",
                        self.undecodable, snapshot.path)
        records = _accumulate(self.totals.combined(), self.entries, len(self.plan.filetypes))
        paths = self.plan.registry.paths
        finished = [_finish(volume_name, tuple(paths[record].split(b"/")), acc, snapshot.time,
                            directory) for record, acc in records.items()]
        return sorted(finished, key=lambda record: record.key)


def inspect_snapshot(snapshot: Snapshot, volume_name: str, plan: InspectionPlan,
                     directory: DirectorySnapshot,
                     stats: ReadStats | None = None) -> list[DirectoryRecord]:
    """Every record under the plan's roots on one volume, ordered by key."""
    consumer = InspectionConsumer(plan)
    read_once(snapshot, [consumer], label=f"inspecting volume {snapshot.volume}", stats=stats,
              block_size=LEAN_BLOCK_SIZE)
    return consumer.records(snapshot, volume_name, directory)


def _accumulate(sums: pa.Table | None, entries: list[tuple[int, pa.Table]],
                type_count: int) -> dict[int, _Accumulator]:
    """Python totals per record from the final (record, gid) table."""
    records: dict[int, _Accumulator] = {}
    if sums is None:
        return records
    names = ["record", "gid", "used_hi", "used_lo", "files", "mtime"] + [
        f"type{i}_{half}" for i in range(type_count) for half in _HALVES]
    for record, gid, high, low, files, mtime, *halves in zip(*(sums.column(n).to_pylist()
                                                               for n in names)):
        used = (high << 32) + low
        types = [(hi << 32) + lo for hi, lo in zip(halves[::2], halves[1::2])]
        acc = records.get(record)
        if acc is None:
            acc = records[record] = _Accumulator(types=[0] * type_count)
        acc.size += used
        acc.files += files
        acc.mtime = max(acc.mtime, mtime)
        acc.types = [a + b for a, b in zip(acc.types, types)]
        if files:
            acc.bytes_by_gid[gid] = used
    for sequence, table in entries:
        for record, gid, dir_row in zip(*(table.column(n).to_pylist()
                                          for n in ("record", "gid", "dir_row"))):
            acc = records[record]
            entry = ((sequence, dir_row), gid)
            if acc.directory_entry is None or entry > acc.directory_entry:
                acc.directory_entry = entry
    return records


def _finish(volume_name: str, path: Components, acc: _Accumulator, snapshot_time: float,
            directory: DirectorySnapshot) -> DirectoryRecord:
    gid = owning_gid(acc)
    return DirectoryRecord(
        volume=volume_name, path=path, size=acc.size, num_files=acc.files,
        last_modified=days_since(snapshot_time, None if acc.mtime == NO_MTIME else acc.mtime),
        filetype_sizes=tuple(acc.types), gid=gid,
        group_name=None if gid is None else directory.group_name(gid),
        is_humgen=gid is not None and directory.is_humgen(gid),
        pi=None if gid is None else directory.pi(gid),
    )


def owning_gid(acc: _Accumulator) -> int | None:
    """The record's group: its own directory entry's gid (the last one in the
    snapshot), else the gid owning most file bytes beneath (ties: lowest gid)."""
    if acc.directory_entry is not None:
        return acc.directory_entry[1]
    if not acc.bytes_by_gid:
        return None
    return min(acc.bytes_by_gid, key=lambda gid: (-acc.bytes_by_gid[gid], gid))


def plan_for_roots(roots: Sequence[str], depth: int, filetypes: Mapping[str, str],
                   snapshot_time: float) -> InspectionPlan:
    return InspectionPlan(tuple(InspectRoot(root) for root in roots), depth, filetypes,
                          snapshot_time)
