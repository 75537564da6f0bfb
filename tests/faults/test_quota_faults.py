"""Quota faults: an ``lfs quota`` that hangs for one group (the fake lfs sleeps)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from tests.faults.common import (ENTRIES, expected_db_rows, expected_tsv, make_config, run,
                                 sort_rows, tsv_path, usage_rows, write_snapshots)

DATE = dt.date(2023, 11, 14)
T = 1_700_000_000
QUOTA_TIMEOUT = 1
HANGS = "mueller-lab"


def test_hanging_lfs_times_out_for_that_group_and_the_run_completes(tmp_path: Path,
                                                                    fake_lfs) -> None:
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config = make_config(tmp_path, db_url,
                         quota={"lfs": fake_lfs.command, "timeout": QUOTA_TIMEOUT, "concurrency": 2})
    fake_lfs.default(used=3, soft=0, hard=5)
    fake_lfs.set(HANGS, sleep=60, used=1, hard=1)
    files = write_snapshots(tmp_path / "mpistat", ENTRIES, DATE, T)
    result, elapsed = run("report.py", "--config", str(config), DATE.isoformat(),
                          *map(str, files.values()))

    assert result.returncode == 0, result.stderr
    assert elapsed < 20  # one timed-out call per volume, not a 60 s hang
    names = ("hgi", "mueller-lab", "tanaka-lab", "ops", "77777")
    quotas = {name: (5 * 1024, 3 * 1024) for name in names if name != HANGS}
    assert tsv_path(tmp_path, DATE).read_text(encoding="utf-8") == expected_tsv(ENTRIES, quotas)
    assert usage_rows(db_url) == sort_rows(
        (*row[:5], *quotas.get(row[2], (None, None)), *row[7:])
        for row in expected_db_rows(ENTRIES, DATE))
    for mount in ("/lustre/scratch118", "/lustre/scratch119"):
        assert (f"lfs quota failed for 1 of 5 groups on {mount} (their quota is left empty): "
                f"[{HANGS}] timed out after {QUOTA_TIMEOUT} s") in result.stderr
    # the two hung calls were killed: they never finished, and they are gone
    trace = [json.loads(line) for line in fake_lfs.trace_path.read_text().splitlines()]
    finished = {event["pid"] for event in trace if event["event"] == "end"}
    hung = [pid for pid in fake_lfs.pids() if pid not in finished]
    assert len(hung) == 2 and len(fake_lfs.calls()) == 10
    for pid in hung:
        assert not os.path.exists(f"/proc/{pid}")
