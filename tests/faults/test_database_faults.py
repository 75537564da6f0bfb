"""Database faults: a killed connection mid-load, a server that is not there, races and deadlocks.

The kill is real: a BEFORE INSERT trigger with SLEEP() makes the load's INSERT
last seconds, and a second connection finds the loader in
information_schema.PROCESSLIST and runs ``KILL <id>`` on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import subprocess
import time
from pathlib import Path

import pytest

from db.directory import GIB, load_inspection
from db.migrate import ensure_schema
from tests.faults.common import (DAY, ENTRIES, Entry, closed_port, expected_db_rows, expected_tsv,
                                 finish_process, listing, make_config, run, silent_listener, sort_rows,
                                 start, tsv_path, usage_rows, wait_for, write_snapshots)
from tests.fixtures.database import connect
from tests.fixtures.slapd import EXPECTED_DIRECTORY
from utils.common.errors import DatabaseError
from utils.inspector.aggregate import DirectoryRecord

TODAY = dt.date.today()
DATE = dt.date(2023, 11, 14)
T = 1_700_000_000
ROW_SLEEP = 0.4  # seconds each inserted row waits in the trigger
CONNECT_TIMEOUT = 2


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def kill_loader(url: str, table: str, process: subprocess.Popen[str]) -> None:
    """Wait until a connection is inserting into ``table`` of ``url``'s database, then KILL it."""
    query = ("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE ?")
    with connect(url) as admin:
        found = wait_for(lambda: admin.query(query, (database_name(url), f"INSERT INTO {table} %")),
                         60, f"an INSERT INTO {table}", process)
        admin.execute(f"KILL {int(found[0][0])}")


# ------------------------------------------------------------------ killed mid-load

@pytest.mark.mysql
def test_report_load_killed_midway_leaves_no_rows_then_next_run_loads_all(
        tmp_path: Path, mysql_database_url: str) -> None:
    url = mysql_database_url
    config = make_config(tmp_path, url)
    files = [str(p) for p in write_snapshots(tmp_path / "mpistat", ENTRIES, DATE, T).values()]
    with connect(url) as db:
        ensure_schema(db.database)
        db.execute("CREATE TRIGGER slow_usage BEFORE INSERT ON lustre_usage FOR EACH ROW"
                   f" SET NEW.used = NEW.used + SLEEP({ROW_SLEEP})")
    process = start("report.py", "--config", str(config), DATE.isoformat(), *files)
    kill_loader(url, "lustre_usage", process)
    status, _, err = finish_process(process)

    assert status == 1, err
    assert (f"report.py: failed: {url}: statement failed: 2013: Lost connection to MySQL server "
            "during query [SQL: INSERT INTO lustre_usage (used,") in err
    assert usage_rows(url) == []  # the one transaction was rolled back
    assert listing(tmp_path / "reports") == [".lurge-staging", ".lurge.lock"]  # no TSV, staging empty

    with connect(url) as db:
        db.execute("DROP TRIGGER slow_usage")
    result, _ = run("report.py", "--config", str(config), DATE.isoformat(), *files)
    assert result.returncode == 0, result.stderr
    assert usage_rows(url) == expected_db_rows(ENTRIES, DATE)
    assert tsv_path(tmp_path, DATE).read_text(encoding="utf-8") == expected_tsv(ENTRIES)


def expected_directory_rows(entries: tuple[Entry, ...]) -> list[tuple]:
    """Directory rows of the inspector for ``entries`` (files only, root humgen/projects)."""
    rows = []
    for volume in sorted({e.volume for e in entries}):
        mine = [e for e in entries if e.volume == volume]
        biggest = max(mine, key=lambda e: (e.size, -e.gid))
        records = [("projects", mine, biggest.gid)] + [(f"projects/g{e.gid}", [e], e.gid) for e in mine]
        for key, members, gid in records:
            humgen = gid in EXPECTED_DIRECTORY.humgen
            name = EXPECTED_DIRECTORY.humgen.get(gid) or EXPECTED_DIRECTORY.posix.get(gid) or str(gid)
            rows.append((f"scratch{volume}", key, None, len(members),
                         round(sum(e.size for e in members) / GIB, 2),
                         float(min(e.age_days for e in members)),
                         EXPECTED_DIRECTORY.pis.get(gid) if humgen else None, name, humgen))
    return sort_rows(rows)


def directory_state(url: str) -> tuple[list[tuple], dict[str, dt.date]]:
    with connect(url) as db:
        rows = db.query(
            "SELECT v.scratch_disk, d.project_name, d.directory_path, d.num_files, d.size,"
            " d.last_modified, p.pi_name, g.group_name, g.is_humgen FROM directory d"
            " JOIN volume v ON v.volume_id = d.volume_id LEFT JOIN pi p ON p.pi_id = d.pi_id"
            " LEFT JOIN unix_group g ON g.group_id = d.group_id")
        dates = db.query("SELECT v.scratch_disk, i.snapshot_date FROM inspection i"
                         " JOIN volume v ON v.volume_id = i.volume_id")
    return (sort_rows((*row[:8], bool(row[8])) for row in rows), {name: day for name, day in dates})


@pytest.mark.mysql
def test_tosql_load_killed_midway_keeps_previous_rows_then_next_run_replaces_them(
        tmp_path: Path, mysql_database_url: str) -> None:
    url = mysql_database_url
    config = make_config(tmp_path, url)
    first_date, second_date = TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1)
    later = tuple(dataclasses.replace(e, size=e.size * 3, age_days=e.age_days + 10) for e in ENTRIES)
    now = int(time.time())
    write_snapshots(tmp_path / "mpistat", ENTRIES, first_date, now - 2 * DAY)
    loaded, _ = run("project_inspector.py", "--config", str(config), "--tosql")
    assert loaded.returncode == 0, loaded.stderr
    before = directory_state(url)
    assert before == (expected_directory_rows(ENTRIES),
                      {"scratch118": first_date, "scratch119": first_date})

    write_snapshots(tmp_path / "mpistat", later, second_date, now - DAY)
    with connect(url) as db:
        db.execute("CREATE TRIGGER slow_directory BEFORE INSERT ON directory FOR EACH ROW"
                   f" SET NEW.num_files = NEW.num_files + SLEEP({ROW_SLEEP})")
    process = start("project_inspector.py", "--config", str(config), "--tosql")
    kill_loader(url, "directory", process)
    status, out, err = finish_process(process)

    assert status == 1, err
    assert (f"project_inspector.py: failed: {url}: statement failed: 2013: Lost connection to "
            "MySQL server during query [SQL: INSERT INTO directory (project_name,") in err
    assert out == ""
    assert directory_state(url) == before  # nothing tagged, nothing deleted, same dates

    with connect(url) as db:
        db.execute("DROP TRIGGER slow_directory")
    result, _ = run("project_inspector.py", "--config", str(config), "--tosql")
    assert result.returncode == 0, result.stderr
    assert directory_state(url) == (expected_directory_rows(later),
                                    {"scratch118": second_date, "scratch119": second_date})


# ------------------------------------------------------------------ no server

COMMANDS = {  # name -> (script and arguments after --config, runs under the report lock)
    "report.py": (["report.py"], True),
    "manager.py report": (["manager.py", "report"], True),
    "manager.py inspector": (["manager.py", "inspector"], True),
    "project_inspector.py --tosql": (["project_inspector.py", "--tosql"], True),
}


@pytest.mark.parametrize("server", ["closed port", "silent listener"])
def test_unreachable_database_fails_fast_and_writes_nothing(tmp_path: Path, server: str) -> None:
    """Every database user exits 1 within about [database] timeout, before writing anything."""
    with silent_listener() as silent_port:
        port = closed_port() if server == "closed port" else silent_port
        url = f"mysql://root@127.0.0.1:{port}/lurge"
        runs = {}
        for name, (command, _) in COMMANDS.items():
            base = tmp_path / name.replace(" ", "_")
            base.mkdir()
            config = make_config(base, url, database={"timeout": CONNECT_TIMEOUT})
            files = write_snapshots(base / "mpistat", ENTRIES, TODAY, int(time.time()))
            args = [*command[:1], "--config", str(config), *command[1:]]
            if command[0] == "report.py":
                args += [TODAY.isoformat(), *map(str, files.values())]
            before = listing(base)
            runs[name] = (base, before, time.monotonic(), start(*args))
        for name, (base, before, started, process) in runs.items():
            status, out, err = finish_process(process)
            elapsed = time.monotonic() - started
            reason = (f"2003: Can't connect to MySQL server on '127.0.0.1:{port}' "
                      "(Errno 111: Connection refused)" if server == "closed port" else
                      f"the server did not answer within the {CONNECT_TIMEOUT} s connection timeout")
            prog = name.split()[0]
            assert status == 1, (name, err)
            assert f"{prog}: failed: cannot connect to {url}: {reason}\n" in err, (name, err)
            assert elapsed < CONNECT_TIMEOUT + 8, (name, elapsed)
            lock = ["reports/.lurge.lock"] if COMMANDS[name][1] else []
            assert listing(base) == sorted(before + lock), name  # no TSV, staging or links
            assert out == ""


# ------------------------------------------------------------------ races and deadlocks

@pytest.mark.parametrize("engine", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_two_report_runs_racing_on_one_database_load_the_date_once(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    """Two report folders (so two run locks) share one database: one run loads, the other
    finds the date loaded, says so, and both exit 0."""
    url = (f"sqlite:///{tmp_path}/lurge.db" if engine == "sqlite"
           else request.getfixturevalue("mysql_database_url"))
    if engine == "mysql":  # make the first load last long enough for the second to meet it
        with connect(url) as db:
            ensure_schema(db.database)
            db.execute("CREATE TRIGGER slow_usage BEFORE INSERT ON lustre_usage FOR EACH ROW"
                       " SET NEW.used = NEW.used + SLEEP(0.2)")
    processes = []
    for name in ("one", "two"):
        base = tmp_path / name
        base.mkdir()
        files = write_snapshots(base / "mpistat", ENTRIES, DATE, T)
        config = make_config(base, url, database={"timeout": 30})
        processes.append(start("report.py", "--config", str(config), DATE.isoformat(),
                               *map(str, files.values())))
    results = [finish_process(process) for process in processes]
    assert [status for status, _, _ in results] == [0, 0], [err for _, _, err in results]
    logs = [err for _, _, err in results]
    assert sum("database: loaded 10 rows for 2023-11-14" in err for err in logs) == 1, logs
    assert sum("already loaded; skipped" in err for err in logs) == 1, logs
    assert usage_rows(url) == expected_db_rows(ENTRIES, DATE)  # once, not twice


@pytest.mark.mysql
def test_tosql_deadlocks_are_retried_then_fail_cleanly(tmp_path: Path, mysql_database_url: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """MariaDB chooses the load as a deadlock victim (1213, raised for real by a trigger whose
    failure budget sits in a non-transactional table): it is rerun, and fails only when the
    deadlocks go on."""
    url = mysql_database_url
    records = {"scratch118": [DirectoryRecord("scratch118", (b"projects", b"p1"), GIB, 2, 1.0,
                                              (GIB, 0, 0, 0), 1001, "hgi", True, "Smith")]}
    with connect(url) as sql:
        ensure_schema(sql.database)
        sql.execute("CREATE TABLE deadlock_budget (n INT) ENGINE=MyISAM")
        sql.execute("INSERT INTO deadlock_budget VALUES (2)")
        sql.execute("CREATE TRIGGER deadlocking BEFORE INSERT ON inspection FOR EACH ROW BEGIN"
                    " IF (SELECT n FROM deadlock_budget) > 0 THEN UPDATE deadlock_budget SET n = n - 1;"
                    " SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT ="
                    " 'Deadlock found when trying to get lock; try restarting transaction'; END IF; END")
        with caplog.at_level(logging.WARNING, logger="db.connection"):
            assert load_inspection(sql.database, records, {"scratch118": DATE}, ["BAM", "CRAM", "VCF", "PEDBED"]) == 1
        retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert len(retries) == 2 and all("1213 deadlock: 1213 (40001): Deadlock found" in m for m in retries)
        loaded = sql.query("SELECT project_name, num_files FROM directory")
        assert loaded == [("projects/p1", 2)]

        sql.execute("UPDATE deadlock_budget SET n = 100")
        changed = {"scratch118": [dataclasses.replace(records["scratch118"][0], num_files=9)]}
        with pytest.raises(DatabaseError) as caught:
            load_inspection(sql.database, changed, {"scratch118": DATE}, ["BAM", "CRAM", "VCF", "PEDBED"])
        assert str(caught.value).startswith(
            f"{url}: loading the inspection of scratch118 failed after 5 attempts: 1213 deadlock: ")
        assert sql.query("SELECT project_name, num_files FROM directory") == loaded  # the earlier rows kept


@pytest.mark.mysql
def test_three_concurrent_tosql_runs_all_succeed(tmp_path: Path, mysql_database_url: str) -> None:
    url = mysql_database_url
    now = int(time.time())
    configs = []
    for name in ("a", "b", "c"):  # three report folders: three run locks, one database
        base = tmp_path / name
        base.mkdir()
        write_snapshots(base / "mpistat", ENTRIES, TODAY - dt.timedelta(days=1), now - DAY)
        configs.append(make_config(base, url))
    for _ in range(2):
        processes = [start("project_inspector.py", "--config", str(config), "--tosql") for config in configs]
        results = [finish_process(process) for process in processes]
        assert [status for status, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    assert directory_state(url) == (expected_directory_rows(ENTRIES),
                                    {"scratch118": TODAY - dt.timedelta(days=1),
                                     "scratch119": TODAY - dt.timedelta(days=1)})
