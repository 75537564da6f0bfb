"""Run faults: two managers at once, and a manager killed with SIGKILL in the middle of a run.

The first manager is kept busy by the fake lfs sleeping for one group of
volume 119, while volume 118's worker has already staged its rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import time
from pathlib import Path

from tests.faults.common import (Entry, expected_db_rows, expected_tsv, kill_group, listing,
                                 make_config, run, start, tsv_path, usage_rows, wait_for,
                                 write_snapshots)

ENTRIES = (Entry(118, 1001, 5000, 1), Entry(118, 2001, 7000, 2),
           Entry(119, 1002, 9000, 3), Entry(119, 1003, 11000, 4))
SLOW_GROUP = "tanaka-lab"  # only on volume 119


def test_second_manager_is_refused_and_a_killed_run_is_cleaned_up(tmp_path: Path, fake_lfs) -> None:
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config = make_config(tmp_path, db_url, quota={"lfs": fake_lfs.command, "timeout": 60})
    fake_lfs.default(used=1, soft=0, hard=2)
    fake_lfs.set(SLOW_GROUP, sleep=20, used=1, soft=0, hard=2)
    snapshot_time = int(time.time()) - 60
    date = dt.date.fromtimestamp(snapshot_time)
    files = write_snapshots(tmp_path / "mpistat", ENTRIES, date, snapshot_time)
    reports = tmp_path / "reports"
    staging = reports / ".lurge-staging"

    first = start("manager.py", "report", "--config", str(config))
    try:
        wait_for(lambda: list(staging.glob(f"report-{date:%Y%m%d}-118-*.sqlite")), 60,
                 "volume 118 to be staged", first)
        wait_for(lambda: any(call[3] == SLOW_GROUP for call in fake_lfs.calls()), 30,
                 "the slow lfs call", first)

        second, elapsed = run("manager.py", "report", "--config", str(config))
        assert second.returncode == 1, second.stderr
        assert (f"manager.py: failed: another lurge run (pid {first.pid}) holds "
                f"{reports}/.lurge.lock; not starting\n") in second.stderr
        assert elapsed < 10  # refused at once, not after waiting for the first
        assert first.poll() is None  # the first run is untouched
    finally:
        kill_group(first)  # SIGKILL: no cleanup code runs
        for pid in fake_lfs.pids():  # the sleeping lfs (its own session) was started by this run
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert first.returncode == -signal.SIGKILL
    left = listing(staging)
    assert len(left) == 1 and left[0].startswith(f"report-{date:%Y%m%d}-118-")
    assert not tsv_path(tmp_path, date).exists()
    assert usage_rows(db_url) == []
    assert sorted(p.name for p in reports.iterdir()) == [".lurge-staging", ".lurge.lock"]  # no links

    fake_lfs.set(SLOW_GROUP, used=1, soft=0, hard=2)
    third, _ = run("manager.py", "report", "--config", str(config))
    assert third.returncode == 0, third.stderr
    assert "removed 1 staging files left by an earlier run" in third.stderr
    assert listing(staging) == []
    quotas = {name: (2048, 1024) for name in ("hgi", "ops", "mueller-lab", "tanaka-lab")}
    assert tsv_path(tmp_path, date).read_text(encoding="utf-8") == expected_tsv(ENTRIES, quotas)
    assert usage_rows(db_url) == [(*row[:5], 2048, 1024, *row[7:])
                                  for row in expected_db_rows(ENTRIES, date)]
    for volume, path in files.items():
        assert os.readlink(reports / f"latest-{volume}.dat.gz") == str(path)
