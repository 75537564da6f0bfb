"""The database layer on real engines: every test runs on SQLite and on MariaDB."""

from __future__ import annotations

import datetime
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from db import schema
from db.connection import PASSWORD_ENV, Database, connect, insert_rows
from db.ids import (
    get_or_create_filetypes,
    get_or_create_groups,
    get_or_create_pis,
    get_or_create_users,
    get_or_create_volumes,
)
from db.migrate import ensure_schema
from db.schema import TABLES
from tests.fixtures.database import SqlClient
from utils.common.errors import DatabaseError
from utils.common.names import escape_name

SECRET = "s3cr3t-pw"

# table -> [(column, kind, nullable)]; kinds are mapped to each engine's type names below.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "pi": [("pi_id", "id", False), ("pi_name", "text", False)],
    "unix_group": [("group_id", "id", False), ("group_name", "text", False), ("is_humgen", "bool", False)],
    "volume": [("volume_id", "id", False), ("scratch_disk", "text", False)],
    "lustre_usage": [
        ("record_id", "id", False), ("used", "bigint", True), ("quota", "bigint", True),
        ("quota_used", "bigint", True), ("record_date", "date", False), ("archived", "bool", True),
        ("last_modified", "double", True), ("pi_id", "bigint", True), ("unix_id", "bigint", False),
        ("volume_id", "bigint", False), ("inodes", "bigint", True), ("inode_quota", "bigint", True),
        ("inode_quota_used", "bigint", True), ("days_until_full_bytes", "double", True),
        ("days_until_full_inodes", "double", True), ("status", "text", True),
    ],
    "unix_user": [("user_id", "id", False), ("user_name", "text", False)],
    "user_usage": [
        ("record_id", "id", False), ("record_date", "date", False), ("volume_id", "bigint", False),
        ("user_id", "bigint", False), ("unix_id", "bigint", False), ("used", "bigint", True),
        ("inodes", "bigint", True), ("last_modified", "double", True),
    ],
    "directory": [
        ("directory_id", "id", False), ("project_name", "text", True), ("directory_path", "text", True),
        ("num_files", "bigint", True), ("size", "double", True), ("last_modified", "double", True),
        ("pi_id", "bigint", True), ("group_id", "bigint", True), ("volume_id", "bigint", False),
    ],
    "filetype": [("filetype_id", "id", False), ("filetype_name", "text", False)],
    "file_size": [
        ("file_size_id", "id", False), ("directory_id", "bigint", False), ("filetype_id", "bigint", False),
        ("size", "double", True),
    ],
    "inspection": [("volume_id", "bigint", False), ("snapshot_date", "date", False), ("loaded_at", "datetime", False)],
}
MYSQL_DIGESTS = {"pi": "pi_name", "unix_group": "group_name", "volume": "scratch_disk",
                 "filetype": "filetype_name", "unix_user": "user_name"}
"""MySQL only: the generated SHA-256 column the whole-name unique key is kept on."""
ENGINE_TYPES = {
    "mysql": {"id": "bigint", "bigint": "bigint", "text": "text", "bool": "tinyint", "double": "double",
              "date": "date", "datetime": "datetime", "digest": "binary"},
    "sqlite": {"id": "INTEGER", "bigint": "INTEGER", "text": "TEXT", "bool": "BOOLEAN", "double": "REAL",
               "date": "DATE", "datetime": "DATETIME"},
}

HOSTILE_NAMES = [
    "O'Brien", 'say "hi"', "back\\slash", "trailing\\", "semi;colon", "100%", "%s", "%(name)s", "?", "??",
    "'; DROP TABLE pi; --", "\" OR 1=1 --", "`tick`", "delimiter x'", "a'b delimiter ;; c'", "DELIMITER $$",
    "/* comment */", "tab\there", "new\nline", "NULL", "", " ", "abc", "abc ", " abc", "ABC", "Abc",
    "é", "e\u0301", "Müller", "日本語", "emoji 😀", "ß", "ss", ":name", "\\xff", "bad\udcffbyte",
    "x" * 1500, "y" * 254 + "é" * 800, "long '; -- " * 120,
]

DAY = datetime.date(2024, 2, 29)


# -- helpers --------------------------------------------------------------
def table_names(sql: SqlClient) -> list[str]:
    if sql.engine == "mysql":
        rows = sql.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    else:
        rows = sql.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
    return sorted(row[0] for row in rows)


def columns(sql: SqlClient, table: str) -> list[tuple[str, str, bool]]:
    if sql.engine == "mysql":
        rows = sql.query(
            "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (table,),
        )
        return [(name, kind, nullable == "YES") for name, kind, nullable in rows]
    rows = sql.query('SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid', (table,))
    return [(name, kind, not notnull and not pk) for name, kind, notnull, pk in rows]


def index_names(sql: SqlClient, table: str) -> set[str]:
    if sql.engine == "mysql":
        rows = sql.query(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (table,),
        )
    else:
        rows = sql.query("SELECT name FROM pragma_index_list(?)", (table,))
    return {row[0] for row in rows}


def count(db: Database, table: str) -> int:
    with db.read() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(schema.metadata.tables[table])).scalar()


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result(timeout=60) for future in futures]


def usage_row(group_id: int, volume_id: int, used: int = 1, pi_id: int | None = None) -> dict[str, Any]:
    return {"used": used, "quota": None, "quota_used": 2**62, "record_date": DAY, "archived": True,
            "last_modified": 0.1 + 0.2, "pi_id": pi_id, "unix_id": group_id, "volume_id": volume_id}


def ids_of(db: Database, make: Callable, names: Any) -> Any:
    with db.begin() as connection:
        return make(connection, names)


def stored_names(db: Database, table: sa.Table) -> dict[Any, int]:
    """Stored key -> id of a named table ((name, flag) for groups)."""
    id_column, *key_columns = table.columns
    key_columns = [c for c in key_columns if c.name != "pi_name_sha256"]
    with db.read() as connection:
        rows = connection.execute(sa.select(id_column, *key_columns)).all()
    return {(row[1] if len(row) == 2 else tuple(row[1:])): row[0] for row in rows}


# -- schema -------------------------------------------------------------
def test_schema_has_exactly_the_documented_tables_and_columns(db: Database, sql: SqlClient) -> None:
    assert table_names(sql) == sorted([*TABLES, "alembic_version"])
    assert set(TABLES) == set(EXPECTED_COLUMNS)
    types = ENGINE_TYPES[sql.engine]
    for table, expected in EXPECTED_COLUMNS.items():
        if sql.engine == "mysql" and table in MYSQL_DIGESTS:
            expected = [*expected, (f"{MYSQL_DIGESTS[table]}_sha256", "digest", True)]
        assert columns(sql, table) == [(name, types[kind], nullable) for name, kind, nullable in expected], table


def test_ensure_schema_is_idempotent_and_keeps_data(db: Database, sql: SqlClient) -> None:
    pis = ids_of(db, get_or_create_pis, ["Smith"])
    before = {table: columns(sql, table) for table in TABLES}
    ensure_schema(db)
    ensure_schema(db)
    assert {table: columns(sql, table) for table in TABLES} == before
    assert table_names(sql) == sorted([*TABLES, "alembic_version"])
    assert sql.query("SELECT pi_id, pi_name FROM pi") == [(pis["Smith"], "Smith")]
    assert count(db, "filetype") == 4


def test_named_indexes(db: Database, sql: SqlClient) -> None:
    assert {"lustre_usage_record_date", "lustre_usage_unique"} <= index_names(sql, "lustre_usage")
    assert "user_usage_unique" in index_names(sql, "user_usage")
    assert "directory_volume_id" in index_names(sql, "directory")
    assert "file_size_directory_id" in index_names(sql, "file_size")


def test_engine_specific_table_options(db: Database, sql: SqlClient) -> None:
    if sql.engine == "mysql":
        rows = sql.query(
            "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME != 'alembic_version'"
        )
        assert sorted(rows) == [(name, "InnoDB", "utf8mb4_nopad_bin") for name in sorted(TABLES)]
    else:
        with db.read() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").all() == [(1,)]


def test_filetype_seed_order(db: Database, sql: SqlClient) -> None:
    assert sql.query("SELECT filetype_id, filetype_name FROM filetype ORDER BY filetype_id") == [
        (1, "BAM"), (2, "CRAM"), (3, "VCF"), (4, "PEDBED")]
    assert ids_of(db, get_or_create_filetypes, ["PEDBED", "FASTQ", "BAM"]) == {"BAM": 1, "PEDBED": 4, "FASTQ": 5}


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("pi", {"pi_name": "Smith"}),
        ("volume", {"scratch_disk": "scratch118"}),
        ("filetype", {"filetype_name": "BAM"}),
        ("unix_group", {"group_name": "hgi", "is_humgen": True}),
        ("unix_user", {"user_name": "ab1"}),
    ],
)
def test_unique_constraints(db: Database, table: str, values: dict) -> None:
    statement = sa.insert(schema.metadata.tables[table]).values(**values)
    if table != "filetype":
        with db.begin() as connection:
            connection.execute(statement)
    with pytest.raises(DatabaseError, match="statement failed"):
        with db.begin() as connection:
            connection.execute(statement)


def test_unique_usage_keys(db: Database) -> None:
    with db.begin() as connection:
        volume = get_or_create_volumes(connection, ["scratch118"])["scratch118"]
        group = get_or_create_groups(connection, [("hgi", True)])[("hgi", True)]
        user = get_or_create_users(connection, ["ab1"])["ab1"]
        connection.execute(sa.insert(schema.lustre_usage), usage_row(group, volume))
        connection.execute(sa.insert(schema.user_usage).values(
            record_date=DAY, volume_id=volume, user_id=user, unix_id=group))
    with pytest.raises(DatabaseError, match="statement failed"):
        with db.begin() as connection:
            connection.execute(sa.insert(schema.lustre_usage), usage_row(group, volume, used=2))
    with pytest.raises(DatabaseError, match="statement failed"):
        with db.begin() as connection:
            connection.execute(sa.insert(schema.user_usage).values(
                record_date=DAY, volume_id=volume, user_id=user, unix_id=group, used=5))
    assert (count(db, "lustre_usage"), count(db, "user_usage")) == (1, 1)


def test_foreign_keys_are_enforced_and_file_sizes_follow_their_directory(db: Database) -> None:
    with pytest.raises(DatabaseError, match="statement failed"):
        with db.begin() as connection:
            connection.execute(sa.insert(schema.lustre_usage), usage_row(group_id=999, volume_id=999))
    with db.begin() as connection:
        volume = get_or_create_volumes(connection, ["scratch118"])["scratch118"]
        directory = connection.execute(sa.insert(schema.directory).values(
            project_name="projects/p1", directory_path="sub", volume_id=volume)).inserted_primary_key[0]
        insert_rows(connection, schema.file_size, [
            {"directory_id": directory, "filetype_id": 1, "size": 1.5},
            {"directory_id": directory, "filetype_id": 2, "size": 0.25}])
    with db.read() as connection:
        assert connection.execute(sa.select(schema.file_size.c.filetype_id, schema.file_size.c.size)
                                  .order_by(schema.file_size.c.filetype_id)).all() == [(1, 1.5), (2, 0.25)]
    with db.begin() as connection:
        connection.execute(sa.delete(schema.directory).where(schema.directory.c.directory_id == directory))
    assert count(db, "file_size") == 0


# -- values -------------------------------------------------------------
def test_values_round_trip_identically(db: Database, sql: SqlClient) -> None:
    usage = schema.lustre_usage
    with db.begin() as connection:
        volume = get_or_create_volumes(connection, ["scratch118"])["scratch118"]
        group = get_or_create_groups(connection, [("hgi", True)])[("hgi", True)]
        pi = get_or_create_pis(connection, ["Smith"])["Smith"]
        connection.execute(sa.insert(usage), [
            {**usage_row(group, volume, used=2**62, pi_id=pi), "quota_used": 0, "inodes": 2**63 - 1,
             "days_until_full_bytes": 12.5, "status": "Not OK"},
            {**usage_row(group, volume, used=5), "quota": 10, "quota_used": 3,
             "record_date": datetime.date(1999, 12, 31), "archived": False, "last_modified": 12.5,
             "inodes": None, "days_until_full_bytes": None, "status": None}])
    with db.read() as connection:
        assert connection.execute(
            sa.select(usage.c.used, usage.c.quota, usage.c.quota_used, usage.c.record_date, usage.c.archived,
                      usage.c.last_modified, usage.c.pi_id, usage.c.inodes, usage.c.days_until_full_bytes,
                      usage.c.status).order_by(usage.c.record_id)
        ).all() == [
            (2**62, None, 0, DAY, True, 0.30000000000000004, pi, 2**63 - 1, 12.5, "Not OK"),
            (5, 10, 3, datetime.date(1999, 12, 31), False, 12.5, None, None, None, None),
        ]
        assert connection.execute(sa.select(sa.func.max(usage.c.record_date))).scalar() == DAY
        assert connection.execute(sa.select(usage.c.record_date).where(
            usage.c.record_date == datetime.date(1999, 12, 31))).all() == [(datetime.date(1999, 12, 31),)]
    assert sql.query("SELECT COUNT(*), SUM(quota_used), SUM(used) - ?, AVG(quota_used) FROM lustre_usage",
                     (2**62,)) == [(2, 3, 5, 1.5)]

    loaded = datetime.datetime(2024, 3, 1, 6, 30, 15, 999999)
    with db.begin() as connection:
        connection.execute(sa.insert(schema.inspection).values(
            volume_id=volume, snapshot_date=datetime.date(2024, 3, 1), loaded_at=loaded))
    with db.read() as connection:
        assert connection.execute(sa.select(schema.inspection)).all() == [
            (volume, datetime.date(2024, 3, 1), datetime.datetime(2024, 3, 1, 6, 30, 15))]
    assert sql.query("SELECT loaded_at FROM inspection") == [(datetime.datetime(2024, 3, 1, 6, 30, 15),)]


def test_insert_returns_new_ids(db: Database) -> None:
    with db.begin() as connection:
        first = connection.execute(sa.insert(schema.pi).values(pi_name="A")).inserted_primary_key[0]
        second = connection.execute(sa.insert(schema.pi).values(pi_name="B")).inserted_primary_key[0]
    assert (first, second) == (1, 2)


# -- bulk inserts -------------------------------------------------------
def test_insert_rows_20k_rows_in_one_transaction(db: Database, sql: SqlClient) -> None:
    with db.begin() as connection:
        volume = get_or_create_volumes(connection, ["scratch118"])["scratch118"]
        group = get_or_create_groups(connection, [("hgi", False)])[("hgi", False)]
        rows = [{**usage_row(group, volume, used=i), "record_date": DAY + datetime.timedelta(days=i)}
                for i in range(20_000)]
        assert insert_rows(connection, schema.lustre_usage, rows) == 20_000
    assert sql.query("SELECT COUNT(*), SUM(used), MIN(used), MAX(used), SUM(archived) FROM lustre_usage") == [
        (20_000, 199_990_000, 0, 19_999, 20_000)]


def test_insert_rows_is_all_or_nothing(db: Database) -> None:
    with db.begin() as connection:
        volume = get_or_create_volumes(connection, ["scratch118"])["scratch118"]
        group = get_or_create_groups(connection, [("hgi", False)])[("hgi", False)]
    days = [DAY + datetime.timedelta(days=i) for i in range(12_000)]
    rows = [{**usage_row(group, volume), "record_date": day} for day in days] + [usage_row(999, volume)]
    with pytest.raises(DatabaseError, match="statement failed"):
        with db.begin() as connection:
            insert_rows(connection, schema.lustre_usage, rows)
    assert count(db, "lustre_usage") == 0
    with db.begin() as connection:
        assert insert_rows(connection, schema.lustre_usage, rows[:12_000]) == 12_000
        assert insert_rows(connection, schema.lustre_usage, []) == 0
    assert count(db, "lustre_usage") == 12_000


def test_large_rows_and_executemany_updates(db: Database, sql: SqlClient) -> None:
    names = [f"{i:05d}-" + "é" * 2000 for i in range(6000)]  # ~24 MB of parameters: several batches
    with db.begin() as connection:
        assert insert_rows(connection, schema.pi, [{"pi_name": name} for name in names]) == 6000
    assert sorted(name for (name,) in sql.query("SELECT pi_name FROM pi")) == names
    pi = schema.pi
    with db.begin() as connection:
        changed = connection.execute(
            sa.update(pi).where(pi.c.pi_id == sa.bindparam("id")).values(pi_name=sa.bindparam("name")),
            [{"id": 1, "name": "first"}, {"id": 6000, "name": "last"}]).rowcount
    assert changed == 2
    assert sql.query("SELECT pi_id, pi_name FROM pi WHERE pi_id IN (1, 6000) ORDER BY pi_id") == [
        (1, "first"), (6000, "last")]


# -- transactions -------------------------------------------------------
def test_rollback_on_exception_leaves_nothing(db: Database, db_url: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with db.begin() as connection:
            get_or_create_pis(connection, ["Smith", "Jones"])
            connection.execute(sa.insert(schema.volume).values(scratch_disk="scratch118"))
            raise RuntimeError("boom")
    assert (count(db, "pi"), count(db, "volume")) == (0, 0)
    with connect(db_url) as other:
        assert count(other, "pi") == 0


def test_commit_is_visible_to_other_connections(db: Database, db_url: str) -> None:
    with connect(db_url) as other:
        with db.begin() as connection:
            connection.execute(sa.insert(schema.pi).values(pi_name="Smith"))
        with other.read() as connection:
            assert connection.execute(sa.select(schema.pi.c.pi_name)).all() == [("Smith",)]


def test_nested_transaction_is_an_error_and_rolls_back(db: Database) -> None:
    with pytest.raises(DatabaseError, match="nested transactions are not supported"):
        with db.begin() as connection:
            connection.execute(sa.insert(schema.pi).values(pi_name="Smith"))
            with db.begin():
                pass
    assert count(db, "pi") == 0
    with db.begin() as connection:  # the guard is reset
        connection.execute(sa.insert(schema.pi).values(pi_name="Smith"))
    assert count(db, "pi") == 1


def test_failed_statement_inside_transaction_rolls_back(db: Database) -> None:
    with pytest.raises(DatabaseError, match=r"statement failed: .*\[SQL: INSERT INTO pi"):
        with db.begin() as connection:
            connection.execute(sa.insert(schema.pi).values(pi_name="Smith"))
            connection.execute(sa.insert(schema.pi).values(pi_name="Smith"))
    assert count(db, "pi") == 0
    with db.begin() as connection:  # the database is still usable
        connection.execute(sa.insert(schema.pi).values(pi_name="Smith"))
    assert count(db, "pi") == 1


@pytest.mark.parametrize(
    ("sql_text", "params"),
    [
        ("SELEC 1", {}),
        ("SELECT pi_name FROM pi WHERE pi_id = :id", {}),
        ("SELECT nope FROM pi", {}),
    ],
)
def test_bad_statements_raise_database_error(db: Database, sql_text: str, params: dict) -> None:
    with pytest.raises(DatabaseError) as caught:
        with db.read() as connection:
            connection.execute(sa.text(sql_text), params)
    assert str(caught.value).startswith(f"{db.url}: ")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert count(db, "pi") == 0


def test_closed_database(db_url: str) -> None:
    database = connect(db_url)
    database.close()
    database.close()
    assert database.closed
    with pytest.raises(DatabaseError, match="the connection is closed"):
        with database.read():
            pass
    with pytest.raises(DatabaseError, match="the connection is closed"):
        with database.begin():
            pass


# -- ids ----------------------------------------------------------------
def test_get_or_create_repeats_and_agrees_across_connections(db: Database, db_url: str) -> None:
    names = ["Smith", "Jones", "Smith", "Ng"]
    first = ids_of(db, get_or_create_pis, names)
    assert set(first) == {"Smith", "Jones", "Ng"}
    assert first == stored_names(db, schema.pi)
    assert ids_of(db, get_or_create_pis, names) == first
    with connect(db_url) as other:
        assert ids_of(other, get_or_create_pis, ["Ng", "Smith", "Jones"]) == first
        assert ids_of(other, get_or_create_pis, ["Okafor"]) == {"Okafor": 4}
    assert count(db, "pi") == 4
    assert ids_of(db, get_or_create_pis, []) == {}
    with pytest.raises(TypeError):
        ids_of(db, get_or_create_pis, [123])


def test_groups_are_unique_per_name_and_humgen_flag(db: Database) -> None:
    ids = ids_of(db, get_or_create_groups, [("hgi", True), ("hgi", False), ("hgi", True), ("HGI", True)])
    assert len(set(ids.values())) == 3
    assert set(ids) == {("hgi", True), ("hgi", False), ("HGI", True)}
    assert stored_names(db, schema.unix_group) == ids
    assert ids_of(db, get_or_create_groups, [("hgi", False), ("HGI", True)]) == {
        ("hgi", False): ids[("hgi", False)], ("HGI", True): ids[("HGI", True)]}


def test_hostile_names_round_trip_exactly(db: Database, db_url: str, sql: SqlClient) -> None:
    """Every name is stored with the documented escape, exactly, and reads back distinct."""
    assert len(set(HOSTILE_NAMES)) == len(HOSTILE_NAMES)
    escaped = {name: escape_name(name) for name in HOSTILE_NAMES}
    assert len(set(escaped.values())) == len(HOSTILE_NAMES)
    makers = [
        (get_or_create_pis, schema.pi),
        (get_or_create_users, schema.unix_user),
        (get_or_create_volumes, schema.volume),
        (get_or_create_filetypes, schema.filetype),
    ]
    for make, table in makers:
        ids = ids_of(db, make, HOSTILE_NAMES)
        assert sorted(ids) == sorted(HOSTILE_NAMES)
        assert len(set(ids.values())) == len(HOSTILE_NAMES)
        stored = stored_names(db, table)
        assert {escaped[name]: row_id for name, row_id in ids.items()} == {
            name: row_id for name, row_id in stored.items() if row_id in ids.values()}
        with connect(db_url) as other:
            assert ids_of(other, make, list(reversed(HOSTILE_NAMES))) == ids
    groups = [(name, flag) for name in HOSTILE_NAMES for flag in (True, False)]
    group_ids = ids_of(db, get_or_create_groups, groups)
    assert len(set(group_ids.values())) == len(groups)
    assert ids_of(db, get_or_create_groups, groups) == group_ids
    for name in ("delimiter x'", "a'b delimiter ;; c'", "abc "):
        assert sql.query("SELECT pi_name FROM pi WHERE pi_name = ?", (name,)) == [(name,)]
    # a literal backslash-x-f-f and a byte 0xff stay apart: the first doubles its backslash
    assert sql.query("SELECT pi_name FROM pi WHERE pi_name IN (?, ?, ?) ORDER BY pi_name",
                     ("\\\\xff", "bad\\xffbyte", "\\xff")) == [("\\\\xff",), ("bad\\xffbyte",)]


def test_long_names_sharing_the_first_255_characters(db: Database) -> None:
    """Whole names are unique on both engines (MySQL keys a SHA-256 of the whole name)."""
    names = ["p" * 255 + "-one", "p" * 255 + "-two", "p" * 300]
    pis = ids_of(db, get_or_create_pis, names)
    assert sorted(pis) == sorted(names) and len(set(pis.values())) == 3
    users = ids_of(db, get_or_create_users, names)
    assert sorted(users) == sorted(names) and len(set(users.values())) == 3
    groups = ids_of(db, get_or_create_groups, [(name, flag) for name in names for flag in (True, False)])
    assert len(set(groups.values())) == 6
    assert ids_of(db, get_or_create_pis, list(reversed(names))) == pis
    assert count(db, "pi") == 3


def test_a_name_too_long_to_store_costs_only_itself(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    huge = "z" * 40_000 + "é" * 20_000  # 80,000 bytes: more than a TEXT column holds
    with caplog.at_level(logging.WARNING, logger="db.ids"):
        ids = ids_of(db, get_or_create_pis, ["Smith", huge, "Jones"])
    assert sorted(ids) == ["Jones", "Smith"]
    assert count(db, "pi") == 2
    assert f"PI name {huge[:80]!r}... (80000 bytes) is longer than the database can store" in caplog.text


def test_get_or_create_joins_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.begin() as connection:
            get_or_create_pis(connection, ["Smith"])
            get_or_create_groups(connection, [("hgi", True)])
            raise RuntimeError("abandon the load")
    assert (count(db, "pi"), count(db, "unix_group")) == (0, 0)


def test_many_names_in_bulk(db: Database) -> None:
    names = [f"group-{i:05d}" for i in range(12_000)]
    ids = ids_of(db, get_or_create_volumes, names[:5000])
    ids_all = ids_of(db, get_or_create_volumes, names)
    assert {name: ids_all[name] for name in names[:5000]} == ids
    assert len(set(ids_all.values())) == 12_000
    assert count(db, "volume") == 12_000


def test_concurrent_overlapping_creation_agrees(db: Database, db_url: str) -> None:
    first_names = [f"pi-{i:04d}" for i in range(0, 700)]
    second_names = [f"pi-{i:04d}" for i in range(350, 1050)]
    inserted = threading.Event()
    with connect(db_url) as one, connect(db_url) as two:

        def first() -> dict[str, int]:
            with one.begin() as connection:
                ids = get_or_create_pis(connection, first_names)
                inserted.set()
                time.sleep(0.5)  # keep the new rows uncommitted while `second` runs
            return ids

        def second() -> dict[str, int]:
            assert inserted.wait(30)
            with two.begin() as connection:
                return get_or_create_pis(connection, second_names)

        ids_one, ids_two = run_together(first, second)
    for name in set(first_names) & set(second_names):
        assert ids_one[name] == ids_two[name]
    assert stored_names(db, schema.pi) == {**ids_one, **ids_two}
    assert count(db, "pi") == 1050


def test_concurrent_creation_after_an_earlier_read(db: Database, db_url: str) -> None:
    """A transaction that read before another committed still sees the committed rows."""
    first_groups = [(f"g{i}", i % 2 == 0) for i in range(0, 600)]
    second_groups = [(f"g{i}", i % 2 == 0) for i in range(300, 900)]
    has_read = threading.Event()
    first_done = threading.Event()
    with connect(db_url) as one, connect(db_url) as two:

        def first() -> dict:
            assert has_read.wait(30)
            with one.begin() as connection:
                ids = get_or_create_groups(connection, first_groups)
            first_done.set()
            return ids

        def second() -> dict:
            with two.begin() as connection:
                assert connection.execute(sa.select(sa.func.count()).select_from(schema.unix_group)).scalar() == 0
                has_read.set()
                first_done.wait(1.5)  # MySQL: `first` commits now; SQLite: it waits for our lock
                return get_or_create_groups(connection, second_groups)

        ids_one, ids_two = run_together(first, second)
    for key in set(first_groups) & set(second_groups):
        assert ids_one[key] == ids_two[key]
    assert stored_names(db, schema.unix_group) == {**ids_one, **ids_two}
    assert count(db, "unix_group") == 900


# -- both engines side by side --------------------------------------------
@pytest.mark.mysql
def test_engines_give_identical_results(tmp_path, mysql_database_url: str) -> None:
    usage, group, pi, volume_table = schema.lustre_usage, schema.unix_group, schema.pi, schema.volume

    def load(url: str) -> dict[str, list]:
        with connect(url) as database:
            ensure_schema(database)
            with database.begin() as connection:
                volume = get_or_create_volumes(connection, ["scratch118"])["scratch118"]
                groups = get_or_create_groups(connection, [(name, True) for name in HOSTILE_NAMES])
                pis = get_or_create_pis(connection, HOSTILE_NAMES)
                insert_rows(connection, usage, [
                    {"used": i * 1000, "quota": None if i % 3 else i, "quota_used": i,
                     "record_date": datetime.date(2024, 1, 1 + i % 28), "archived": i % 2 == 0,
                     "last_modified": round(i / 7, 1), "pi_id": pis[name], "unix_id": groups[(name, True)],
                     "volume_id": volume, "inodes": i, "status": ("OK", "Not OK", None)[i % 3]}
                    for i, name in enumerate(HOSTILE_NAMES)])
            with database.read() as connection:
                return {
                    "usage": connection.execute(
                        sa.select(usage.c.record_id, usage.c.used, usage.c.quota, usage.c.quota_used,
                                  usage.c.record_date, usage.c.archived, usage.c.last_modified, pi.c.pi_name,
                                  group.c.group_name, group.c.is_humgen, volume_table.c.scratch_disk,
                                  usage.c.inodes, usage.c.status)
                        .join(pi, pi.c.pi_id == usage.c.pi_id).join(group, group.c.group_id == usage.c.unix_id)
                        .join(volume_table, volume_table.c.volume_id == usage.c.volume_id)
                        .order_by(usage.c.record_id)).all(),
                    "totals": connection.execute(
                        sa.select(sa.func.count(), sa.func.max(usage.c.last_modified))
                        .where(usage.c.record_date >= datetime.date(2024, 1, 5))).all(),
                    "filetypes": connection.execute(sa.select(schema.filetype)
                                                    .order_by(schema.filetype.c.filetype_id)).all(),
                }

    on_sqlite = load(f"sqlite:///{tmp_path}/lurge.db")
    on_mysql = load(mysql_database_url)
    assert len(on_sqlite["usage"]) == len(HOSTILE_NAMES)
    assert on_mysql == on_sqlite


# -- connection failures --------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_closed_port_fails_fast_without_the_password() -> None:
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(DatabaseError) as caught:
        connect(f"mysql://lurge:{SECRET}@127.0.0.1:{port}/lustre_usage", timeout=5)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith(f"cannot connect to mysql://lurge:***@127.0.0.1:{port}/lustre_usage: ")
    assert "2003" in message
    assert SECRET not in message and SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_silent_server_times_out_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    with socket.socket() as silent:  # accepts connections (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(DatabaseError) as caught:
            connect(f"mysql+mysqlconnector://lurge@127.0.0.1:{port}/lustre_usage", timeout=1.5)
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 4.0
    message = str(caught.value)
    assert message == (f"cannot connect to mysql+mysqlconnector://lurge@127.0.0.1:{port}/lustre_usage: "
                       "the server did not answer within the 1.5 s connection timeout")
    assert SECRET not in message


@pytest.mark.mysql
def test_wrong_password_without_the_password(mysql_server_url: str) -> None:
    parts = urlsplit(mysql_server_url)
    netloc = f"{parts.username or 'root'}:{SECRET}@{parts.hostname}:{parts.port or 3306}"
    url = urlunsplit((parts.scheme, netloc, "/", "", ""))
    with pytest.raises(DatabaseError) as caught:
        connect(url, timeout=5)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to {parts.scheme}://{parts.username or 'root'}:***@")
    assert "1045" in message and "Access denied" in message
    assert SECRET not in message


@pytest.mark.mysql
def test_unknown_database(mysql_server_url: str) -> None:
    url = urlunsplit(("mysql", urlsplit(mysql_server_url).netloc, "/lurge_no_such_db", "", ""))
    with pytest.raises(DatabaseError, match="1049"):
        connect(url, timeout=5)
