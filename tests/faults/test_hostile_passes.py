"""Hostile snapshots through all three passes: every figure exactly as tests/reference.py says.

Each example is a snapshot of hostile lines (see tests/hostile.py), usually
spread through enough well-formed lines to stay within the malformed
fraction.  The report's usage per gid, the inspector's records and the
splitter's kept lines per group file are compared with the plain per-line
reference; a file the reference calls a failed snapshot must stop each pass
with an error naming it.  The ``amended`` test covers the whole of
docs/snapshots.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import os
import re
import tempfile

import pytest
from hypothesis import example, given, strategies as st

from tests.hostile import (HOSTILE, HUMGEN, NAMED, ROOTS, SNAPSHOT_TIME, ANY_GROUP_PREFIXES, Domain,
                           hostile_lines, padded, write_gzip)
from tests.reference import (count_lines, inspect_reference, is_failed_snapshot, kept_lines,
                             split_lines, usage_by_gid)
from utils.common.config import DEFAULT_FILETYPES, SplitterConfig
from utils.common.errors import SnapshotError
from utils.directory.ldap import DirectorySnapshot
from utils.inspector.aggregate import inspect_snapshot, plan_for_roots
from utils.report.rows import days_since
from utils.report.usage import aggregate_usage
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats
from utils.splitter.split import make_plan, split_snapshots

DIRECTORY = DirectorySnapshot(humgen=HUMGEN, pis={1001: "Smith"}, posix={**HUMGEN, **NAMED})
SPLITTER = SplitterConfig(special_prefixes=ANY_GROUP_PREFIXES)
DATE = dt.date(2025, 11, 24)

_TAIL = b"\t%d\t501\t%d\t1\t%d\t1\t%s\t7\t1\t64768"
# Lines the amended rules read differently from the passes before the reader rework.
AMENDED_ONLY = [
    b'"/lustre/scratch118/humgen/projects/p1/a b/"' + _TAIL % (4096, 1001, SNAPSHOT_TIME, b"d")
    + b"\n",
    b'"/lustre/scratch118/vr/projects/x\\ty.bam"' + _TAIL % (2**62, 2001, SNAPSHOT_TIME - 9, b"f")
    + b"\t12\n",
    base64.b64encode(b"/lustre/scratch118/humgen/projects/p1/a b/c.cram")
    + _TAIL % (2**62 + 3, 1002, SNAPSHOT_TIME - 86400, b"f") + b"\n",
    base64.b64encode(b"/lustre/scratch118/humgen/projects/p1/big")
    + _TAIL % (2**63, 1002, SNAPSHOT_TIME - 86400, b"f") + b"\n",  # malformed: 2^63
]


def check_passes(text: bytes, depth: int) -> None:
    lines = split_lines(text)
    counts = count_lines(lines)
    with tempfile.TemporaryDirectory() as folder:
        path = write_gzip(os.path.join(folder, "20251124_118.dat.gz"), text)
        snapshot = Snapshot(path, 118, DATE, SNAPSHOT_TIME)
        output = os.path.join(folder, "groups")
        os.mkdir(output)
        plan = plan_for_roots(ROOTS, depth, DEFAULT_FILETYPES, SNAPSHOT_TIME)
        passes = {
            "report": lambda stats: aggregate_usage(snapshot, stats),
            "inspector": lambda stats: inspect_snapshot(snapshot, "scratch118", plan, DIRECTORY,
                                                        stats),
            "splitter": lambda stats: split_snapshots([snapshot], make_plan(DIRECTORY, SPLITTER),
                                                      output),
        }
        if is_failed_snapshot(counts):
            for name, run in passes.items():
                with pytest.raises(SnapshotError, match=re.escape(path)):
                    run(ReadStats(path))
            return
        found = {}
        for name, run in passes.items():
            stats = ReadStats(path)
            found[name] = run(stats)
            if name != "splitter":
                assert (stats.lines, stats.malformed) == (counts.lines, counts.malformed), name
        split_files = {name: gzip.decompress(open(os.path.join(output, name), "rb").read())
                       for name in os.listdir(output)}

    usage = {gid: (group.used, group.last_mtime) for gid, group in found["report"].items()}
    assert usage == usage_by_gid(lines, SNAPSHOT_TIME)

    records = {r.path: (r.size, r.num_files, list(r.filetype_sizes), r.gid, r.last_modified)
               for r in found["inspector"]}
    reference = inspect_reference(lines, ROOTS, depth, DEFAULT_FILETYPES, SNAPSHOT_TIME)
    assert records == {key: (v["size"], v["files"], v["types"], v["gid"],
                             days_since(SNAPSHOT_TIME, v["mtime"])) for key, v in reference.items()}
    assert [r.key for r in found["inspector"]] == sorted(b"/".join(key) for key in reference)

    kept = kept_lines(lines, HUMGEN, NAMED, [prefix.encode() for prefix in ANY_GROUP_PREFIXES])
    assert split_files == {f"{DIRECTORY.name(gid)}.dat.gz": b"".join(raw + b"\n" for raw in raws)
                           for gid, raws in kept.items()}
    assert found["splitter"].lines_kept == sum(len(raws) for raws in kept.values())
    assert found["splitter"].lines_read == counts.lines


@HOSTILE
@given(hostile_lines(Domain.PRESENT), st.sampled_from([0, 1, 2, 3]))
def test_present_rules_through_every_pass(lines: list[bytes], depth: int) -> None:
    check_passes(padded(lines), depth)


@HOSTILE
@given(hostile_lines(Domain.AMENDED), st.sampled_from([0, 1, 2, 3]), st.booleans())
@example(AMENDED_ONLY, 2, True)
def test_amended_rules_through_every_pass(lines: list[bytes], depth: int, pad: bool) -> None:
    check_passes(padded(lines) if pad else b"".join(lines), depth)
