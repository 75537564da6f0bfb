"""Run faults: two managers at once, a manager killed with SIGKILL in the middle of a run, and
runs stopped by SIGTERM (what LSF's bkill sends) or Ctrl-C.

A manager is kept busy by the fake lfs sleeping for one group of volume 119,
while volume 118's worker has already staged its rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.faults.common import (Entry, expected_db_rows, expected_tsv, finish_process, kill_group,
                                 listing, make_config, run, start, tsv_path, usage_rows, wait_for,
                                 write_snapshots)
from utils.demo.synthetic import format_line, write_snapshot

ENTRIES = (Entry(118, 1001, 5000, 1), Entry(118, 2001, 7000, 2),
           Entry(119, 1002, 9000, 3), Entry(119, 1003, 11000, 4))
SLOW_GROUP = "tanaka-lab"  # only on volume 119


def report_setup(tmp_path: Path, db_url: str, fake_lfs, slow_seconds: int
                 ) -> tuple[Path, dt.date, dict[int, Path]]:
    """A config and today's snapshots where ``lfs quota`` of SLOW_GROUP takes ``slow_seconds``."""
    config = make_config(tmp_path, db_url, quota={"lfs": fake_lfs.command, "timeout": 60})
    fake_lfs.default(used=1, soft=0, hard=2)
    fake_lfs.set(SLOW_GROUP, sleep=slow_seconds, used=1, soft=0, hard=2)
    snapshot_time = int(time.time()) - 60
    date = dt.date.fromtimestamp(snapshot_time)
    return config, date, write_snapshots(tmp_path / "mpistat", ENTRIES, date, snapshot_time)


def wait_until_held_by_lfs(process: subprocess.Popen, staging: Path, date: dt.date, fake_lfs) -> None:
    """Until ``process`` has staged volume 118 and waits on the slow ``lfs`` call."""
    wait_for(lambda: list(staging.glob(f"report-{date:%Y%m%d}-118-*.sqlite")), 60,
             "volume 118 to be staged", process)
    wait_for(lambda: any(call[3] == SLOW_GROUP for call in fake_lfs.calls()), 30,
             "the slow lfs call", process)


def test_second_manager_is_refused_and_a_killed_run_is_cleaned_up(tmp_path: Path, fake_lfs) -> None:
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config, date, files = report_setup(tmp_path, db_url, fake_lfs, slow_seconds=20)
    reports = tmp_path / "reports"
    staging = reports / ".lurge-staging"

    first = start("manager.py", "report", "--config", str(config))
    try:
        wait_until_held_by_lfs(first, staging, date, fake_lfs)

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


# ------------------------------------------------------------------ stop signals

def process_group_gone(pgid: int) -> bool:
    """Whether no process (worker, resource tracker…) is left in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def stop(process, how: str) -> None:
    """``bkill``-like: SIGINT then SIGTERM to every process of the job, or SIGTERM alone."""
    if how == "SIGTERM to the script":
        os.kill(process.pid, signal.SIGTERM)
    elif how == "SIGTERM to every process":
        os.killpg(process.pid, signal.SIGTERM)
    else:  # bkill: SIGINT, then SIGTERM a moment later, to the whole job
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)


STOPS = {"SIGTERM to the script": ("SIGTERM", 143), "SIGTERM to every process": ("SIGTERM", 143),
         "bkill": ("SIGINT", 130)}


@pytest.mark.parametrize("how", STOPS)
def test_stopped_manager_publishes_nothing_and_the_next_run_finishes(tmp_path: Path, fake_lfs,
                                                                     how: str) -> None:
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config, date, _ = report_setup(tmp_path, db_url, fake_lfs, slow_seconds=30)
    reports = tmp_path / "reports"
    staging = reports / ".lurge-staging"

    first = start("manager.py", "report", "--config", str(config))
    try:
        wait_until_held_by_lfs(first, staging, date, fake_lfs)
        stop(first, how)
        status, out, err = finish_process(first, timeout=120)
    finally:
        for pid in fake_lfs.pids():  # the sleeping lfs (its own session) ends by itself later
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    name, expected_status = STOPS[how]
    assert status == expected_status, err
    assert err.endswith(f"manager.py: stopped by {name}; nothing half-done was published (the next "
                        "run starts again, see docs/recovery.md)\n")
    assert "Traceback" not in err and "leaked semaphore" not in err and out == ""
    wait_for(lambda: process_group_gone(first.pid), 30, "the workers to end")
    assert listing(reports) == [".lurge-staging", ".lurge.lock"]  # no TSV, links or staging files
    assert usage_rows(db_url) == []

    fake_lfs.set(SLOW_GROUP, used=1, soft=0, hard=2)
    again, _ = run("manager.py", "report", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert "removed" not in again.stderr  # nothing was left to clean up
    quotas = {name: (2048, 1024) for name in ("hgi", "ops", "mueller-lab", "tanaka-lab")}
    assert tsv_path(tmp_path, date).read_text(encoding="utf-8") == expected_tsv(ENTRIES, quotas)


def repeated_lines(volume: int, count: int, snapshot_time: int) -> Iterator[bytes]:
    """``count`` lines of three humgen groups: cheap to write, a few seconds to split."""
    block = [format_line(f"/lustre/scratch{volume}/p/{index:08d}/f".encode(), index, 501,
                         1001 + index % 3, snapshot_time, snapshot_time, snapshot_time, "f", index,
                         1, 64768) for index in range(10_000)]
    for _ in range(count // len(block)):
        yield from block


@pytest.mark.parametrize("how", ["SIGTERM to every process", "bkill"])
def test_stopped_splitter_removes_its_build_folder_and_keeps_the_set(tmp_path: Path,
                                                                     how: str) -> None:
    out = tmp_path / "out" / "groups"
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,),
                         splitter={"output_dir": str(out)})
    snapshot_time = int(time.time()) - 60
    snapshot = (tmp_path / "mpistat" /
                f"{dt.date.fromtimestamp(snapshot_time):%Y%m%d}_118.dat.gz")
    write_snapshot(str(snapshot), repeated_lines(118, 10_000, snapshot_time), mtime=snapshot_time)
    first, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert first.returncode == 0, first.stderr
    previous = {path.name: path.read_bytes() for path in out.iterdir()}
    write_snapshot(str(snapshot), repeated_lines(118, 1_500_000, snapshot_time),
                   mtime=snapshot_time)

    splitter = start("group_splitter.py", "--config", str(config), "--no-upload")
    builds = lambda: [p for p in out.parent.glob("groups.new-*") if any(p.iterdir())]  # noqa: E731
    wait_for(builds, 60, "the split to write its first files", splitter)
    stop(splitter, how)
    status, stdout, err = finish_process(splitter, timeout=120)

    name, expected_status = STOPS[how]
    assert status == expected_status, err
    assert err.endswith(f"group_splitter.py: stopped by {name}; nothing half-done was published "
                        "(the next run starts again, see docs/recovery.md)\n")
    assert "Traceback" not in err and "leaked semaphore" not in err and stdout == ""
    assert {path.name: path.read_bytes() for path in out.iterdir()} == previous
    assert not list(out.parent.glob("groups.new-*")) and not list(out.parent.glob("groups.old-*"))
