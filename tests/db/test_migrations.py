"""Schema upgrades: a database made before versions were tracked, on SQLite and MariaDB.

The old database is built from that release's own DDL (``old_schema/*.sql``,
copied verbatim from it) and filled with a few days of rows; the new code must
upgrade it in place, keeping every row and id.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from db import schema
from db.connection import connect
from db.migrate import MIGRATIONS_DIR, ensure_schema, head_revision, pending_upgrade
from db.usage import LOADED, load_usage
from tests.configs import base_sections, write_config
from tests.fixtures.database import SqlClient
from tests.fixtures.database import connect as sql_connect
from utils.common.config import load_config
from utils.common.errors import DatabaseError
from utils.manager.stages import SnapshotSet, describe_plan
from utils.manager.status import read_status
from utils.report.rows import UsageRow, UserUsageRow

OLD_SCHEMA = Path(__file__).parent / "old_schema"
OLD_TABLES = ("pi", "unix_group", "volume", "lustre_usage", "directory", "filetype", "file_size", "inspection")
ORDER = {"inspection": "volume_id"}  # tables without an auto id
NEW_USAGE_COLUMNS = ("inodes", "inode_quota", "inode_quota_used", "days_until_full_bytes",
                     "days_until_full_inodes", "status")
DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(3)]


def run_statements(sql: SqlClient, text: str) -> None:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    for statement in body.split(";\n"):
        if statement.strip():
            sql.execute(statement)


def build_old_database(url: str, *, duplicate: bool = False, fill: bool = True) -> None:
    """The old schema from its own DDL, with three days of usage and one inspection."""
    with sql_connect(url) as sql:
        run_statements(sql, (OLD_SCHEMA / f"{sql.engine}.sql").read_text(encoding="utf-8"))
        if not fill:
            return
        sql.execute("INSERT INTO pi (pi_name) VALUES ('Smith'), ('Jones')")
        sql.execute("INSERT INTO unix_group (group_name, is_humgen) VALUES ('hgi', 1), ('ops', 0), ('hgi', 0)")
        sql.execute("INSERT INTO volume (scratch_disk) VALUES ('scratch118'), ('scratch119')")
        for number, day in enumerate(DAYS):
            for group, pi, volume in ((1, 1, 1), (2, None, 1), (3, 2, 2)):
                sql.execute("INSERT INTO lustre_usage (used, quota, quota_used, record_date, archived,"
                            " last_modified, pi_id, unix_id, volume_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (1000 * group + number, None if group == 2 else 10**12, 900 * group, day,
                             group == 2, 1.5 * number, pi, group, volume))
        if duplicate:
            sql.execute("INSERT INTO lustre_usage (used, record_date, unix_id, volume_id) VALUES (?, ?, 1, 1)",
                        (5, DAYS[1]))
        sql.execute("INSERT INTO directory (project_name, directory_path, num_files, size, last_modified,"
                    " pi_id, group_id, volume_id) VALUES ('projects/p1', NULL, 3, 1.25, 2.0, 1, 1, 1),"
                    " ('projects/p1', 'sub', 2, 0.5, 4.0, NULL, 2, 1)")
        sql.execute("INSERT INTO file_size (directory_id, filetype_id, size) VALUES (1, 1, 1.0), (1, 3, 0.25),"
                    " (2, 2, 0.5)")
        sql.execute("INSERT INTO inspection (volume_id, snapshot_date, loaded_at) VALUES (1, ?, ?)",
                    (DAYS[2], dt.datetime(2024, 1, 3, 6, 30, 15)))


def dump(sql: SqlClient, table: str, columns: str = "*") -> list[tuple]:
    return sql.query(f"SELECT {columns} FROM {table} ORDER BY {ORDER.get(table, '1')}")


def old_columns(sql: SqlClient, table: str) -> str:
    """The table's columns as the old schema had them (the new ones left out)."""
    names = [row[0] for row in (
        sql.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                  " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", (table,))
        if sql.engine == "mysql" else sql.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,)))]
    return ", ".join(n for n in names if n not in NEW_USAGE_COLUMNS and not n.endswith("_sha256"))


def table_definitions(sql: SqlClient, tables: tuple[str, ...] = OLD_TABLES) -> dict[str, str]:
    """Each table's definition as the server reports it (SHOW CREATE TABLE / sqlite_master)."""
    if sql.engine == "mysql":
        return {table: sql.query(f"SHOW CREATE TABLE {table}")[0][1] for table in tables}
    return {name: text for name, text in sql.query(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name IN (%s) ORDER BY name"
        % ", ".join("?" for _ in tables), tables)}


def version(sql: SqlClient) -> list[tuple]:
    return sql.query("SELECT version_num FROM alembic_version")


def upgrade_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "db.migrate"]


# ------------------------------------------------------------------ the old release's database

def test_old_database_is_upgraded_in_place_keeping_every_row_and_id(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    build_old_database(db_url)
    with sql_connect(db_url) as sql:
        before = {table: dump(sql, table) for table in OLD_TABLES}
    assert len(before["lustre_usage"]) == 9

    assert pending_upgrade(db_url) == (
        "would recognise the existing tables (made before schema versions were tracked) as revision 0001 "
        f"and upgrade them to {head_revision()} (0002: Inodes, inode quotas, warnings and per-user usage; "
        "one row per (date, volume, group); 0003: Unique keys over whole names on MySQL/MariaDB)")
    with caplog.at_level(logging.INFO, logger="db.migrate"), connect(db_url) as database:
        ensure_schema(database)
    assert any("has lurge tables but no recorded schema version: recognised as revision 0001" in line
               for line in upgrade_log(caplog))

    with sql_connect(db_url) as sql:
        assert version(sql) == [(head_revision(),)]
        after = {table: dump(sql, table, old_columns(sql, table)) for table in OLD_TABLES}
        assert after == before  # every row, id and value kept
        assert dump(sql, "lustre_usage", ", ".join(NEW_USAGE_COLUMNS)) == [(None,) * 6] * 9
        assert (dump(sql, "unix_user"), dump(sql, "user_usage")) == ([], [])

    # the next load goes on from the old ids
    with connect(db_url) as database:
        result = load_usage(database, DAYS[2] + dt.timedelta(days=1), [
            UsageRow("scratch118", "Smith", "hgi", 7, None, 0.5, None, True, None, inodes=3, status="OK")],
            [UserUsageRow("scratch118", "ab1", "hgi", True, 7, 3, 0.5)])
    assert (result.action, result.group_rows, result.user_rows) == (LOADED, 1, 1)
    with sql_connect(db_url) as sql:
        assert sql.query("SELECT record_id, pi_id, unix_id, volume_id, inodes, status FROM lustre_usage"
                         " WHERE record_date = ?", (DAYS[2] + dt.timedelta(days=1),)) == [
            (10, 1, 1, 1, 3, "OK")]

    # a second start upgrades nothing
    caplog.clear()
    with sql_connect(db_url) as sql:
        definitions = table_definitions(sql)
    with caplog.at_level(logging.INFO, logger="db.migrate"), connect(db_url) as database:
        ensure_schema(database)
    assert upgrade_log(caplog) == []
    assert pending_upgrade(db_url) is None
    with sql_connect(db_url) as sql:
        assert table_definitions(sql) == definitions
        assert version(sql) == [(head_revision(),)]


def test_revision_0001_is_the_old_schema_exactly(db_url: str) -> None:
    build_old_database(db_url, fill=False)
    with sql_connect(db_url) as sql:
        old = table_definitions(sql)
        for table in reversed(OLD_TABLES):
            sql.execute(f"DROP TABLE {table}")
    with connect(db_url) as database, database.begin() as connection:
        config = Config()
        config.set_main_option("script_location", MIGRATIONS_DIR)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with sql_connect(db_url) as sql:
        assert table_definitions(sql) == old
        assert sql.query("SELECT filetype_id, filetype_name FROM filetype ORDER BY filetype_id") == [
            (1, "BAM"), (2, "CRAM"), (3, "VCF"), (4, "PEDBED")]
        assert version(sql) == [("0001",)]


def test_an_empty_database_is_created_at_the_newest_revision(db_url: str) -> None:
    assert pending_upgrade(db_url) in (
        f"would create the lurge tables (schema revision {head_revision()})",
        f"would create {db_url.removeprefix('sqlite:///')} with the lurge tables "
        f"(schema revision {head_revision()})")
    with connect(db_url) as database:
        ensure_schema(database)
    assert pending_upgrade(db_url) is None
    with sql_connect(db_url) as sql:
        assert version(sql) == [(head_revision(),)]


def test_a_missing_sqlite_file_is_not_created_by_a_dry_run(tmp_path: Path) -> None:
    path = tmp_path / "lurge.db"
    assert pending_upgrade(f"sqlite:///{path}") == (
        f"would create {path} with the lurge tables (schema revision {head_revision()})")
    assert not path.exists()


def test_a_database_newer_than_the_code_is_refused(db_url: str, tmp_path: Path) -> None:
    with connect(db_url) as database:
        ensure_schema(database)
    with sql_connect(db_url) as sql:
        sql.execute("UPDATE alembic_version SET version_num = '0099'")
        definitions = table_definitions(sql)
    message = (f"the database schema is at revision '0099', which this version of lurge does not know "
               f"(its newest is {head_revision()}): it was upgraded by a newer lurge. Run that version, "
               "or restore a backup made before the upgrade; nothing was changed")
    with connect(db_url) as database:
        with pytest.raises(DatabaseError) as caught:
            ensure_schema(database)
    assert str(caught.value) == f"{database.url}: {message}"
    with pytest.raises(DatabaseError, match="revision '0099', which this version of lurge does not know"):
        pending_upgrade(db_url)
    with sql_connect(db_url) as sql:
        assert table_definitions(sql) == definitions and version(sql) == [("0099",)]

    # the manager's dry run says so, and still exits normally
    sections = base_sections(tmp_path, db_url, "ldif:/nonexistent", [{"number": 1, "mount": "/lustre/scratch1"}])
    config = load_config(str(write_config(tmp_path / "lurge.toml", sections)))
    plan = describe_plan(config, "report", SnapshotSet(DAYS[0], {1: "x.dat.gz"}),
                         read_status(config, DAYS[0], dry_run=True), False)
    assert plan[-1] == f"would fail: {database.url}: {message}"


def test_duplicate_usage_rows_refuse_the_upgrade_and_change_nothing(db_url: str) -> None:
    build_old_database(db_url, duplicate=True)
    with sql_connect(db_url) as sql:
        before = {table: dump(sql, table) for table in OLD_TABLES}
    with connect(db_url) as database:
        with pytest.raises(DatabaseError) as caught:
            ensure_schema(database)
    assert str(caught.value) == (
        f"{database.url}: lustre_usage holds more than one row for 1 (date, volume, group): "
        "2024-01-02 scratch118 'hgi' (humgen) x2. The unique key (record_date, volume_id, unix_id) cannot "
        "be added until the extra rows are removed (see 'Duplicate usage rows' in docs/database.md); "
        "the schema was not changed")
    with sql_connect(db_url) as sql:
        assert {table: dump(sql, table) for table in OLD_TABLES} == before  # no column added, no row lost
        sql.execute("DELETE FROM lustre_usage WHERE record_id = 10")  # what docs/database.md tells the admin
    with connect(db_url) as database:
        ensure_schema(database)
    assert pending_upgrade(db_url) is None


def test_concurrent_first_starts_upgrade_once(db_url: str) -> None:
    build_old_database(db_url)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def first_start() -> None:
        try:
            with connect(db_url, timeout=30) as database:
                start.wait(30)
                ensure_schema(database)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=first_start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with sql_connect(db_url) as sql:
        assert version(sql) == [(head_revision(),)]
        assert len(dump(sql, "lustre_usage")) == 9


def test_the_metadata_matches_the_migrated_schema(db_url: str) -> None:
    """db/schema.py (what statements are built from) describes what the revisions create."""
    with connect(db_url) as database:
        ensure_schema(database)
        with database.read() as connection:
            inspector = sa.inspect(connection)
            for table in schema.metadata.sorted_tables:
                key = set(inspector.get_pk_constraint(table.name)["constrained_columns"])
                reflected = [(c["name"], c["nullable"] and c["name"] not in key)  # SQLite: rowid keys
                             for c in inspector.get_columns(table.name) if not c["name"].endswith("_sha256")]
                expected = [(c.name, c.nullable and not c.primary_key) for c in table.columns]
                assert reflected == expected, table.name
                indexes = {i["name"] for i in inspector.get_indexes(table.name)}
                assert {i.name for i in table.indexes} <= indexes, table.name
