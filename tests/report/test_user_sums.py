"""Property: the per-user rows split the group rows exactly.

For generated snapshots of several volumes, the rows a report worker stages
(from one read per volume) are checked: for every volume and group, the user
rows' used bytes add up to the group row's, the newest of their last-modified
figures is the group's, and every user row is what tests/reference.py
computes line by line.  Their inodes add up to the group row's too, except for
the entries of owners whose rows are dropped by the report's rule (nothing
used and nothing dated, e.g. only files being deleted): those entries still
count in the group's inodes, so they are added back here.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import tempfile

from hypothesis import given, settings, strategies as st

from tests.reference import read_lines, records, reported, usage_by_owner
from utils.common.config import QuotaConfig, VolumeConfig
from utils.demo.synthetic import format_line, write_snapshot
from utils.directory.ldap import DirectorySnapshot
from utils.report.worker import VolumeTask, stage_usage
from utils.report.staging import read_rows, read_user_rows
from utils.report.usage import aggregate_owner_usage
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import ReadStats

T = 1_764_000_000  # snapshot time
DATE = dt.date(2025, 11, 24)
DIRECTORY = DirectorySnapshot(humgen={1001: "hgi"}, pis={}, posix={1001: "hgi", 2001: "ops"},
                              users={10001: "jd1", 10002: "mm2"})
UIDS = (0, 501, 10001, 10002)
GIDS = (1001, 2001, 4242)


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """One well-formed line: any owner, sizes up to 2^62, hard links, clock skew."""
    size = draw(st.one_of(st.integers(0, 5000), st.integers(0, 2**62)))
    mtime = draw(st.one_of(st.integers(T - 400 * 86400, T), st.integers(T + 1, T + 86400)))
    return format_line(b"/lustre/scratch118/x", size, draw(st.sampled_from(UIDS)),
                       draw(st.sampled_from(GIDS)), mtime, mtime, mtime,
                       draw(st.sampled_from("fdl")), 1, draw(st.integers(0, 3)), 64768)


@settings(deadline=None, database=None, max_examples=int(os.environ.get("LURGE_FUZZ_EXAMPLES",
                                                                        "40")))
@given(volumes=st.lists(st.lists(lines(), min_size=1, max_size=40), min_size=1, max_size=3))
def test_user_rows_add_up_to_the_group_rows(volumes: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for number, volume_lines in enumerate(volumes, start=118):
            check_volume(folder, number, volume_lines)


def check_volume(folder: str, number: int, volume_lines: list[bytes]) -> None:
    path = os.path.join(folder, f"20251124_{number}.dat.gz")
    write_snapshot(path, volume_lines, mtime=T)
    snapshot = Snapshot(path, number, DATE, T)
    volume = VolumeConfig(number, f"/lustre/scratch{number}")
    task = VolumeTask(volume, snapshot, DIRECTORY, QuotaConfig(lfs=""),
                      os.path.join(folder, f"staged-{number}.sqlite"))
    stats = ReadStats(path)
    stage_usage(task, aggregate_owner_usage(snapshot, stats), stats)
    groups = read_rows(task.staging_file)
    users = read_user_rows(task.staging_file)

    raw = read_lines(path)
    inodes = collections.Counter((record.uid, record.gid) for record in records(raw))
    owners = usage_by_owner(raw, T)
    kept = reported(owners)
    dropped_inodes = collections.Counter()
    for uid, gid in owners.keys() - kept.keys():
        dropped_inodes[DIRECTORY.group_name(gid)] += inodes[(uid, gid)]

    by_group = collections.defaultdict(list)
    for row in users:
        by_group[(row.volume, row.group_name, row.is_humgen)].append(row)
    assert sorted(by_group) == sorted((row.volume, row.group_name, row.is_humgen) for row in groups)
    for group in groups:
        members = by_group[(group.volume, group.group_name, group.is_humgen)]
        assert sum(row.used for row in members) == group.used
        assert sum(row.inodes for row in members) + dropped_inodes[group.group_name] == \
            group.inodes
        dated = [row.last_modified for row in members if row.last_modified is not None]
        assert (min(dated) if dated else None) == group.last_modified

    expected = {(DIRECTORY.user_name(uid), DIRECTORY.group_name(gid)):
                (used, inodes[(uid, gid)], None if mtime is None else round((T - mtime) / 86400, 1))
                for (uid, gid), (used, mtime) in kept.items()}
    assert {(row.user_name, row.group_name): (row.used, row.inodes, row.last_modified)
            for row in users} == expected
    assert len(users) == len(expected)
