"""The database layer on real engines: every test runs on SQLite and on MariaDB."""

from __future__ import annotations

import datetime
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest

from db.connection import PASSWORD_ENV, Database, as_date, connect
from db.ids import (
    get_or_create_filetypes,
    get_or_create_groups,
    get_or_create_pis,
    get_or_create_volumes,
)
from db.schema import TABLES, ensure_schema
from utils.common.errors import DatabaseError

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
        ("volume_id", "bigint", False),
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
ENGINE_TYPES = {
    "mysql": {"id": "bigint", "bigint": "bigint", "text": "text", "bool": "tinyint", "double": "double",
              "date": "date", "datetime": "datetime"},
    "sqlite": {"id": "INTEGER", "bigint": "INTEGER", "text": "TEXT", "bool": "BOOLEAN", "double": "REAL",
               "date": "DATE", "datetime": "DATETIME"},
}

HOSTILE_NAMES = [
    "O'Brien", 'say "hi"', "back\\slash", "trailing\\", "semi;colon", "100%", "%s", "%(name)s", "?", "??",
    "'; DROP TABLE pi; --", "\" OR 1=1 --", "`tick`", "delimiter x'", "a'b delimiter ;; c'", "DELIMITER $$",
    "/* comment */", "tab\there", "new\nline", "NULL", "", " ", "abc", "abc ", " abc", "ABC", "Abc",
    "é", "e\u0301", "Müller", "日本語", "emoji 😀", "ß", "ss",
    "x" * 1500, "y" * 254 + "é" * 800, "long '; -- " * 120,
]

INSERT_USAGE = (
    "INSERT INTO lustre_usage (used, quota, quota_used, record_date, archived, last_modified,"
    " pi_id, unix_id, volume_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# -- introspection helpers ------------------------------------------------
def table_names(db: Database) -> list[str]:
    if db.engine == "mysql":
        rows = db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    else:
        rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
    return sorted(row[0] for row in rows)


def columns(db: Database, table: str) -> list[tuple[str, str, bool]]:
    if db.engine == "mysql":
        rows = db.query(
            "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (table,),
        )
        return [(name, kind, nullable == "YES") for name, kind, nullable in rows]
    rows = db.query('SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid', (table,))
    return [(name, kind, not notnull and not pk) for name, kind, notnull, pk in rows]


def index_names(db: Database, table: str) -> set[str]:
    if db.engine == "mysql":
        rows = db.query(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (table,),
        )
    else:
        rows = db.query("SELECT name FROM pragma_index_list(?)", (table,))
    return {row[0] for row in rows}


def count(db: Database, table: str) -> int:
    assert table in TABLES
    return db.query(f"SELECT COUNT(*) FROM {table}")[0][0]


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result(timeout=60) for future in futures]


def usage_row(group_id: int, volume_id: int, used: int = 1, pi_id: int | None = None) -> tuple:
    return (used, None, 2**62, datetime.date(2024, 2, 29), True, 0.1 + 0.2, pi_id, group_id, volume_id)


# -- schema -------------------------------------------------------------
def test_schema_has_exactly_the_spec_tables_and_columns(db: Database) -> None:
    assert table_names(db) == sorted(TABLES)
    assert set(TABLES) == set(EXPECTED_COLUMNS)
    types = ENGINE_TYPES[db.engine]
    for table, expected in EXPECTED_COLUMNS.items():
        assert columns(db, table) == [(name, types[kind], nullable) for name, kind, nullable in expected], table


def test_ensure_schema_is_idempotent_and_keeps_data(db: Database) -> None:
    pis = get_or_create_pis(db, ["Smith"])
    before = {table: columns(db, table) for table in TABLES}
    ensure_schema(db)
    ensure_schema(db)
    assert {table: columns(db, table) for table in TABLES} == before
    assert table_names(db) == sorted(TABLES)
    assert db.query("SELECT pi_id, pi_name FROM pi") == [(pis["Smith"], "Smith")]
    assert count(db, "filetype") == 4


def test_ensure_schema_outside_transactions_only(db: Database) -> None:
    with pytest.raises(DatabaseError, match="must not run inside a transaction"):
        with db.transaction():
            ensure_schema(db)


def test_named_indexes(db: Database) -> None:
    assert "lustre_usage_record_date" in index_names(db, "lustre_usage")
    assert "directory_volume_id" in index_names(db, "directory")
    assert "file_size_directory_id" in index_names(db, "file_size")


def test_engine_specific_table_options(db: Database) -> None:
    if db.engine == "mysql":
        rows = db.query(
            "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE()"
        )
        assert sorted(rows) == [(name, "InnoDB", "utf8mb4_nopad_bin") for name in sorted(TABLES)]
    else:
        assert db.query("PRAGMA foreign_keys") == [(1,)]


def test_filetype_seed_order(db: Database) -> None:
    assert db.query("SELECT filetype_id, filetype_name FROM filetype ORDER BY filetype_id") == [
        (1, "BAM"), (2, "CRAM"), (3, "VCF"), (4, "PEDBED")]
    assert get_or_create_filetypes(db, ["PEDBED", "FASTQ", "BAM"]) == {"BAM": 1, "PEDBED": 4, "FASTQ": 5}


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("INSERT INTO pi (pi_name) VALUES (?)", ("Smith",)),
        ("INSERT INTO volume (scratch_disk) VALUES (?)", ("scratch118",)),
        ("INSERT INTO filetype (filetype_name) VALUES (?)", ("BAM",)),
        ("INSERT INTO unix_group (group_name, is_humgen) VALUES (?, ?)", ("hgi", True)),
    ],
)
def test_unique_constraints(db: Database, sql: str, params: tuple) -> None:
    if "filetype" not in sql:
        db.execute(sql, params)
    with pytest.raises(DatabaseError, match="statement failed"):
        db.execute(sql, params)


def test_foreign_keys_are_enforced_and_file_sizes_follow_their_directory(db: Database) -> None:
    with pytest.raises(DatabaseError, match="statement failed"):
        db.execute(INSERT_USAGE, usage_row(group_id=999, volume_id=999))
    volume = get_or_create_volumes(db, ["scratch118"])["scratch118"]
    directory = db.insert(
        "INSERT INTO directory (project_name, directory_path, volume_id) VALUES (?, ?, ?)",
        ("projects/p1", "sub", volume),
    )
    db.executemany("INSERT INTO file_size (directory_id, filetype_id, size) VALUES (?, ?, ?)",
                   [(directory, 1, 1.5), (directory, 2, 0.25)])
    assert db.query("SELECT filetype_id, size FROM file_size ORDER BY filetype_id") == [(1, 1.5), (2, 0.25)]
    db.execute("DELETE FROM directory WHERE directory_id = ?", (directory,))
    assert count(db, "file_size") == 0


# -- values -------------------------------------------------------------
def test_values_round_trip_identically(db: Database) -> None:
    volume = get_or_create_volumes(db, ["scratch118"])["scratch118"]
    group = get_or_create_groups(db, [("hgi", True)])[("hgi", True)]
    pi = get_or_create_pis(db, ["Smith"])["Smith"]
    db.execute(INSERT_USAGE, (2**62, None, 0, datetime.date(2024, 2, 29), True, 0.1 + 0.2, pi, group, volume))
    db.execute(INSERT_USAGE, (5, 10, 3, datetime.date(1999, 12, 31), False, 12.5, None, group, volume))
    assert db.query(
        "SELECT used, quota, quota_used, record_date, archived, last_modified, pi_id"
        " FROM lustre_usage ORDER BY record_id"
    ) == [
        (2**62, None, 0, datetime.date(2024, 2, 29), 1, 0.30000000000000004, pi),
        (5, 10, 3, datetime.date(1999, 12, 31), 0, 12.5, None),
    ]
    assert db.query("SELECT COUNT(*), SUM(quota_used), SUM(used) - ?, AVG(quota_used) FROM lustre_usage",
                    (2**62,)) == [(2, 3, 5, 1.5)]
    assert [as_date(d) for (d,) in db.query("SELECT MAX(record_date) FROM lustre_usage")] == [
        datetime.date(2024, 2, 29)]
    assert db.query("SELECT record_date FROM lustre_usage WHERE record_date = ?",
                    (datetime.date(1999, 12, 31),)) == [(datetime.date(1999, 12, 31),)]

    loaded = datetime.datetime(2024, 3, 1, 6, 30, 15, 999999)
    db.execute("INSERT INTO inspection (volume_id, snapshot_date, loaded_at) VALUES (?, ?, ?)",
               (volume, datetime.date(2024, 3, 1), loaded))
    assert db.query("SELECT volume_id, snapshot_date, loaded_at FROM inspection") == [
        (volume, datetime.date(2024, 3, 1), datetime.datetime(2024, 3, 1, 6, 30, 15))]


def test_insert_returns_new_ids(db: Database) -> None:
    first = db.insert("INSERT INTO pi (pi_name) VALUES (?)", ("A",))
    second = db.insert("INSERT INTO pi (pi_name) VALUES (?)", ("B",))
    assert (first, second) == (1, 2)


# -- executemany --------------------------------------------------------
def test_executemany_20k_rows_in_one_transaction(db: Database) -> None:
    volume = get_or_create_volumes(db, ["scratch118"])["scratch118"]
    group = get_or_create_groups(db, [("hgi", False)])[("hgi", False)]
    with db.transaction():
        changed = db.executemany(INSERT_USAGE, (usage_row(group, volume, used=i) for i in range(20_000)))
    assert changed == 20_000
    assert db.query("SELECT COUNT(*), SUM(used), MIN(used), MAX(used), SUM(archived) FROM lustre_usage") == [
        (20_000, 199_990_000, 0, 19_999, 20_000)]


def test_executemany_outside_a_transaction_is_all_or_nothing(db: Database) -> None:
    volume = get_or_create_volumes(db, ["scratch118"])["scratch118"]
    group = get_or_create_groups(db, [("hgi", False)])[("hgi", False)]
    rows = [usage_row(group, volume) for _ in range(12_000)] + [usage_row(999, volume)]
    with pytest.raises(DatabaseError, match="statement failed"):
        db.executemany(INSERT_USAGE, rows)
    assert count(db, "lustre_usage") == 0
    assert db.executemany(INSERT_USAGE, rows[:12_000]) == 12_000
    assert count(db, "lustre_usage") == 12_000
    assert db.executemany(INSERT_USAGE, []) == 0


def test_executemany_large_rows_and_non_insert_statements(db: Database) -> None:
    names = [f"{i:05d}-" + "é" * 2000 for i in range(3000)]  # ~12 MB of parameters
    assert db.executemany("INSERT INTO pi (pi_name) VALUES (?)", [(name,) for name in names]) == 3000
    assert sorted(name for (name,) in db.query("SELECT pi_name FROM pi")) == names
    changed = db.executemany("UPDATE pi SET pi_name = ? WHERE pi_id = ?", [("first", 1), ("last", 3000)])
    assert changed == 2
    assert db.query("SELECT pi_id, pi_name FROM pi WHERE pi_id IN (1, 3000) ORDER BY pi_id") == [
        (1, "first"), (3000, "last")]


# -- transactions -------------------------------------------------------
def test_rollback_on_exception_leaves_nothing(db: Database, db_url: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with db.transaction():
            get_or_create_pis(db, ["Smith", "Jones"])
            db.execute("INSERT INTO volume (scratch_disk) VALUES (?)", ("scratch118",))
            raise RuntimeError("boom")
    assert (count(db, "pi"), count(db, "volume"), db.in_transaction) == (0, 0, False)
    with connect(db_url) as other:
        assert count(other, "pi") == 0


def test_commit_is_visible_to_other_connections(db: Database, db_url: str) -> None:
    with connect(db_url) as other:
        with db.transaction():
            db.execute("INSERT INTO pi (pi_name) VALUES (?)", ("Smith",))
        assert other.query("SELECT pi_name FROM pi") == [("Smith",)]
        db.execute("INSERT INTO pi (pi_name) VALUES (?)", ("Jones",))  # standalone: commits at once
        assert other.query("SELECT pi_name FROM pi ORDER BY pi_name") == [("Jones",), ("Smith",)]


def test_nested_transaction_is_an_error_and_rolls_back(db: Database) -> None:
    with pytest.raises(DatabaseError, match="nested transaction"):
        with db.transaction():
            db.execute("INSERT INTO pi (pi_name) VALUES (?)", ("Smith",))
            with db.transaction():
                pass
    assert count(db, "pi") == 0


def test_failed_statement_inside_transaction_rolls_back(db: Database) -> None:
    with pytest.raises(DatabaseError, match=r"statement failed: .*\[SQL: INSERT INTO pi"):
        with db.transaction():
            db.execute("INSERT INTO pi (pi_name) VALUES (?)", ("Smith",))
            db.execute("INSERT INTO pi (pi_name) VALUES (?)", ("Smith",))
    assert count(db, "pi") == 0
    db.execute("INSERT INTO pi (pi_name) VALUES (?)", ("Smith",))  # the connection is still usable
    assert count(db, "pi") == 1


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELEC 1", ()),
        ("SELECT pi_name FROM pi WHERE pi_id = ?", ()),
        ("SELECT pi_name FROM pi WHERE pi_id = ?", (1, 2)),
        ("SELECT nope FROM pi", ()),
    ],
)
def test_bad_statements_raise_database_error(db: Database, sql: str, params: tuple) -> None:
    with pytest.raises(DatabaseError) as caught:
        db.query(sql, params)
    assert str(caught.value).startswith(f"{db.url}: ")
    assert db.query("SELECT COUNT(*) FROM pi") == [(0,)]


def test_closed_database(db_url: str) -> None:
    database = connect(db_url)
    database.close()
    database.close()
    assert database.closed
    with pytest.raises(DatabaseError, match="the connection is closed"):
        database.query("SELECT 1")
    with pytest.raises(DatabaseError, match="the connection is closed"):
        with database.transaction():
            pass


# -- ids ----------------------------------------------------------------
def test_get_or_create_repeats_and_agrees_across_connections(db: Database, db_url: str) -> None:
    names = ["Smith", "Jones", "Smith", "Ng"]
    first = get_or_create_pis(db, names)
    assert set(first) == {"Smith", "Jones", "Ng"}
    assert first == dict((name, pi_id) for pi_id, name in db.query("SELECT pi_id, pi_name FROM pi"))
    assert get_or_create_pis(db, names) == first
    with connect(db_url) as other:
        assert get_or_create_pis(other, ["Ng", "Smith", "Jones"]) == first
        assert get_or_create_pis(other, ["Okafor"]) == {"Okafor": 4}
    assert count(db, "pi") == 4
    assert get_or_create_pis(db, []) == {}
    with pytest.raises(TypeError):
        get_or_create_pis(db, [123])  # type: ignore[list-item]


def test_groups_are_unique_per_name_and_humgen_flag(db: Database) -> None:
    ids = get_or_create_groups(db, [("hgi", True), ("hgi", False), ("hgi", True), ("HGI", True)])
    assert len(set(ids.values())) == 3
    assert set(ids) == {("hgi", True), ("hgi", False), ("HGI", True)}
    stored = {(name, bool(flag)): gid for gid, name, flag in db.query(
        "SELECT group_id, group_name, is_humgen FROM unix_group")}
    assert stored == ids
    assert get_or_create_groups(db, [("hgi", False), ("HGI", True)]) == {
        ("hgi", False): ids[("hgi", False)], ("HGI", True): ids[("HGI", True)]}


def test_hostile_names_round_trip_exactly(db: Database, db_url: str) -> None:
    assert len(set(HOSTILE_NAMES)) == len(HOSTILE_NAMES)
    makers = [
        (get_or_create_pis, "SELECT pi_id, pi_name FROM pi"),
        (get_or_create_volumes, "SELECT volume_id, scratch_disk FROM volume"),
        (get_or_create_filetypes, "SELECT filetype_id, filetype_name FROM filetype WHERE filetype_id > 4"),
    ]
    for make, select in makers:
        ids = make(db, HOSTILE_NAMES)
        assert sorted(ids) == sorted(HOSTILE_NAMES)
        assert len(set(ids.values())) == len(HOSTILE_NAMES)
        assert {name: row_id for row_id, name in db.query(select)} == ids
        with connect(db_url) as other:
            assert make(other, reversed(HOSTILE_NAMES)) == ids
    groups = [(name, flag) for name in HOSTILE_NAMES for flag in (True, False)]
    group_ids = get_or_create_groups(db, groups)
    assert len(set(group_ids.values())) == len(groups)
    assert get_or_create_groups(db, groups) == group_ids
    for name in ("delimiter x'", "a'b delimiter ;; c'", "abc "):
        assert db.query("SELECT pi_name FROM pi WHERE pi_name = ?", (name,)) == [(name,)]


def test_long_names_sharing_the_first_255_characters(db: Database) -> None:
    names = ["p" * 255 + "-one", "p" * 255 + "-two"]
    if db.engine == "sqlite":  # UNIQUE covers the whole value
        assert sorted(get_or_create_pis(db, names)) == names
        return
    # MySQL's unique key covers a 255-character prefix: refused, and nothing is stored.
    with pytest.raises(DatabaseError, match="1 pi name\\(s\\) could not be stored"):
        get_or_create_pis(db, names)
    assert count(db, "pi") == 0


def test_get_or_create_joins_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction():
            get_or_create_pis(db, ["Smith"])
            get_or_create_groups(db, [("hgi", True)])
            raise RuntimeError("abandon the load")
    assert (count(db, "pi"), count(db, "unix_group")) == (0, 0)


def test_many_names_in_bulk(db: Database) -> None:
    names = [f"group-{i:05d}" for i in range(12_000)]
    ids = get_or_create_volumes(db, names[:5000])
    ids_all = get_or_create_volumes(db, names)
    assert {name: ids_all[name] for name in names[:5000]} == ids
    assert len(set(ids_all.values())) == 12_000
    assert count(db, "volume") == 12_000


def test_concurrent_overlapping_creation_agrees(db: Database, db_url: str) -> None:
    first_names = [f"pi-{i:04d}" for i in range(0, 700)]
    second_names = [f"pi-{i:04d}" for i in range(350, 1050)]
    inserted = threading.Event()
    with connect(db_url) as one, connect(db_url) as two:

        def first() -> dict[str, int]:
            with one.transaction():
                ids = get_or_create_pis(one, first_names)
                inserted.set()
                time.sleep(0.5)  # keep the new rows uncommitted while `second` runs
            return ids

        def second() -> dict[str, int]:
            assert inserted.wait(30)
            with two.transaction():
                return get_or_create_pis(two, second_names)

        ids_one, ids_two = run_together(first, second)
    for name in set(first_names) & set(second_names):
        assert ids_one[name] == ids_two[name]
    stored = {name: pi_id for pi_id, name in db.query("SELECT pi_id, pi_name FROM pi")}
    assert stored == {**ids_one, **ids_two}
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
            with one.transaction():
                ids = get_or_create_groups(one, first_groups)
            first_done.set()
            return ids

        def second() -> dict:
            with two.transaction():
                assert two.query("SELECT COUNT(*) FROM unix_group") == [(0,)]
                has_read.set()
                first_done.wait(1.5)  # MySQL: `first` commits now; SQLite: it waits for our lock
                return get_or_create_groups(two, second_groups)

        ids_one, ids_two = run_together(first, second)
    for key in set(first_groups) & set(second_groups):
        assert ids_one[key] == ids_two[key]
    stored = {(name, bool(flag)): gid for gid, name, flag in db.query(
        "SELECT group_id, group_name, is_humgen FROM unix_group")}
    assert stored == {**ids_one, **ids_two}
    assert count(db, "unix_group") == 900


# -- both engines side by side --------------------------------------------
@pytest.mark.mysql
def test_engines_give_identical_results(tmp_path, mysql_database_url: str) -> None:
    def load(url: str) -> dict[str, list]:
        with connect(url) as database:
            ensure_schema(database)
            volume = get_or_create_volumes(database, ["scratch118"])["scratch118"]
            groups = get_or_create_groups(database, [(name, True) for name in HOSTILE_NAMES])
            pis = get_or_create_pis(database, HOSTILE_NAMES)
            rows = [(i * 1000, None if i % 3 else i, i, datetime.date(2024, 1, 1 + i % 28), i % 2 == 0,
                     round(i / 7, 1), pis[name], groups[(name, True)], volume)
                    for i, name in enumerate(HOSTILE_NAMES)]
            database.executemany(INSERT_USAGE, rows)
            return {
                "usage": database.query(
                    "SELECT u.record_id, u.used, u.quota, u.quota_used, u.record_date, u.archived,"
                    " u.last_modified, p.pi_name, g.group_name, g.is_humgen, v.scratch_disk"
                    " FROM lustre_usage u JOIN pi p ON p.pi_id = u.pi_id"
                    " JOIN unix_group g ON g.group_id = u.unix_id JOIN volume v ON v.volume_id = u.volume_id"
                    " ORDER BY u.record_id"),
                "totals": database.query(
                    "SELECT COUNT(*), SUM(used), SUM(quota), SUM(archived), MAX(last_modified)"
                    " FROM lustre_usage WHERE record_date >= ?", (datetime.date(2024, 1, 5),)),
                "filetypes": database.query("SELECT filetype_id, filetype_name FROM filetype ORDER BY filetype_id"),
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
            connect(f"mysql://lurge@127.0.0.1:{port}/lustre_usage", timeout=1.5)
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 4.0
    message = str(caught.value)
    assert message.startswith(f"cannot connect to mysql://lurge@127.0.0.1:{port}/lustre_usage: ")
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
