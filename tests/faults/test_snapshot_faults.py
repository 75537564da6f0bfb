"""Snapshot faults: truncated or corrupt gzip files, and malformed lines at 1%.

A failed snapshot stops every script with exit 1 naming the file, and nothing
derived from the run is published.  Malformed lines are skipped and counted;
the counts and the results for the good lines are checked against the plain
per-line reference in tests/reference.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import time
from pathlib import Path

import pytest

from tests.fixtures.database import connect
from tests.faults.common import LDIF_URL, listing, make_config, run, sort_rows, tsv_cell, TSV_HEADER
from tests.fixtures.slapd import EXPECTED_DIRECTORY
from tests.reference import inodes_by_gid, inspect_reference, parse_line, read_lines, usage_by_gid
from utils.common.config import DEFAULT_FILETYPES, DEFAULT_ANY_GROUP_PREFIXES
from utils.snapshots.discovery import snapshot_filename
from utils.demo.synthetic import SyntheticOptions, synthetic_lines, write_snapshot

TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)
VOLUMES = (118, 119)

# ------------------------------------------------------------------ failed snapshots

CORRUPTIONS = {  # kind -> how the message's reason starts
    "truncated": "truncated (compressed data ended before the end of the stream)\n",
    "flipped bytes": "",  # whatever the decompressor finds first in the damaged stream
    "bad CRC": "BadGzipFile: CRC check failed ",
}


def corrupt(path: Path, kind: str) -> None:
    """Damage the gzip file at ``path`` in place (its mtime is kept)."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    if kind == "truncated":
        del data[len(data) * 3 // 5:]
    elif kind == "flipped bytes":
        for index in range(len(data) // 2, len(data) // 2 + 16):
            data[index] ^= 0xFF
    else:  # the CRC-32 of the uncompressed data: the 4 bytes before the last 4
        for index in range(len(data) - 8, len(data) - 4):
            data[index] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, (stat.st_mtime, stat.st_mtime))


def add_set(mpistat: Path, date: dt.date, snapshot_time: float, seed: int) -> dict[int, Path]:
    paths = {}
    for volume in VOLUMES:
        path = mpistat / snapshot_filename(date, volume)
        options = SyntheticOptions(seed=seed + volume, lines=4000, snapshot_time=int(snapshot_time))
        write_snapshot(str(path), synthetic_lines(f"/lustre/scratch{volume}", options),
                       mtime=snapshot_time)
        paths[volume] = path
    return paths


def published_state(tmp_path: Path, db_url: str) -> tuple:
    """Everything a run could publish: files (links as targets; lock contents aside) and rows."""
    files = {}
    for name in listing(tmp_path):
        path = tmp_path / name
        if path.is_symlink():
            files[name] = ("link", os.readlink(path))
        elif path.is_file() and not name.endswith((".lock", "lurge.db")):
            files[name] = path.read_bytes()
        else:
            files[name] = None
    with connect(db_url) as db:
        usage = db.query("SELECT record_date, COUNT(*), SUM(used) FROM lustre_usage"
                         " GROUP BY record_date")
        directories = db.query("SELECT project_name, directory_path, num_files, size, volume_id"
                               " FROM directory")
        inspected = db.query("SELECT volume_id, snapshot_date FROM inspection")
    return files, sort_rows(usage), sort_rows(directories), sort_rows(inspected)


def test_failed_snapshots_stop_every_script_and_publish_nothing(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lurge.db"
    config = make_config(tmp_path, db_url, splitter={"output_dir": str(tmp_path / "out" / "groups")})
    now = time.time()
    add_set(tmp_path / "mpistat", YESTERDAY, now - 86400, seed=1)
    baseline, _ = run("manager.py", "both", "--config", str(config))
    assert baseline.returncode == 0, baseline.stderr
    split, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert split.returncode == 0, split.stderr
    today = add_set(tmp_path / "mpistat", TODAY, now - 60, seed=2)
    damaged = today[119]
    pristine = damaged.read_bytes()

    for kind, reason in CORRUPTIONS.items():
        damaged.write_bytes(pristine)
        os.utime(damaged, (now - 60, now - 60))
        corrupt(damaged, kind)
        with pytest.raises(Exception):
            gzip.decompress(damaged.read_bytes())  # the stdlib agrees the file is damaged
        assert_every_pass_refuses(tmp_path, db_url, config, today[118], damaged, reason)
    assert listing(tmp_path / "reports" / ".lurge-staging") == []
    assert listing(tmp_path / "reports" / "report-output-files") == [
        f"report-{YESTERDAY:%Y%m%d}.html", f"report-{YESTERDAY:%Y%m%d}.tsv",
        f"user-report-{YESTERDAY:%Y%m%d}.tsv"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["groups"]


def assert_every_pass_refuses(tmp_path: Path, db_url: str, config: Path, good: Path, failed: Path,
                              reason: str) -> None:
    """Each script given today's set with ``failed`` exits 1 naming it and ``reason``
    (the start of the message's reason),
    and publishes nothing: no TSV, rows, staging or temporary file, links unmoved,
    split set untouched."""
    before = published_state(tmp_path, db_url)
    commands = [
        ["report.py", "--config", str(config), TODAY.isoformat(), str(good), str(failed)],
        ["manager.py", "report", "--config", str(config)],
        ["project_inspector.py", "--config", str(config), "--tosql"],
        ["group_splitter.py", "--config", str(config), "--no-upload"],
    ]
    for script, *args in commands:
        result, _ = run(script, *args)
        assert result.returncode == 1, (script, result.stderr)
        assert f"{script}: failed: failed snapshot {failed}: {reason}" in result.stderr, (
            script, result.stderr)
        assert result.stdout == ""
        assert published_state(tmp_path, db_url) == before, script


# ------------------------------------------------------------------ malformed lines

MOUNT = "/lustre/scratch116"
ROOT = MOUNT + "/humgen/projects"


def _name(gid: int) -> str | None:
    return EXPECTED_DIRECTORY.humgen.get(gid) or EXPECTED_DIRECTORY.posix.get(gid)


def _escape(value: bytes) -> bytes:
    return (value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r"))


def _days(snapshot_time: float, mtime: int | None) -> str:
    return "-" if mtime is None else str(round((snapshot_time - mtime) / 86400, 1))


def test_malformed_lines_are_counted_and_the_good_lines_give_exact_results(tmp_path: Path) -> None:
    snapshot_time = int(time.time()) - 60
    date = dt.date.fromtimestamp(snapshot_time)
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", LDIF_URL, volumes=(116,),
                         volume_extra={"inspect_roots": [ROOT]},
                         splitter={"output_dir": str(tmp_path / "out" / "groups")})
    snapshot = tmp_path / "mpistat" / snapshot_filename(date, 116)
    options = SyntheticOptions(seed=9, lines=20_000, snapshot_time=snapshot_time,
                               malformed_fraction=0.01)
    write_snapshot(str(snapshot), synthetic_lines(MOUNT, options), mtime=snapshot_time)
    lines = read_lines(str(snapshot))
    malformed = sum(1 for raw in lines if parse_line(raw) is None)
    assert 150 < malformed < 250  # about 1%
    counted = f"skipped {malformed} malformed lines of {len(lines)} in {snapshot}\n"

    # the report: every group's used bytes and last modification
    report, _ = run("report.py", "--config", str(config), date.isoformat(), str(snapshot))
    assert report.returncode == 0, report.stderr
    assert counted in report.stderr
    rows = []
    inodes = inodes_by_gid(lines)
    for gid, (used, mtime) in usage_by_gid(lines, snapshot_time).items():
        if used == 0 and mtime is None:
            continue
        humgen = gid in EXPECTED_DIRECTORY.humgen
        pi = EXPECTED_DIRECTORY.pis.get(gid) if humgen else None
        rows.append(("scratch116", pi, _name(gid) or str(gid), used, _days(snapshot_time, mtime),
                     humgen, inodes[gid]))
    rows.sort(key=lambda r: (r[0], r[1] is not None, r[1] or "", r[2]))
    no_quota = (None,) * 5  # quotas disabled: no inode quota, no projection, no status
    expected = TSV_HEADER + "".join(
        "\t".join(tsv_cell(c) for c in (vol, pi, name, used, None, days, None, humgen, None, count,
                                        *no_quota)) + "\n"
        for vol, pi, name, used, days, humgen, count in rows)
    tsv = tmp_path / "reports" / "report-output-files" / f"report-{date:%Y%m%d}.tsv"
    assert tsv.read_text(encoding="utf-8") == expected

    # the inspector: every record's sizes, counts and date
    inspected, _ = run("project_inspector.py", "--config", str(config), "--format", "tsv",
                       "--bytes", "--generic", "--noheader")
    assert inspected.returncode == 0, inspected.stderr
    assert counted in inspected.stderr
    reference = inspect_reference(lines, [ROOT], 2, DEFAULT_FILETYPES, snapshot_time)
    expected_inspection = b"".join(
        b"\t".join([_escape(key), *(str(n).encode() for n in (v["size"], *v["types"], v["files"])),
                    _days(snapshot_time, v["mtime"]).encode()]) + b"\n"
        for key, v in sorted((b"/".join(parts), v) for parts, v in reference.items()))
    assert inspected.stdout.encode("utf-8", "surrogateescape") == expected_inspection

    # the splitter: every kept line, byte for byte, in input order
    split, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert split.returncode == 0, split.stderr
    assert counted in split.stderr
    prefixes = [prefix.encode() for prefix in DEFAULT_ANY_GROUP_PREFIXES]
    kept: dict[str, bytes] = {}
    for raw in lines:
        record = parse_line(raw)
        if record is None:
            continue
        name = _name(record.gid)
        if record.gid in EXPECTED_DIRECTORY.humgen or (
                name and record.path is not None and record.path.startswith(tuple(prefixes))):
            kept[f"{name}.dat.gz"] = kept.get(f"{name}.dat.gz", b"") + raw + b"\n"
    out = tmp_path / "out" / "groups"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*kept, ".lurge-split-set", "groupfile", "index.txt", "passwdfile"])
    for name, content in kept.items():
        assert gzip.decompress((out / name).read_bytes()) == content, name
