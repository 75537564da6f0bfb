"""The inspector's sums are exact past 2**64 (no uint64 wrap), like the reference's."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from tests.hostile import HUMGEN, NAMED, ROOTS, SNAPSHOT_TIME, write_gzip
from tests.reference import inspect_reference, split_lines
from utils.common.config import DEFAULT_FILETYPES
from utils.directory.ldap import DirectorySnapshot
from utils.inspector.aggregate import inspect_snapshot, plan_for_roots
from utils.snapshots.discovery import Snapshot

BIG = 2**63 - 1  # the largest well-formed size


def _line(name: bytes, size: int, gid: int) -> bytes:
    path = base64.b64encode(b"/lustre/scratch118/humgen/projects/p1/" + name)
    return path + b"\t%d\t501\t%d\t1\t%d\t1\tf\t7\t1\t64768\n" % (size, gid, SNAPSHOT_TIME - 5)


def test_sums_past_2_64_and_the_owning_group_are_exact(tmp_path: Path) -> None:
    # gid 1002 holds 3 × BIG (wraps in 64 bits to less than gid 1001's 2 × BIG)
    text = b"".join([_line(b"a.bam", BIG, 1001), _line(b"b.bam", BIG, 1001)]
                    + [_line(b"c%d.bam" % i, BIG, 1002) for i in range(3)])
    path = write_gzip(str(tmp_path / "20251124_118.dat.gz"), text)
    plan = plan_for_roots(ROOTS, 1, DEFAULT_FILETYPES, SNAPSHOT_TIME)
    directory = DirectorySnapshot(humgen=HUMGEN, pis={}, posix={**HUMGEN, **NAMED})
    records = inspect_snapshot(Snapshot(path, 118, dt.date(2025, 11, 24), SNAPSHOT_TIME),
                               "scratch118", plan, directory)
    assert [(r.path, r.size, r.num_files, r.gid) for r in records] == [
        ((b"projects",), 5 * BIG, 5, 1002), ((b"projects", b"p1"), 5 * BIG, 5, 1002)]
    bam = list(DEFAULT_FILETYPES).index("BAM")
    assert all(r.filetype_sizes[bam] == 5 * BIG for r in records)
    reference = inspect_reference(split_lines(text), ROOTS, 1, DEFAULT_FILETYPES, SNAPSHOT_TIME)
    assert {key: (v["size"], v["gid"]) for key, v in reference.items()} == {
        r.path: (r.size, r.gid) for r in records}
