"""Disk faults: a file-size limit (RLIMIT_FSIZE) hit while writing the report or the split files.

The script runs with a small RLIMIT_FSIZE and SIGXFSZ ignored, so the write
that crosses the limit fails with EFBIG as on a full disk.  The database is
MariaDB (nothing local to hit the limit first) and the inputs are sized so
that the report's HTML page (written before the TSV), or one split file, is
the first file to cross it.  A folder planted at the TSV's name stands for a
TSV write that fails after the page was written.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import resource
import signal
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.faults.common import (Entry, expected_db_rows, expected_tsv, listing, make_config, run,
                                 tsv_path, usage_rows, write_snapshots)
from utils.demo.synthetic import format_line, write_snapshot

DATE = dt.date(2023, 11, 14)
T = 1_700_000_000
VOLUMES = tuple(range(118, 130))
# 50 unknown gids on each of 12 volumes: each staging file (group and user rows, 12 KiB) fits
# under the limit; the page, published first, and the group TSV (about 33 KB) do not.
ENTRIES = tuple(Entry(volume, 60_000 + index, size=volume * 1000 + index, age_days=index % 9)
                for volume in VOLUMES for index in range(50))
TSV_LIMIT = 24 * 1024


def file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: writes past ``limit`` bytes fail with EFBIG instead of killing the process."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.mysql
def test_a_page_past_the_limit_fails_the_run_before_the_tsv(tmp_path: Path,
                                                            mysql_database_url: str) -> None:
    url = mysql_database_url
    config = make_config(tmp_path, url, volumes=VOLUMES)
    files = [str(p) for p in write_snapshots(tmp_path / "mpistat", ENTRIES, DATE, T).values()]
    assert len(expected_tsv(ENTRIES).encode()) > TSV_LIMIT + 4096  # the TSV cannot fit either

    result, _ = run("report.py", "--config", str(config), DATE.isoformat(), *files,
                    preexec_fn=file_size_limit(TSV_LIMIT))
    tsv = tsv_path(tmp_path, DATE)
    page = tsv.with_suffix(".html")  # published before the TSV, so the first file past the limit
    assert result.returncode == 1, result.stderr
    assert (f"report.py: failed: could not write {page}: File too large; nothing was left at that "
            "name (the next run writes it)\n") in result.stderr
    assert listing(tsv.parent) == []  # neither the page, the TSV nor a temporary file
    assert listing(tmp_path / "reports" / ".lurge-staging") == []
    # The database is published first (one transaction), the TSV — the "done" marker — last.
    assert usage_rows(url) == expected_db_rows(ENTRIES, DATE)

    rerun, _ = run("report.py", "--config", str(config), DATE.isoformat(), *files)
    assert rerun.returncode == 0, rerun.stderr
    assert f"database: rows for {DATE} already loaded; skipped" in rerun.stderr
    assert tsv.read_text(encoding="utf-8") == expected_tsv(ENTRIES)
    assert page.stat().st_size > TSV_LIMIT
    assert listing(tsv.parent) == [page.name, tsv.name, f"user-report-{DATE:%Y%m%d}.tsv"]
    assert usage_rows(url) == expected_db_rows(ENTRIES, DATE)


def test_a_failed_tsv_write_leaves_the_page_and_no_tsv(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lurge.db"
    config = make_config(tmp_path, url, volumes=VOLUMES[:1])
    entries = tuple(entry for entry in ENTRIES if entry.volume == VOLUMES[0])
    files = [str(p) for p in write_snapshots(tmp_path / "mpistat", entries, DATE, T).values()]
    tsv = tsv_path(tmp_path, DATE)
    (tsv / "in-the-way").mkdir(parents=True)  # a folder at the TSV's name: its rename fails

    result, _ = run("report.py", "--config", str(config), DATE.isoformat(), *files)
    assert result.returncode == 1, result.stderr
    assert (f"report.py: failed: could not write {tsv}: Is a directory; nothing was left at that "
            "name (the next run writes it)\n") in result.stderr
    page = tsv.with_suffix(".html")
    # the per-user TSV is written before the TSV, the date's "done" marker
    assert listing(tsv.parent) == [page.name, tsv.name, f"{tsv.name}/in-the-way",
                                   f"user-report-{DATE:%Y%m%d}.tsv"]
    assert page.read_bytes().endswith(b"</html>\n")  # complete, from the loaded rows

    (tsv / "in-the-way").rmdir()
    tsv.rmdir()
    rerun, _ = run("report.py", "--config", str(config), DATE.isoformat(), *files)
    assert rerun.returncode == 0, rerun.stderr
    assert tsv.read_text(encoding="utf-8") == expected_tsv(entries)


SPLIT_LIMIT = 64 * 1024


def split_lines(volume: int, count: int, seed: int, snapshot_time: int) -> list[bytes]:
    """hgi (1001) lines with random, incompressible names, plus one line of mueller-lab."""
    rng = random.Random(seed)
    lines = [format_line(f"/lustre/scratch{volume}/p/{rng.randbytes(48).hex()}".encode(),
                         rng.randrange(1 << 40), 501, 1001, snapshot_time, snapshot_time,
                         snapshot_time, "f", index, 1, 64768) for index in range(count)]
    lines.append(format_line(b"/lustre/scratch118/q/x", 5, 501, 1002, snapshot_time, snapshot_time,
                             snapshot_time, "f", 1, 1, 64768))
    return lines


def test_split_write_past_the_limit_keeps_the_previous_set(tmp_path: Path) -> None:
    out = tmp_path / "out" / "groups"
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,),
                         splitter={"output_dir": str(out)})
    now = int(time.time())
    snapshot = tmp_path / "mpistat" / f"{dt.date.fromtimestamp(now - 60):%Y%m%d}_118.dat.gz"
    write_snapshot(str(snapshot), split_lines(118, 50, 1, now - 60), mtime=now - 60)
    first, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert first.returncode == 0, first.stderr
    previous = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(previous) == [".lurge-split-set", "groupfile", "hgi.dat.gz", "index.txt",
                                "mueller-lab.dat.gz", "passwdfile"]

    bigger = split_lines(118, 2000, 2, now - 30)  # hgi.dat.gz: about 150 KB
    write_snapshot(str(snapshot), bigger, mtime=now - 30)
    result, _ = run("group_splitter.py", "--config", str(config), "--no-upload",
                    preexec_fn=file_size_limit(SPLIT_LIMIT))
    assert result.returncode == 1, result.stderr
    assert (f"group_splitter.py: failed: could not build the split set for {out}: [Errno 27] File "
            "too large; the previous set is untouched\n") in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == previous
    assert sorted(p.name for p in out.parent.iterdir()) == ["groups"]

    rerun, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert rerun.returncode == 0, rerun.stderr
    assert gzip.decompress((out / "hgi.dat.gz").read_bytes()) == b"".join(bigger[:-1])
    assert os.path.getsize(out / "hgi.dat.gz") > SPLIT_LIMIT
    assert sorted(p.name for p in out.parent.iterdir()) == ["groups"]
