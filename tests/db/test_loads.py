"""Loads: one date's group and user rows, at most once; inspections; names that are not plain."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import re
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from db import schema
from db.connection import Database, connect
from db.directory import load_inspection
from db.migrate import ensure_schema
from db.usage import LOADED, REPLACED, SKIPPED, UsageLoad, load_usage, usage_loaded
from tests.fixtures.database import SqlClient
from tests.fixtures.database import connect as sql_connect
from utils.common.errors import DatabaseError
from utils.inspector.aggregate import DirectoryRecord
from utils.report.rows import UsageRow, UserUsageRow

DAY = dt.date(2024, 3, 5)
LONG_A, LONG_B = "g" * 255 + "-alpha" + "x" * 60, "g" * 255 + "-beta" + "y" * 60  # 300+ chars, 255 shared
BAD_BYTE = "grp\udcff"  # a name whose byte 0xff is not UTF-8 (a surrogate escape)
LITERAL = "grp\\xff"  # a name literally spelled with a backslash, x, f, f

GROUP_ROWS = [
    UsageRow("scratch118", "Smith", "hgi", 5000, 10**6, 1.5, None, True, 4096, inodes=12, inode_quota=100,
             inode_quota_used=11, days_until_full_bytes=3.5, days_until_full_inodes=None, status="Kinda OK"),
    UsageRow("scratch118", None, "ops", 700, None, None, "/archive/ops", False, None, inodes=3),
    UsageRow("scratch119", "Jones", "hgi", 9, None, 0.0, None, False, None, inodes=1, status=None),
    UsageRow("scratch119", None, LONG_A, 1, None, 2.0, None, False, None, inodes=1),
    UsageRow("scratch119", None, LONG_B, 2, None, 2.0, None, False, None, inodes=1),
    UsageRow("scratch119", None, BAD_BYTE, 3, None, 2.0, None, False, None, inodes=1),
    UsageRow("scratch119", None, LITERAL, 4, None, 2.0, None, False, None, inodes=1),
]
USER_ROWS = [
    UserUsageRow("scratch118", "ab1", "hgi", True, 4000, 10, 1.5),
    UserUsageRow("scratch118", "1234", "hgi", True, 1000, 2, 7.0),
    UserUsageRow("scratch118", "ab1", "ops", False, 700, 3, None),
    UserUsageRow("scratch119", "u" * 300, LONG_A, False, 1, 1, 2.0),
    UserUsageRow("scratch119", "u" * 299 + "v", LONG_B, False, 2, 1, 2.0),
]
GROUP_QUERY = """
SELECT v.scratch_disk, p.pi_name, g.group_name, g.is_humgen, u.used, u.quota, u.quota_used, u.record_date,
       u.archived, u.last_modified, u.inodes, u.inode_quota, u.inode_quota_used, u.days_until_full_bytes,
       u.days_until_full_inodes, u.status
FROM lustre_usage u JOIN volume v ON v.volume_id = u.volume_id JOIN unix_group g ON g.group_id = u.unix_id
LEFT JOIN pi p ON p.pi_id = u.pi_id ORDER BY u.record_id
"""
USER_QUERY = """
SELECT v.scratch_disk, s.user_name, g.group_name, g.is_humgen, u.record_date, u.used, u.inodes, u.last_modified
FROM user_usage u JOIN volume v ON v.volume_id = u.volume_id JOIN unix_user s ON s.user_id = u.user_id
JOIN unix_group g ON g.group_id = u.unix_id ORDER BY u.record_id
"""
EXPECTED_GROUPS = [
    ("scratch118", "Smith", "hgi", 1, 5000, 10**6, 4096, DAY, 0, 1.5, 12, 100, 11, 3.5, None, "Kinda OK"),
    ("scratch118", None, "ops", 0, 700, None, None, DAY, 1, None, 3, None, None, None, None, None),
    ("scratch119", "Jones", "hgi", 0, 9, None, None, DAY, 0, 0.0, 1, None, None, None, None, None),
    ("scratch119", None, LONG_A, 0, 1, None, None, DAY, 0, 2.0, 1, None, None, None, None, None),
    ("scratch119", None, LONG_B, 0, 2, None, None, DAY, 0, 2.0, 1, None, None, None, None, None),
    ("scratch119", None, "grp\\xff", 0, 3, None, None, DAY, 0, 2.0, 1, None, None, None, None, None),
    ("scratch119", None, "grp\\\\xff", 0, 4, None, None, DAY, 0, 2.0, 1, None, None, None, None, None),
]
EXPECTED_USERS = [
    ("scratch118", "ab1", "hgi", 1, DAY, 4000, 10, 1.5),
    ("scratch118", "1234", "hgi", 1, DAY, 1000, 2, 7.0),
    ("scratch118", "ab1", "ops", 0, DAY, 700, 3, None),
    ("scratch119", "u" * 300, LONG_A, 0, DAY, 1, 1, 2.0),
    ("scratch119", "u" * 299 + "v", LONG_B, 0, DAY, 2, 1, 2.0),
]


def stored(sql: SqlClient) -> tuple[list[tuple], list[tuple]]:
    return sql.query(GROUP_QUERY), sql.query(USER_QUERY)


def test_one_date_loads_group_and_user_rows_exactly(db: Database, sql: SqlClient) -> None:
    assert not usage_loaded(db, DAY)
    assert load_usage(db, DAY, GROUP_ROWS, USER_ROWS) == UsageLoad(LOADED, 7, 5)
    assert usage_loaded(db, DAY)
    assert stored(sql) == (EXPECTED_GROUPS, EXPECTED_USERS)


def test_a_loaded_date_is_skipped_and_force_replaces_both_tables(db: Database, sql: SqlClient) -> None:
    load_usage(db, DAY, GROUP_ROWS, USER_ROWS)
    other_day = DAY + dt.timedelta(days=1)
    load_usage(db, other_day, GROUP_ROWS[:1], USER_ROWS[:1])
    assert load_usage(db, DAY, GROUP_ROWS[:2], []) == UsageLoad(SKIPPED)
    assert stored(sql) == (EXPECTED_GROUPS + [EXPECTED_GROUPS[0][:7] + (other_day,) + EXPECTED_GROUPS[0][8:]],
                           EXPECTED_USERS + [EXPECTED_USERS[0][:4] + (other_day,) + EXPECTED_USERS[0][5:]])

    changed = [UsageRow("scratch118", "Smith", "hgi", 1, None, None, None, True, None, inodes=1)]
    assert load_usage(db, DAY, changed, USER_ROWS[2:3], replace=True) == UsageLoad(REPLACED, 1, 1)
    groups, users = stored(sql)
    assert [row for row in groups if row[7] == DAY] == [
        ("scratch118", "Smith", "hgi", 1, 1, None, None, DAY, 0, None, 1, None, None, None, None, None)]
    assert [row for row in users if row[4] == DAY] == [EXPECTED_USERS[2]]
    assert len(groups) == 2 and len(users) == 2  # the other date untouched


def test_a_failed_load_leaves_nothing(db: Database, sql: SqlClient) -> None:
    bad = [GROUP_ROWS[0], UsageRow("scratch118", None, "big", 2**63, None, None, None, False, None)]
    with pytest.raises(DatabaseError, match=f"^{re.escape(db.url)}: statement failed: "):
        load_usage(db, DAY, bad, USER_ROWS)
    assert stored(sql) == ([], [])
    assert not usage_loaded(db, DAY)


def test_rows_that_cannot_be_stored_cost_only_themselves(db: Database, sql: SqlClient,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    huge = "h" * 70_000
    rows = [*GROUP_ROWS[:2], UsageRow("scratch118", None, huge, 1, None, None, None, False, None),
            UsageRow("scratch118", None, "ops", 99, None, None, None, False, None)]  # 2nd row for ops
    users = [*USER_ROWS[:2], UserUsageRow("scratch118", huge, "hgi", True, 5, 1, None)]
    with caplog.at_level(logging.WARNING):
        assert load_usage(db, DAY, rows, users) == UsageLoad(LOADED, 2, 2)
    assert stored(sql) == (EXPECTED_GROUPS[:2], EXPECTED_USERS[:2])
    assert f"group name {huge[:80]!r}... (70000 bytes) is longer than the database can store" in caplog.text
    assert f"user name {huge[:80]!r}... (70000 bytes) is longer than the database can store" in caplog.text
    assert "a second row for group 'ops' on scratch118 (distinct ids sharing one name) is not loaded" \
        in caplog.text


# ------------------------------------------------------------------ races

def _load_in_process(url: str, barrier: Any, results: Any) -> None:
    with connect(url, timeout=60) as database:
        barrier.wait(600)  # generous: starting a process can be slow on a busy machine
        results.put(load_usage(database, DAY, GROUP_ROWS, USER_ROWS).action)


def test_racing_processes_load_a_date_once(db: Database, db_url: str, sql: SqlClient) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_load_in_process, args=(db_url, barrier, results)) for _ in range(4)]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(900)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(10)
    assert [process.exitcode for process in processes] == [0] * 4
    assert sorted(results.get(timeout=5) for _ in processes) == [LOADED, SKIPPED, SKIPPED, SKIPPED]
    assert stored(sql) == (EXPECTED_GROUPS, EXPECTED_USERS)


@pytest.mark.mysql
def test_the_unique_key_stops_a_run_that_bypasses_the_lock(mysql_database_url: str) -> None:
    """A writer that holds no lock (an older lurge, a hand-made INSERT) commits first: the
    unique key refuses our rows, and the load ends as already loaded, not as an error."""
    url = mysql_database_url
    with connect(url) as database:
        ensure_schema(database)
        load_usage(database, DAY - dt.timedelta(days=1), GROUP_ROWS[:1])  # creates the volume and group
    with sql_connect(url) as sql:
        other = sql.database.engine.connect()
        transaction = other.begin()
        other.exec_driver_sql("INSERT INTO lustre_usage (used, record_date, unix_id, volume_id)"
                              " VALUES (1, %s, 1, 1)", (DAY,))
        outcome: list[UsageLoad] = []
        with connect(url) as database:
            loader = threading.Thread(target=lambda: outcome.append(load_usage(database, DAY, GROUP_ROWS)))
            loader.start()
            time.sleep(1.5)  # the loader now waits on the uncommitted row's key
            transaction.commit()
            other.close()
            loader.join(60)
        assert outcome == [UsageLoad(SKIPPED)]
        assert sql.query("SELECT used FROM lustre_usage WHERE record_date = ?", (DAY,)) == [(1,)]


# ------------------------------------------------------------------ inspections

def record(volume: str, path: tuple[bytes, ...], size: int, group: str | None = "hgi") -> DirectoryRecord:
    return DirectoryRecord(volume, path, size, 1, 2.0, (size, 0, 0, 0), 1001, group, True, "Smith")


def test_distinct_paths_stay_distinct(db: Database, sql: SqlClient) -> None:
    records = {"scratch118": [
        record("scratch118", (b"projects", b"p\xff"), 1),
        record("scratch118", (b"projects", b"p\\xff"), 2),
        record("scratch118", (b"projects", b"p1", b"caf\xc3\xa9", b"\xfe\\"), 3),
    ]}
    assert load_inspection(db, records, {"scratch118": DAY}, ["BAM", "CRAM", "VCF", "PEDBED"]) == 3
    assert sql.query("SELECT project_name, directory_path, num_files FROM directory ORDER BY directory_id") == [
        ("projects/p\\xff", None, 1), ("projects/p\\\\xff", None, 1), ("projects/p1", "café/\\xfe\\\\", 1)]


def test_a_path_too_long_to_store_costs_only_its_row(db: Database, sql: SqlClient,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    long_path = (b"projects", b"p1", b"d" * 70_000)
    records = {"scratch118": [record("scratch118", (b"projects", b"p1"), 1),
                              record("scratch118", long_path, 2)]}
    with caplog.at_level(logging.WARNING, logger="db.directory"):
        assert load_inspection(db, records, {"scratch118": DAY}, ["BAM", "CRAM", "VCF", "PEDBED"]) == 1
    assert sql.query("SELECT project_name, directory_path FROM directory") == [("projects/p1", None)]
    assert "is longer than the database can store: its row is not loaded" in caplog.text
    with db.read() as connection:
        assert connection.execute(sa.select(schema.inspection.c.snapshot_date)).all() == [(DAY,)]
