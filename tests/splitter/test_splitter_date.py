"""group_splitter.py --date: the given date's snapshots instead of the newest."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from pathlib import Path

import pytest

from tests.faults.common import make_config, run
from utils.demo.synthetic import format_line, write_snapshot
from utils.snapshots.discovery import snapshot_filename


def lines(tag: str, snapshot_time: int) -> list[bytes]:
    return [format_line(f"/lustre/scratch118/p/{tag}/{index}".encode(), index, 501, 1001,
                        snapshot_time, snapshot_time, snapshot_time, "f", index, 1, 64768)
            for index in range(5)]


@pytest.mark.parametrize("written", ["%Y%m%d", "%Y-%m-%d"])
def test_date_splits_that_dates_snapshots(tmp_path: Path, written: str) -> None:
    out = tmp_path / "out" / "groups"
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,),
                         splitter={"output_dir": str(out)})
    now = int(time.time())
    today = dt.date.fromtimestamp(now)
    old = today - dt.timedelta(days=20)  # far beyond max_days_ago
    for date, tag in ((today, "new"), (old, "old")):
        write_snapshot(str(tmp_path / "mpistat" / snapshot_filename(date, 118)),
                       lines(tag, now), mtime=now)

    result, _ = run("group_splitter.py", "--config", str(config), "--no-upload",
                    "--date", f"{old:{written}}")
    assert result.returncode == 0, result.stderr
    assert gzip.decompress((out / "hgi.dat.gz").read_bytes()) == b"".join(lines("old", now))

    newest, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert newest.returncode == 0, newest.stderr
    assert gzip.decompress((out / "hgi.dat.gz").read_bytes()) == b"".join(lines("new", now))

    missing, _ = run("group_splitter.py", "--config", str(config), "--no-upload",
                     "--date", f"{old - dt.timedelta(days=1):%Y%m%d}")
    assert missing.returncode == 1
    assert f"no snapshot for {old - dt.timedelta(days=1):%Y%m%d} in " in missing.stderr
