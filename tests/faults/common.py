"""Shared pieces of the fault tests: small known inputs, expected outputs, process helpers.

Expected report rows are worked out here from the hand-written entries, not
by the code under test; the directory is the test LDIF (or the same data
served by slapd), whose meaning is :data:`tests.fixtures.slapd.EXPECTED_DIRECTORY`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from tests.fixtures.database import connect
from tests.configs import base_sections, write_config
from tests.fixtures.slapd import DIRECTORY_LDIF, EXPECTED_DIRECTORY
from tests.scripts import REPO
from utils.snapshots.discovery import snapshot_filename
from utils.demo.synthetic import format_line, write_snapshot

DAY = 86400
LDIF_URL = f"ldif:{DIRECTORY_LDIF}"
TSV_HEADER = ("Lustre Volume\tPI\tUnix Group\tUsed (bytes)\tQuota (bytes)\tLast Modified (days)\t"
              "Archived Directories\tIs Humgen?\tQuota Used (bytes)\tInodes\tInode Quota\t"
              "Inode Quota Used\tDays Until Full (bytes)\tDays Until Full (inodes)\tStatus\n")
USAGE_QUERY = """
SELECT v.scratch_disk, p.pi_name, g.group_name, g.is_humgen, u.used, u.quota, u.quota_used,
       u.record_date, u.last_modified
FROM lustre_usage u
JOIN volume v ON v.volume_id = u.volume_id
JOIN unix_group g ON g.group_id = u.unix_id
LEFT JOIN pi p ON p.pi_id = u.pi_id
"""


@dataclass(frozen=True)
class Entry:
    """One file of a hand-written snapshot."""

    volume: int
    gid: int
    size: int
    age_days: int
    name: str = "f"

    def line(self, snapshot_time: int) -> bytes:
        """The snapshot line (mtime = snapshot time − age)."""
        path = f"/lustre/scratch{self.volume}/humgen/projects/g{self.gid}/{self.name}".encode()
        mtime = snapshot_time - self.age_days * DAY
        return format_line(path, self.size, 501, self.gid, mtime, mtime, mtime, "f", 7, 1, 64768)


# Two volumes, five groups each (hgi, mueller-lab, tanaka-lab: humgen; ops: posix; 77777: unknown).
ENTRIES: tuple[Entry, ...] = tuple(
    Entry(volume, gid, size=volume * 1000 + index * 7 + 1, age_days=index + volume - 117)
    for volume in (118, 119)
    for index, gid in enumerate((1001, 1002, 1003, 2001, 77777))
)


def write_snapshots(mpistat: Path, entries: Sequence[Entry], date: dt.date,
                    snapshot_time: int) -> dict[int, Path]:
    """One snapshot per volume of ``entries`` for ``date`` (file mtime = snapshot time)."""
    mpistat.mkdir(parents=True, exist_ok=True)
    paths = {}
    for volume in sorted({entry.volume for entry in entries}):
        path = mpistat / snapshot_filename(date, volume)
        lines = [entry.line(snapshot_time) for entry in entries if entry.volume == volume]
        write_snapshot(str(path), lines, mtime=snapshot_time)
        paths[volume] = path
    return paths


def tsv_cell(value: Any) -> str:
    """A TSV cell as docs/outputs.md says it is printed (written out here, independently)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return str(value)


def expected_rows(entries: Sequence[Entry]) -> list[tuple]:
    """(volume, pi, group, used, last modified, is humgen) per entry, in report order."""
    rows = []
    for entry in entries:
        humgen = entry.gid in EXPECTED_DIRECTORY.humgen
        name = EXPECTED_DIRECTORY.humgen.get(entry.gid) or EXPECTED_DIRECTORY.posix.get(entry.gid)
        pi = EXPECTED_DIRECTORY.pis.get(entry.gid) if humgen else None
        rows.append((f"scratch{entry.volume}", pi, name or str(entry.gid), entry.size,
                     float(entry.age_days), humgen))
    return sorted(rows, key=lambda r: (r[0], r[1] is not None, r[1] or "", r[2]))


def expected_tsv(entries: Sequence[Entry],
                 quotas: Mapping[str, tuple[int | None, int | None]] | None = None) -> str:
    """The whole report TSV for ``entries`` without archives, on a database
    holding no earlier dates (so no group has a slope).

    ``quotas``: group name -> (quota, quota used) in bytes, as the fake ``lfs``
    answers (no inode quota, 0 files); absent groups have none.  Every entry is
    its group's only line on its volume: 1 inode.
    """
    lines = [TSV_HEADER]
    for volume, pi, name, used, modified, humgen in expected_rows(entries):
        quota, quota_used = (quotas or {}).get(name, (None, None))
        files = None if quota_used is None else 0
        value = used if quota_used is None else quota_used
        cells = (volume, pi, name, used, quota, modified, None, humgen, quota_used, 1, None, files,
                 one_point_days_until_full(value, quota), None, one_point_status(value, quota))
        lines.append("\t".join(tsv_cell(cell) for cell in cells) + "\n")
    return "".join(lines)


def one_point_days_until_full(value: int, quota: int | None) -> float | None:
    """Days until full with no history: 0.0 when already full, else unknown."""
    return 0.0 if quota is not None and value >= quota else None


def one_point_status(value: int, quota: int | None) -> str | None:
    """The status with no history and the default rules: the projection is
    today's value, so only the lowest fraction of each rule set matters."""
    if quota is None:
        return None
    if value > 0.85 * quota:
        return "Not OK"
    return "Kinda OK" if value > 0.80 * quota else "OK"


def sort_rows(rows: Any) -> list[tuple]:
    """Rows sorted with NULLs first in every column."""
    return sorted(rows, key=lambda row: tuple((value is not None, value) for value in row))


def expected_db_rows(entries: Sequence[Entry], date: dt.date) -> list[tuple]:
    return sort_rows((volume, pi, name, humgen, used, None, None, date, modified)
                     for volume, pi, name, used, modified, humgen in expected_rows(entries))


def usage_rows(db_url: str) -> list[tuple]:
    """Every loaded lustre_usage row (joined), normalised for both engines."""
    with connect(db_url) as db:
        rows = db.query(USAGE_QUERY)
    return sort_rows((vol, pi, name, bool(humgen), used, quota, qused, day, last)
                     for vol, pi, name, humgen, used, quota, qused, day, last in rows)


def make_config(tmp_path: Path, db_url: str, ldap_url: str = LDIF_URL,
                volumes: Sequence[int] = (118, 119), volume_extra: dict[str, Any] | None = None,
                **extra: Any) -> Path:
    """A configuration under ``tmp_path`` (mpistat/, reports/), quotas disabled.

    ``extra`` sections are merged into the base ones; ``volume_extra`` into every volume.
    """
    volume_tables = [{"number": n, "mount": f"/lustre/scratch{n}",
                      "inspect_roots": [f"/lustre/scratch{n}/humgen/projects"],
                      **(volume_extra or {})} for n in volumes]
    sections = base_sections(tmp_path, db_url, ldap_url, volume_tables)
    for name, body in extra.items():
        sections[name] = {**sections.get(name, {}), **body}
    return write_config(tmp_path / "lurge.toml", sections)


def tsv_path(tmp_path: Path, date: dt.date) -> Path:
    return tmp_path / "reports" / "report-output-files" / f"report-{date:%Y%m%d}.tsv"


def listing(root: Path) -> list[str]:
    """Every path under ``root`` (relative, sorted), symlinks included; [] when it is absent."""
    if not root.exists():
        return []
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def run(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
        preexec_fn: Callable[[], None] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``python <script> args...`` from the repository; returns the result and its wall time."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(REPO / script), *args], cwd=REPO,
                            env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                            errors="surrogateescape", timeout=timeout, preexec_fn=preexec_fn)
    return result, time.monotonic() - started


def start(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python <script> args...`` in its own process group (see :func:`kill_group`)."""
    return subprocess.Popen([sys.executable, str(REPO / script), *args], cwd=REPO,
                            env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="surrogateescape",
                            start_new_session=True)


def finish_process(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    """Wait for a process from :func:`start`: (exit status, stdout, stderr); killed if it hangs."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            kill_group(process)
    return process.returncode, out, err


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process group started by :func:`start` and reap its leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             process: subprocess.Popen[str] | None = None) -> Any:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` or if ``process`` ends."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"process ended ({process.returncode}) before {what}:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts TCP connections (kernel backlog) but never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])
