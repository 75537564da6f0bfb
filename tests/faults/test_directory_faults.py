"""Directory faults: slapd stopped or silent, and hostile data served by the real slapd."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import secrets
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.fixtures.database import connect
from tests.faults.common import (ENTRIES, finish_process, listing, make_config, run, silent_listener,
                                 sort_rows, start, tsv_cell, TSV_HEADER, usage_rows,
                                 write_snapshots)
from tests.fixtures.slapd import SlapdServer
from utils.common.names import escape_name
from utils.demo.synthetic import format_line, write_snapshot

TODAY = dt.date.today()
LDAP_TIMEOUT = 2

# ------------------------------------------------------------------ unreachable

COMMANDS = {  # name -> script and arguments after --config
    "report.py": ["report.py"],
    "manager.py": ["manager.py", "report"],
    "project_inspector.py": ["project_inspector.py"],
    "group_splitter.py": ["group_splitter.py", "--no-upload"],
}


@pytest.mark.slapd
@pytest.mark.parametrize("server", ["stopped slapd", "silent listener"])
def test_unreachable_directory_fails_within_the_timeout_and_publishes_nothing(
        tmp_path: Path, slapd_server: SlapdServer, server: str) -> None:
    with silent_listener() as silent_port:
        url = slapd_server.url if server == "stopped slapd" else f"ldap://127.0.0.1:{silent_port}"
        runs = {}
        if server == "stopped slapd":
            slapd_server.stop()
        try:
            for name, command in COMMANDS.items():
                base = tmp_path / name
                base.mkdir()
                config = make_config(base, f"sqlite:///{base}/lurge.db", url,
                                     ldap={"timeout": LDAP_TIMEOUT})
                files = write_snapshots(base / "mpistat", ENTRIES, TODAY, int(time.time()))
                args = [command[0], "--config", str(config), *command[1:]]
                if name == "report.py":
                    args += [TODAY.isoformat(), *map(str, files.values())]
                runs[name] = (base, listing(base), time.monotonic(), start(*args))
            results = {name: (*finish_process(process), time.monotonic() - started)
                       for name, (_, _, started, process) in runs.items()}
        finally:
            slapd_server.start()
    reason = ("socket connection error while opening: [Errno 111] Connection refused"
              if server == "stopped slapd" else
              f"error receiving data: timed out (no answer within the {LDAP_TIMEOUT} s timeout)")
    for name, (status, out, err, elapsed) in results.items():
        base, before, _, _ = runs[name]
        assert status == 1, (name, err)
        assert (f"{name}: failed: LDAP {url}: connecting and binding anonymously failed: "
                f"{reason}\n") in err, (name, err)
        assert elapsed < LDAP_TIMEOUT + 8, (name, elapsed)
        assert out == ""
        created = sorted(set(listing(base)) - set(before))
        if name in ("report.py", "manager.py"):  # the run lock, and the database's empty tables
            assert created == ["lurge.db", "reports/.lurge.lock"], name
            assert usage_rows(f"sqlite:///{base}/lurge.db") == []
        else:
            assert created == [], name


# ------------------------------------------------------------------ hostile data

PERSON = "hx1"
SURNAME = "O'Brien\"; DROP TABLE pi; --"
LONG_NAME = "L" * 150 + "é" * 150  # 300 characters, 450 bytes
# (gid, cn, humgen, PI uid or None): duplicates of 5011 are added zeta first.
HOSTILE_GROUPS = (
    (5001, "a/b", True, PERSON),
    (5002, "..", True, None),
    (5003, "q'\"quote", False, None),
    (5004, "semi;colon", False, None),
    (5005, "back\\slash", True, "nobody-here"),  # a PI DN pointing nowhere
    (5006, "x'); DROP TABLE pi; --", True, PERSON),
    (5007, LONG_NAME, False, None),
    (5008, "équipe-δ-研究", True, None),
    (5009, "tab\there", False, None),
    (5010, "new\nline", False, None),
    (5011, "zeta-dup", True, None),
    (5011, "alpha-dup", True, PERSON),
    (5012, "../escape", False, None),
    (5013, ".hidden", False, None),
)
WINNERS = {gid: (name, humgen, pi) for gid, name, humgen, pi in HOSTILE_GROUPS if name != "zeta-dup"}
MOUNT = "/lustre/scratch116"
T = int(time.time()) - 60  # snapshot time: a minute ago, so the scripts find it as today's
DATE = dt.date.fromtimestamp(T)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def hostile_directory(slapd_server: SlapdServer) -> Iterator[tuple[str, str, str]]:
    """(url, group_base, people_base) of a fresh OU holding the hostile entries."""
    ou = f"ou=hostile-{secrets.token_hex(4)},{slapd_server.base}"
    people, groups = f"ou=people,{ou}", f"ou=group,{ou}"
    records = [f"dn: {ou}\nobjectClass: organizationalUnit\nou: {ou[3:ou.index(',')]}\n",
               f"dn: {people}\nobjectClass: organizationalUnit\nou: people\n",
               f"dn: {groups}\nobjectClass: organizationalUnit\nou: group\n",
               f"dn: uid={PERSON},{people}\nobjectClass: inetOrgPerson\nuid: {PERSON}\ncn: PI\n"
               f"sn:: {_b64(SURNAME)}\n"]
    for index, (gid, name, humgen, pi) in enumerate(HOSTILE_GROUPS):
        record = (f"dn: description=g{index},{groups}\nobjectClass: posixGroup\n"
                  f"description: g{index}\ncn:: {_b64(name)}\ngidNumber: {gid}\n")
        if humgen:
            record += "objectClass: sangerHumgenProjectGroup\n"
        if pi:
            record += f"sangerProjectPI: uid={pi},{people}\n"
        records.append(record)
    slapd_server.add("\n".join(records))
    yield slapd_server.url, groups, people


def hostile_config(tmp_path: Path, db_url: str, directory: tuple[str, str, str],
                   lfs: str = "") -> Path:
    """Volume 116 with archive markers inside and outside its archive root, and the snapshot."""
    url, groups, people = directory
    archive = tmp_path / "archive"
    for marker in ("root/semi;colon", "root/a/b", "escape", ""):  # only the first is reachable
        (archive / marker).mkdir(parents=True, exist_ok=True)
        (archive / marker / ".imirrored").touch()
    config = make_config(tmp_path, db_url, url, volumes=(116,),
                         volume_extra={"archive_roots": [str(archive / "root")]},
                         ldap={"group_base": groups, "people_base": people},
                         quota={"lfs": lfs},
                         splitter={"output_dir": str(tmp_path / "out" / "groups")})
    snapshot = tmp_path / "mpistat" / f"{DATE:%Y%m%d}_116.dat.gz"
    write_snapshot(str(snapshot), hostile_lines(), mtime=T)
    return config


def hostile_lines() -> list[bytes]:
    """One file per gid: size gid, mtime T − gid."""
    return [format_line(f"{MOUNT}/humgen/projects/h{gid}/f".encode(), gid, 501, gid, T - gid,
                        T - gid, T - gid, "f", 7, 1, 64768) for gid in sorted(WINNERS)]


def expected_report() -> list[tuple]:
    """(volume, PI, group, used (= gid), last modified, is humgen, archived), in report order."""
    archived = {"semi;colon"}
    rows = []
    for gid, (name, humgen, pi) in WINNERS.items():
        surname = SURNAME if pi == PERSON and humgen else None
        rows.append(("scratch116", surname, name, gid, round(gid / 86400, 1), humgen,
                     name in archived))
    rows.sort(key=lambda r: (r[0], r[1] is not None, r[1] or "", r[2]))
    return rows


@pytest.mark.slapd
def test_hostile_names_are_stored_and_printed_exactly(tmp_path: Path, db_url: str,
                                                      hostile_directory: tuple[str, str, str],
                                                      fake_lfs) -> None:
    config = hostile_config(tmp_path, db_url, hostile_directory, lfs=fake_lfs.command)
    fake_lfs.default(used=1, soft=0, hard=2)
    snapshot = tmp_path / "mpistat" / f"{DATE:%Y%m%d}_116.dat.gz"
    report, _ = run("report.py", "--config", str(config), DATE.isoformat(), str(snapshot))
    assert report.returncode == 0, report.stderr
    archive_root = tmp_path / "archive" / "root"
    expected_lines = [TSV_HEADER]
    for volume, pi, name, used, modified, humgen, archived in expected_report():
        # one line per group; lfs answers 1 KiB of a 2 KiB quota and no inode quota: OK
        cells = (volume, pi, name, used, 2048, modified,
                 f"{archive_root}/{name}" if archived else None, humgen, 1024, 1, None, 0, None,
                 None, "OK")
        expected_lines.append("\t".join(tsv_cell(cell) for cell in cells) + "\n")
    tsv = tmp_path / "reports" / "report-output-files" / f"report-{DATE:%Y%m%d}.tsv"
    assert tsv.read_text(encoding="utf-8") == "".join(expected_lines)
    assert usage_rows(db_url) == sort_rows(  # names as the database stores them (docs/database.md)
        (volume, pi and escape_name(pi), escape_name(name), humgen, used, 2048, 1024, DATE, modified)
        for volume, pi, name, used, modified, humgen, _ in expected_report())
    # each name reached lfs as one argument, unchanged (no shell)
    assert sorted(call[3] for call in fake_lfs.calls()) == sorted(n for n, _, _ in WINNERS.values())
    # the deterministic duplicate choice: the lexicographically smallest cn
    assert ("humgen groups 'alpha-dup' and 'zeta-dup' share gidNumber 5011; using 'alpha-dup'"
            in report.stderr)
    assert "PI uid=nobody-here of humgen group back\\slash (gid 5005) is not under" in report.stderr

    inspected, _ = run("project_inspector.py", "--config", str(config), "--tosql")
    assert inspected.returncode == 0, inspected.stderr
    with connect(db_url) as db:
        rows = db.query("SELECT d.project_name, d.directory_path, d.num_files, p.pi_name,"
                        " g.group_name, g.is_humgen FROM directory d"
                        " LEFT JOIN pi p ON p.pi_id = d.pi_id"
                        " LEFT JOIN unix_group g ON g.group_id = d.group_id")
        tables = {name for (name,) in db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if db.engine == "sqlite" else
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")}
    expected_directories = [("projects", None, len(WINNERS), None, ".hidden", False)]  # most bytes
    for _, pi, name, used, _, humgen, _ in expected_report():
        expected_directories.append((f"projects/h{used}", None, 1, pi and escape_name(pi),
                                     escape_name(name), humgen))
    assert sort_rows((*row[:5], bool(row[5])) for row in rows) == sort_rows(expected_directories)
    assert {"pi", "unix_group", "lustre_usage", "directory"} <= tables  # nothing dropped


@pytest.mark.slapd
def test_hostile_names_never_escape_the_split_directory(tmp_path: Path,
                                                        hostile_directory: tuple[str, str, str]) -> None:
    config = hostile_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", hostile_directory)
    before = listing(tmp_path)
    result, _ = run("group_splitter.py", "--config", str(config), "--no-upload")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "groups"
    created = sorted(set(listing(tmp_path)) - set(before))
    assert [path for path in created if not path.startswith("out/groups/")] == [
        "out", "out/groups", "reports/.lurge-splitter.lock"]
    usable = {"q'\"quote", "semi;colon", "back\\slash", "x'); DROP TABLE pi; --", "équipe-δ-研究",
              "alpha-dup"}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}.dat.gz" for name in usable] + [".lurge-split-set", "groupfile", "index.txt",
                                                 "passwdfile"])
    lines = {gid: line for gid, line in zip(sorted(WINNERS), hostile_lines())}
    for gid, (name, _, _) in WINNERS.items():
        if name in usable:
            assert gzip.decompress((out / f"{name}.dat.gz").read_bytes()) == lines[gid], name
    reasons = {"a/b": "it contains /", "..": "it is . or ..", "../escape": "it contains /",
               ".hidden": "it would make a hidden file, which the S3 sync ignores",
               "tab\there": "it contains a control character (index.txt is tab- and line-separated)",
               "new\nline": "it contains a control character (index.txt is tab- and line-separated)",
               LONG_NAME: f"{LONG_NAME}.dat.gz is longer than 255 bytes"}
    for gid, (name, _, _) in WINNERS.items():
        if name in reasons:
            assert (f"group {name!r} (gid {gid}) is skipped: its name cannot be used as a file "
                    f"name ({reasons[name]}); 1 lines not written") in result.stderr, name
