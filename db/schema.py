"""The SPEC §5 tables, created when missing (never altered or dropped).

Both engines get the same tables, columns (in the same order), keys, unique
constraints and indexes.  On MySQL/MariaDB names are TEXT in a binary
(case-sensitive) utf8mb4 collation, preferring a NO PAD one so that ``"a"`` and
``"a "`` are different names; their UNIQUE keys cover the first 255 characters,
so two names that share those characters cannot both be stored (the id helpers
report that as an error).  SQLite's UNIQUE constraints cover whole values.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.connection import Database
from utils.common.errors import DatabaseError

TABLES: tuple[str, ...] = (
    "pi",
    "unix_group",
    "volume",
    "lustre_usage",
    "directory",
    "filetype",
    "file_size",
    "inspection",
)
"""Table names, each after the tables it refers to."""

SEED_FILETYPES: tuple[str, ...] = ("BAM", "CRAM", "VCF", "PEDBED")
"""Inserted in this order when missing, so a new database gives them ids 1-4."""

UNIQUE_PREFIX_CHARS = 255
MYSQL_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin")
"""Binary utf8mb4 collations, best first: NO PAD ones compare trailing spaces exactly."""

# Column kinds and their declarations per engine.
_TYPES: dict[str, dict[str, str]] = {
    "id": {"mysql": "BIGINT NOT NULL AUTO_INCREMENT", "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "ref": {"mysql": "BIGINT", "sqlite": "INTEGER"},
    "text": {"mysql": "TEXT", "sqlite": "TEXT"},
    "bool": {"mysql": "BOOL", "sqlite": "BOOLEAN"},
    "bigint": {"mysql": "BIGINT", "sqlite": "INTEGER"},
    "double": {"mysql": "DOUBLE", "sqlite": "REAL"},
    "date": {"mysql": "DATE", "sqlite": "DATE"},
    "datetime": {"mysql": "DATETIME", "sqlite": "DATETIME"},
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    references: str | None = None  # "table(column)"
    on_delete_cascade: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str
    unique: tuple[str, ...] = ()  # columns of the one UNIQUE constraint, if any
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (index name, columns)

    @property
    def text_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.kind == "text")


def _id(name: str) -> Column:
    return Column(name, "id", required=True)


def _ref(name: str, target: str, *, required: bool = False, cascade: bool = False) -> Column:
    return Column(name, "ref", required=required, references=target, on_delete_cascade=cascade)


SCHEMA: tuple[Table, ...] = (
    Table("pi", (_id("pi_id"), Column("pi_name", "text", required=True)), "pi_id", unique=("pi_name",)),
    Table(
        "unix_group",
        (_id("group_id"), Column("group_name", "text", required=True), Column("is_humgen", "bool", required=True)),
        "group_id",
        unique=("group_name", "is_humgen"),
    ),
    Table("volume", (_id("volume_id"), Column("scratch_disk", "text", required=True)), "volume_id",
          unique=("scratch_disk",)),
    Table(
        "lustre_usage",
        (
            _id("record_id"),
            Column("used", "bigint"),
            Column("quota", "bigint"),
            Column("quota_used", "bigint"),
            Column("record_date", "date", required=True),
            Column("archived", "bool"),
            Column("last_modified", "double"),
            _ref("pi_id", "pi(pi_id)"),
            _ref("unix_id", "unix_group(group_id)", required=True),
            _ref("volume_id", "volume(volume_id)", required=True),
        ),
        "record_id",
        indexes=(("lustre_usage_record_date", ("record_date",)),),
    ),
    Table(
        "directory",
        (
            _id("directory_id"),
            Column("project_name", "text"),
            Column("directory_path", "text"),
            Column("num_files", "bigint"),
            Column("size", "double"),
            Column("last_modified", "double"),
            _ref("pi_id", "pi(pi_id)"),
            _ref("group_id", "unix_group(group_id)"),
            _ref("volume_id", "volume(volume_id)", required=True),
        ),
        "directory_id",
        indexes=(("directory_volume_id", ("volume_id",)),),
    ),
    Table("filetype", (_id("filetype_id"), Column("filetype_name", "text", required=True)), "filetype_id",
          unique=("filetype_name",)),
    Table(
        "file_size",
        (
            _id("file_size_id"),
            _ref("directory_id", "directory(directory_id)", required=True, cascade=True),
            _ref("filetype_id", "filetype(filetype_id)", required=True),
            Column("size", "double"),
        ),
        "file_size_id",
        indexes=(("file_size_directory_id", ("directory_id",)),),
    ),
    Table(
        "inspection",
        (
            Column("volume_id", "ref", required=True, references="volume(volume_id)"),
            Column("snapshot_date", "date", required=True),
            Column("loaded_at", "datetime", required=True),
        ),
        "volume_id",
    ),
)
assert tuple(t.name for t in SCHEMA) == TABLES


def ensure_schema(db: Database) -> None:
    """Create the missing SPEC §5 tables and seed ``filetype``; safe to repeat.

    Must run outside a transaction: MySQL commits implicitly around DDL.
    """
    if db.in_transaction:
        raise DatabaseError(f"{db.url}: ensure_schema() must not run inside a transaction")
    if db.engine == "mysql":
        collation = _mysql_collation(db)
        for table in SCHEMA:
            db.execute(_mysql_create_table(table, collation))
    else:
        for table in SCHEMA:
            db.execute(_sqlite_create_table(table))
            for index_name, columns in table.indexes:
                db.execute(f"CREATE INDEX IF NOT EXISTS {index_name} ON {table.name} ({', '.join(columns)})")
    _seed_filetypes(db)


def _mysql_collation(db: Database) -> str:
    placeholders = ", ".join("?" for _ in MYSQL_COLLATIONS)
    available = {
        row[0] for row in db.query(
            f"SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ({placeholders})",
            MYSQL_COLLATIONS,
        )
    }
    for name in MYSQL_COLLATIONS:
        if name in available:
            return name
    raise DatabaseError(f"{db.url}: the server offers none of the collations {', '.join(MYSQL_COLLATIONS)}")


def _column_sql(column: Column, engine: str) -> str:
    declaration = f"{column.name} {_TYPES[column.kind][engine]}"
    if column.required and column.kind != "id":
        declaration += " NOT NULL"
    return declaration


def _foreign_keys(table: Table) -> list[str]:
    clauses = []
    for column in table.columns:
        if column.references:
            clause = f"FOREIGN KEY ({column.name}) REFERENCES {column.references}"
            if column.on_delete_cascade:
                clause += " ON DELETE CASCADE"
            clauses.append(clause)
    return clauses


def _mysql_create_table(table: Table, collation: str) -> str:
    parts = [_column_sql(column, "mysql") for column in table.columns]
    parts.append(f"PRIMARY KEY ({table.primary_key})")
    if table.unique:
        keyed = [
            f"{name}({UNIQUE_PREFIX_CHARS})" if name in table.text_columns else name
            for name in table.unique
        ]
        parts.append(f"UNIQUE KEY {table.name}_unique ({', '.join(keyed)})")
    for index_name, columns in table.indexes:
        parts.append(f"KEY {index_name} ({', '.join(columns)})")
    parts.extend(_foreign_keys(table))
    body = ",\n  ".join(parts)
    return (
        f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {body}\n)"
        f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"
    )


def _sqlite_create_table(table: Table) -> str:
    parts = [_column_sql(column, "sqlite") for column in table.columns]
    if not any(column.kind == "id" for column in table.columns):
        parts.append(f"PRIMARY KEY ({table.primary_key})")
    if table.unique:
        parts.append(f"UNIQUE ({', '.join(table.unique)})")
    parts.extend(_foreign_keys(table))
    body = ",\n  ".join(parts)
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {body}\n)"


def _seed_filetypes(db: Database) -> None:
    insert = "INSERT IGNORE INTO" if db.engine == "mysql" else "INSERT OR IGNORE INTO"
    with db.transaction():
        present = {row[0] for row in db.query("SELECT filetype_name FROM filetype")}
        missing = [(name,) for name in SEED_FILETYPES if name not in present]
        if missing:
            db.executemany(f"{insert} filetype (filetype_name) VALUES (?)", missing)
