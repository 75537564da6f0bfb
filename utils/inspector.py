"""The project inspector's aggregation pass (SPEC §3).

Per chunk, with Arrow/NumPy: keep files and directories whose base64 path
can lie under a root, decode those paths, take each entry's directory (the
entry for ``d``, its parent for ``f``) and classify every *distinct*
directory once in Python (which records it counts toward).  Rows are then
summed per (directory class, gid) by Arrow; the main thread only merges those
small partial tables into per-record accumulators.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.b64paths import decode_paths
from utils.errors import ConfigError
from utils.ldap import DirectorySnapshot
from utils.mpistat import Chunk, ReadStats, Snapshot, map_chunks
from utils.report_rows import days_since
from utils.roots import NOT_INSPECTED, Components, DirClass, InspectRoot, classify

log = logging.getLogger(__name__)

NO_MTIME = -1
NO_ROW = -1
_FILE = b"f"
_DIRECTORY = b"d"


@dataclass
class InspectionPlan:
    """What to inspect on one volume and how (shared by the chunk workers)."""

    roots: tuple[InspectRoot, ...]
    depth: int
    filetypes: Mapping[str, str]  # name -> regex on the file name, first match wins
    snapshot_time: float
    _classes: dict[bytes, DirClass] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._matchers = [root.matcher() for root in self.roots]
        prefixes = {root.encoded_prefix for root in self.roots}
        # base64 prefixes that every inspected path starts with (none: no filter)
        self.path_prefixes = () if b"" in prefixes else tuple(sorted(prefixes))
        self.mtime_threshold = np.uint64(math.floor(self.snapshot_time))
        check_filetype_patterns(self.filetypes)

    def classify(self, directory: bytes) -> DirClass:
        """The records a directory's entries count toward (cached)."""
        cached = self._classes.get(directory)
        if cached is None:
            cached = classify(directory, self._matchers, self.depth)
            self._classes[directory] = cached
        return cached


def check_filetype_patterns(filetypes: Mapping[str, str]) -> None:
    """Every pattern must compile for Arrow's regex engine (RE2)."""
    probe = pa.array([b"x"], type=pa.binary())
    for name, pattern in filetypes.items():
        try:
            pc.match_substring_regex(probe, pattern, ignore_case=True)
        except pa.ArrowInvalid as exc:
            raise ConfigError(f"[inspector] filetypes.{name}: pattern {pattern!r} is not "
                              f"supported (RE2 syntax): {exc}") from None


@dataclass
class ChunkPartial:
    """One chunk's sums per (record, gid); ``record`` indexes ``paths``."""

    paths: list[Components]
    sums: pa.Table | None  # record, gid, used_sum, file_sum, mtime_max, type<i>_sum
    directory_entries: pa.Table | None  # record, gid, dir_row_max: directory entries at a record
    undecodable: int


def inspect_chunk(chunk: Chunk, plan: InspectionPlan) -> ChunkPartial:
    """Sum one chunk's inspected files and directories per (class, gid)."""
    kind = chunk.type
    is_file = pc.equal(kind, _FILE)
    wanted = pc.or_(is_file, pc.equal(kind, _DIRECTORY))
    if plan.path_prefixes:
        under = [pc.starts_with(chunk.path, prefix.decode()) for prefix in plan.path_prefixes]
        for each in under:
            wanted = pc.and_(wanted, each) if len(under) == 1 else wanted
        if len(under) > 1:
            any_under = under[0]
            for each in under[1:]:
                any_under = pc.or_(any_under, each)
            wanted = pc.and_(wanted, any_under)
    rows = np.flatnonzero(wanted.to_numpy(zero_copy_only=False))
    if not len(rows):
        return ChunkPartial([], None, None, 0)
    decoded, valid = decode_paths(chunk.path.take(rows))
    undecodable = int(len(valid) - valid.sum())
    absolute = pc.starts_with(decoded, "/").to_numpy(zero_copy_only=False) & valid
    if not absolute.all():
        keep = np.flatnonzero(absolute)
        rows, decoded = rows[keep], decoded.take(keep)
    files = is_file.take(rows)
    parts = pc.split_pattern(decoded, pattern="/", max_splits=1, reverse=True)
    directories = pc.if_else(files, pc.list_element(parts, 0), decoded)
    encoded = pc.dictionary_encode(directories)
    found = [plan.classify(directory) for directory in encoded.dictionary.to_pylist()]
    local_ids: dict[DirClass, int] = {}
    class_of_directory = np.array(
        [-1 if c is NOT_INSPECTED else local_ids.setdefault(c, len(local_ids)) for c in found],
        dtype=np.int64)
    class_of_row = class_of_directory[encoded.indices.to_numpy()]
    inspected = np.flatnonzero(class_of_row >= 0)
    if not len(inspected):
        return ChunkPartial([], None, None, undecodable)
    rows = rows[inspected]
    files_np = files.to_numpy(zero_copy_only=False)[inspected]
    basenames = pc.list_element(parts, 1).take(inspected)
    table = _row_values(chunk, rows, files_np, class_of_row[inspected], basenames, plan)
    type_sums = [(f"type{index}", "sum") for index in range(len(plan.filetypes))]
    by_class = table.group_by(["class", "gid"]).aggregate(
        [("used", "sum"), ("file", "sum"), ("mtime", "max"), ("dir_row", "max")] + type_sums)
    return _per_record(by_class, list(local_ids), len(plan.filetypes), undecodable)


def _per_record(by_class: pa.Table, classes: list[DirClass], type_count: int,
                undecodable: int) -> ChunkPartial:
    """Spread per-class sums over each class's records and re-sum per (record, gid)."""
    paths: dict[Components, int] = {}
    records = [[paths.setdefault(p, len(paths)) for p in c.records] for c in classes]
    exact = [[paths.setdefault(p, len(paths)) for p in c.exact] for c in classes]
    class_ids = by_class.column("class").to_numpy()
    record_ids, source = _spread(class_ids, records)
    columns = {"record": record_ids}
    for name in ["gid", "used_sum", "file_sum", "mtime_max"] + [f"type{i}_sum" for i in range(type_count)]:
        columns[name] = by_class.column(name).to_numpy()[source]
    sums = pa.table(columns).group_by(["record", "gid"]).aggregate(
        [("used_sum", "sum"), ("file_sum", "sum"), ("mtime_max", "max")]
        + [(f"type{i}_sum", "sum") for i in range(type_count)])
    dir_rows = by_class.column("dir_row_max").to_numpy()
    with_entry = np.flatnonzero(dir_rows != NO_ROW)
    entries = None
    if len(with_entry):
        exact_records, source = _spread(class_ids[with_entry], exact)
        source = with_entry[source]
        entries = pa.table({"record": exact_records,
                            "gid": by_class.column("gid").to_numpy()[source],
                            "dir_row": dir_rows[source]}).group_by(["record", "gid"]).aggregate(
            [("dir_row", "max")])
    return ChunkPartial(list(paths), sums, entries, undecodable)


def _spread(class_ids: np.ndarray, members: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """For rows of classes, (member id, source row) pairs: each row once per member."""
    counts = np.array([len(m) for m in members], dtype=np.int64)
    flat = np.array([i for m in members for i in m], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
    per_row = counts[class_ids]
    source = np.repeat(np.arange(len(class_ids)), per_row)
    first = np.repeat(starts[class_ids] - (np.cumsum(per_row) - per_row), per_row)
    return flat[first + np.arange(len(source))], source


def _row_values(chunk: Chunk, rows: np.ndarray, files: np.ndarray, classes: np.ndarray,
                basenames: pa.Array, plan: InspectionPlan) -> pa.Table:
    """The per-row numbers that get summed."""
    nlink = chunk.nlink[rows]
    counted = files & (nlink > 0)
    used = np.zeros(len(rows), dtype=np.uint64)
    np.floor_divide(chunk.size[rows], nlink, out=used, where=counted)
    mtime = chunk.mtime[rows]
    columns = {
        "class": classes,
        "gid": chunk.gid[rows],
        "used": used,
        "file": files.astype(np.int64),
        "mtime": np.where(mtime <= plan.mtime_threshold, mtime.astype(np.int64), NO_MTIME),
        "dir_row": np.where(files, NO_ROW, rows.astype(np.int64)),
    }
    for index, typed in enumerate(_first_filetype(basenames, files, plan.filetypes)):
        columns[f"type{index}"] = np.where(typed, used, np.uint64(0))
    return pa.table(columns)


def _first_filetype(names: pa.Array, files: np.ndarray,
                    filetypes: Mapping[str, str]) -> list[np.ndarray]:
    """Per file type, which rows are files whose name it matches first."""
    taken = ~files
    masks = []
    for pattern in filetypes.values():
        matched = pc.match_substring_regex(names, pattern, ignore_case=True)
        mask = matched.to_numpy(zero_copy_only=False) & ~taken
        taken |= mask
        masks.append(mask)
    return masks


# ----------------------------------------------------------------- records

@dataclass
class _Accumulator:
    """Running totals of one record."""

    size: int = 0
    files: int = 0
    mtime: int = NO_MTIME
    types: list[int] = field(default_factory=list)
    bytes_by_gid: dict[int, int] = field(default_factory=dict)
    directory_entry: tuple[tuple[int, int], int] | None = None  # ((chunk, row), gid)


@dataclass(frozen=True)
class DirectoryRecord:
    """One row of the inspector's output (SPEC §3)."""

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


def inspect_snapshot(snapshot: Snapshot, volume_name: str, plan: InspectionPlan,
                     directory: DirectorySnapshot,
                     stats: ReadStats | None = None) -> list[DirectoryRecord]:
    """Every record under the plan's roots on one volume, ordered by key."""
    records: dict[Components, _Accumulator] = {}
    type_count = len(plan.filetypes)
    undecodable = 0
    label = f"inspecting volume {snapshot.volume}"
    partials = map_chunks(snapshot.path, lambda chunk: inspect_chunk(chunk, plan),
                          label=label, stats=stats)
    for sequence, partial in enumerate(partials):
        undecodable += partial.undecodable
        if partial.sums is not None:
            _merge(records, partial, sequence, type_count)
    if undecodable:
        log.warning(
            "skipped %d lines whose path is not valid base64 in %s", undecodable, snapshot.path)
    finished = [_finish(volume_name, path, acc, snapshot.time, directory)
                for path, acc in records.items()]
    return sorted(finished, key=lambda record: record.key)


def _merge(records: dict[Components, _Accumulator], partial: ChunkPartial, sequence: int,
           type_count: int) -> None:
    """Add one chunk's per-(record, gid) sums to the running totals (main thread)."""
    paths = partial.paths
    sums = partial.sums
    names = ["record", "gid", "used_sum_sum", "file_sum_sum", "mtime_max_max"]
    names += [f"type{index}_sum_sum" for index in range(type_count)]
    for record, gid, used, files, mtime, *types in zip(*(sums.column(n).to_pylist() for n in names)):
        acc = records.get(paths[record])
        if acc is None:
            acc = records[paths[record]] = _Accumulator(types=[0] * type_count)
        acc.size += used
        acc.files += files
        if mtime > acc.mtime:
            acc.mtime = mtime
        acc.types = [a + b for a, b in zip(acc.types, types)]
        if files:
            acc.bytes_by_gid[gid] = acc.bytes_by_gid.get(gid, 0) + used
    entries = partial.directory_entries
    if entries is None:
        return
    for record, gid, dir_row in zip(*(entries.column(n).to_pylist()
                                      for n in ("record", "gid", "dir_row_max"))):
        acc = records[paths[record]]
        entry = ((sequence, dir_row), gid)
        if acc.directory_entry is None or entry > acc.directory_entry:
            acc.directory_entry = entry


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
