"""The same tree written as mpistat, wrstat 5 and wrstat 6 gives the same results.

The generator writes one tree (with every hard name, odd directories, a few
malformed lines, paths that do not decode and unusual separators) in each
shape.  Report usage, inspector records and the splitter's per-group line
selections must be identical across shapes, and each split file must hold
that shape's own lines, byte for byte, in input order.  The mpistat results
are themselves checked against tests/reference.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import os
from pathlib import Path

import pytest

from tests.reference import inspect_reference, kept_lines, split_lines, usage_by_gid
from utils.common.config import DEFAULT_FILETYPES, SplitterConfig
from utils.demo.synthetic import (ALL_ODD_NAMES, SyntheticOptions, snapshot_name, synthetic_lines,
                                  write_snapshot)
from utils.directory.ldap import DirectorySnapshot
from utils.inspector.aggregate import DirectoryRecord, inspect_snapshot, plan_for_roots
from utils.report.rows import days_since
from utils.report.usage import aggregate_usage
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats
from utils.splitter.split import make_plan, split_snapshots

MOUNT = "/lustre/scratch118"
ROOTS = [f"{MOUNT}/humgen/projects", f"{MOUNT}/realdata/mdt[0-9]/projects", f"{MOUNT}/users"]
SNAPSHOT_TIME = 1_764_000_000
DATE = dt.date(2025, 11, 24)
HUMGEN = {1001: "hgi", 1003: "tanaka-lab"}
NAMED = {1002: "mueller-lab", 2001: "ops", 2002: "shared-dev"}
DIRECTORY = DirectorySnapshot(humgen=HUMGEN, pis={1001: "Smith"}, posix={**HUMGEN, **NAMED})
ANY_GROUP_PREFIXES = (f"{MOUNT}/humgen/projects/project00", f"{MOUNT}/realdata/mdt1", f"{MOUNT}/users/ab1")
TREE = SyntheticOptions(seed=31, lines=8000, snapshot_time=SNAPSHOT_TIME,
                        malformed_fraction=0.004, bad_base64_fraction=0.01, unusual_fraction=0.03,
                        odd_names=ALL_ODD_NAMES, odd_name_fraction=0.05, odd_directories=True)


@dataclasses.dataclass
class Results:
    """What the three passes make of one shape's snapshot."""

    lines: list[bytes]  # the shape's lines, without newlines
    counts: tuple[int, int]  # lines, malformed
    usage: dict[int, tuple[int, int | None]]
    records: list[DirectoryRecord]
    split: dict[str, bytes]  # file name -> decompressed content

    def split_indexes(self) -> dict[str, list[int]]:
        """Each split file's lines as indexes into the shape's lines (in input order)."""
        indexes: dict[str, list[int]] = {}
        for name, content in self.split.items():
            position = 0
            found = indexes[name] = []
            for raw in split_lines(content):
                position = self.lines.index(raw, position)
                found.append(position)
                position += 1
        return indexes


def results(folder: Path, shape: str) -> Results:
    lines = list(synthetic_lines(MOUNT, dataclasses.replace(TREE, shape=shape)))
    path = str(folder / snapshot_name(shape, DATE, 118))
    write_snapshot(path, lines, mtime=SNAPSHOT_TIME)
    snapshot = Snapshot(path, 118, DATE, SNAPSHOT_TIME)
    stats = ReadStats(path)
    usage = aggregate_usage(snapshot, stats)
    plan = plan_for_roots(ROOTS, 2, DEFAULT_FILETYPES, SNAPSHOT_TIME)
    records = inspect_snapshot(snapshot, "scratch118", plan, DIRECTORY)
    output = folder / f"groups-{shape}"
    output.mkdir()
    split_snapshots([snapshot], make_plan(DIRECTORY, SplitterConfig(special_prefixes=ANY_GROUP_PREFIXES)),
                    str(output))
    split = {name: gzip.decompress((output / name).read_bytes()) for name in os.listdir(output)}
    return Results([line[:-1] for line in lines], (stats.lines, stats.malformed),
                   {gid: (group.used, group.last_mtime) for gid, group in usage.items()},
                   records, split)


@pytest.fixture(scope="module")
def mpistat(tmp_path_factory: pytest.TempPathFactory) -> Results:
    return results(tmp_path_factory.mktemp("mpistat"), "mpistat")


def test_mpistat_results_match_the_reference(mpistat: Results) -> None:
    lines = mpistat.lines
    assert mpistat.usage == usage_by_gid(lines, SNAPSHOT_TIME)
    reference = inspect_reference(lines, ROOTS, 2, DEFAULT_FILETYPES, SNAPSHOT_TIME)
    assert {r.path: (r.size, r.num_files, list(r.filetype_sizes), r.gid, r.last_modified)
            for r in mpistat.records} == {
        key: (v["size"], v["files"], v["types"], v["gid"], days_since(SNAPSHOT_TIME, v["mtime"]))
        for key, v in reference.items()}
    kept = kept_lines(lines, HUMGEN, NAMED, [prefix.encode() for prefix in ANY_GROUP_PREFIXES])
    assert mpistat.split == {f"{DIRECTORY.name(gid)}.dat.gz": b"".join(raw + b"\n" for raw in raws)
                             for gid, raws in kept.items()}
    assert set(kept) > set(HUMGEN)  # lines of named groups kept under the special prefixes
    assert 0 < mpistat.counts[1] <= 0.01 * mpistat.counts[0]


@pytest.mark.parametrize("shape", [
    "wrstat5",
    "wrstat6",
])
def test_every_shape_gives_the_same_results(tmp_path: Path, shape: str, mpistat: Results) -> None:
    found = results(tmp_path, shape)
    assert found.counts == mpistat.counts
    assert found.usage == mpistat.usage
    assert found.records == mpistat.records
    assert found.split_indexes() == mpistat.split_indexes()
    for name, indexes in found.split_indexes().items():  # the shape's own bytes, in input order
        assert found.split[name] == b"".join(found.lines[i] + b"\n" for i in indexes)
