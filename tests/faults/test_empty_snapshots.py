"""Snapshots that read to their end but hold nothing usable are failed snapshots too.

A 0-byte file, an empty gzip stream, a file of malformed lines only, and a
file with more malformed lines than ``[paths] max_malformed_fraction`` stop
the report, the manager, the inspector (``--tosql``) and the splitter with
exit 1 naming the file; no TSV, database row, inspector row or split set is
written, replaced, deleted or swapped in.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import time
from pathlib import Path

import pytest

from tests.faults.common import listing, make_config, run
from tests.faults.test_snapshot_faults import (TODAY, YESTERDAY, add_set, assert_every_pass_refuses,
                                               published_state)
from utils.demo.synthetic import SyntheticOptions, synthetic_lines

_BAD_LINE = b"L2x1c3RyZS9zY3JhdGNoMTE5L3g=\t1\t2\t3\n"  # 4 fields


def _good_lines(count: int) -> list[bytes]:
    options = SyntheticOptions(seed=5, lines=count, snapshot_time=int(time.time()))
    return list(synthetic_lines("/lustre/scratch119", options))


def _gzip(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(lines), compresslevel=1, mtime=0)


# kind -> (file content, how the message's reason reads)
CONTENTS = {
    "0-byte file": (b"", "no lines"),
    "empty gzip": (gzip.compress(b"", mtime=0), "no lines"),
    "only malformed lines": (_gzip([_BAD_LINE] * 50), "no well-formed line among 50"),
    "2% malformed lines": (_gzip(_good_lines(980) + [_BAD_LINE] * 20),
                           "20 of its 1000 lines are malformed, more than [paths] "
                           "max_malformed_fraction = 0.01"),
}


@pytest.mark.parametrize("kind", CONTENTS)
def test_snapshot_without_usable_lines_stops_every_script_and_publishes_nothing(
        tmp_path: Path, kind: str) -> None:
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config = make_config(tmp_path, db_url, paths={"max_malformed_fraction": 0.01},
                         splitter={"output_dir": str(tmp_path / "out" / "groups")})
    now = time.time()
    add_set(tmp_path / "mpistat", YESTERDAY, now - 86400, seed=1)
    baseline, _ = run("manager.py", "both", "--config", str(config))
    assert baseline.returncode == 0, baseline.stderr
    split, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert split.returncode == 0, split.stderr
    today = add_set(tmp_path / "mpistat", TODAY, now - 60, seed=2)
    content, reason = CONTENTS[kind]
    failed = today[119]
    failed.write_bytes(content)
    os.utime(failed, (now - 60, now - 60))
    assert published_state(tmp_path, db_url)[2], "the inspector's rows of yesterday are there to be kept"
    outputs = listing(tmp_path / "reports" / "report-output-files")
    assert f"report-{YESTERDAY:%Y%m%d}.tsv" in outputs
    assert_every_pass_refuses(tmp_path, db_url, config, today[118], failed, reason + "\n")
    assert listing(tmp_path / "reports" / ".lurge-staging") == []
    assert listing(tmp_path / "reports" / "report-output-files") == outputs  # nothing of today
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["groups"]


def test_snapshot_dated_before_1970_is_read_by_report_and_inspector(tmp_path: Path) -> None:
    """A snapshot time before 1970 dates no entry (every mtime is later) but crashes nothing."""
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config = make_config(tmp_path, db_url)
    snapshot_time = -86400 * 365.0
    paths = add_set(tmp_path / "mpistat", dt.date(1969, 1, 1), time.time(), seed=3)
    for path in paths.values():
        os.utime(path, (snapshot_time, snapshot_time))
    report, _ = run("report.py", "--config", str(config), "1969-01-01",
                    *(str(paths[volume]) for volume in sorted(paths)))
    assert report.returncode == 0, report.stderr
    inspector, _ = run("project_inspector.py", "--config", str(config), "--tosql", "--date",
                       "1969-01-01")
    assert inspector.returncode == 0, inspector.stderr
    _, usage, directories, inspected = published_state(tmp_path, db_url)
    assert [str(date) for date, _, _ in usage] == ["1969-01-01"]
    assert directories
    assert sorted(str(date) for _, date in inspected) == ["1969-01-01"] * 2
