"""A group total the database cannot hold (2^63 bytes or more) fails the run by name."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from tests.faults.common import Entry, listing, make_config, run, write_snapshots

HALF = 1 << 62  # each file is well-formed; two of them make 2^63


def test_a_group_total_of_2_to_the_63_fails_naming_it_and_publishes_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,))
    snapshot_time = int(time.time()) - 60
    date = dt.date.fromtimestamp(snapshot_time)
    entries = [Entry(118, 1001, HALF, 1, name="a"), Entry(118, 1001, HALF, 1, name="b"),
               Entry(118, 2001, 10, 1)]
    files = write_snapshots(tmp_path / "mpistat", entries, date, snapshot_time)

    result, _ = run("report.py", "--config", str(config), date.isoformat(), str(files[118]))

    assert result.returncode == 1
    assert result.stderr.endswith(
        "report.py: failed: volume scratch118: group 'hgi' (gid 1001) uses "
        "9,223,372,036,854,775,808 bytes, 2^63 or more: the database's 64-bit columns cannot "
        "hold it, so nothing is published (see docs/outputs.md)\n")
    assert [name for name in listing(tmp_path / "reports") if not name.startswith(".lurge")] == []
