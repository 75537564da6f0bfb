"""The tables at the newest schema revision, as SQLAlchemy metadata (see docs/database.md).

Loads and queries are built from these :class:`~sqlalchemy.Table` objects; the
tables themselves are created and upgraded by the migrations in
``db/migrations/`` (:mod:`db.migrate`), never from this metadata.

Column types are those the migrations create: BIGINT/DOUBLE on MySQL and
INTEGER/REAL on SQLite.  On MySQL/MariaDB the unique keys over names are kept
over a stored SHA-256 of the whole name (``<name column>_sha256``, generated
by the server and absent from this metadata), so that names sharing a long
prefix stay distinct; SQLite's unique constraints cover whole values anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

SEED_FILETYPES: tuple[str, ...] = ("BAM", "CRAM", "VCF", "PEDBED")
"""A new database gives these ids 1-4, in this order."""

MAX_TEXT_BYTES = 65535
"""The most UTF-8 bytes a TEXT column holds on MySQL; longer names and paths are not stored."""

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Float = sa.Double().with_variant(sqlite.REAL(), "sqlite")


class WholeSeconds(sa.TypeDecorator[dt.datetime]):
    """DATETIME to the second: microseconds are dropped on the way in (never rounded up)."""

    impl = sa.DateTime().with_variant(
        sqlite.DATETIME(storage_format="%(year)04d-%(month)02d-%(day)02d "
                                       "%(hour)02d:%(minute)02d:%(second)02d"),
        "sqlite",
    )
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return value.replace(microsecond=0) if isinstance(value, dt.datetime) else value


metadata = sa.MetaData()


def _key(name: str) -> sa.Column[int]:
    return sa.Column(name, BigInt, primary_key=True, autoincrement=True)


def _ref(name: str, target: str, *, nullable: bool = True, cascade: bool = False) -> sa.Column[int]:
    return sa.Column(name, BigInt, sa.ForeignKey(target, ondelete="CASCADE" if cascade else None),
                     nullable=nullable)


_OPTIONS = {"sqlite_autoincrement": True, "mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

pi = sa.Table(
    "pi", metadata,
    _key("pi_id"),
    sa.Column("pi_name", sa.Text, nullable=False),
    sa.UniqueConstraint("pi_name", name="pi_unique"),
    **_OPTIONS,
)

unix_group = sa.Table(
    "unix_group", metadata,
    _key("group_id"),
    sa.Column("group_name", sa.Text, nullable=False),
    sa.Column("is_humgen", sa.Boolean, nullable=False),
    sa.UniqueConstraint("group_name", "is_humgen", name="unix_group_unique"),
    **_OPTIONS,
)

volume = sa.Table(
    "volume", metadata,
    _key("volume_id"),
    sa.Column("scratch_disk", sa.Text, nullable=False),
    sa.UniqueConstraint("scratch_disk", name="volume_unique"),
    **_OPTIONS,
)

lustre_usage = sa.Table(
    "lustre_usage", metadata,
    _key("record_id"),
    sa.Column("used", BigInt),
    sa.Column("quota", BigInt),
    sa.Column("quota_used", BigInt),
    sa.Column("record_date", sa.Date, nullable=False),
    sa.Column("archived", sa.Boolean),
    sa.Column("last_modified", Float),
    _ref("pi_id", "pi.pi_id"),
    _ref("unix_id", "unix_group.group_id", nullable=False),
    _ref("volume_id", "volume.volume_id", nullable=False),
    sa.Column("inodes", BigInt),
    sa.Column("inode_quota", BigInt),
    sa.Column("inode_quota_used", BigInt),
    sa.Column("days_until_full_bytes", Float),
    sa.Column("days_until_full_inodes", Float),
    sa.Column("status", sa.Text),
    sa.Index("lustre_usage_record_date", "record_date"),
    sa.Index("lustre_usage_unique", "record_date", "volume_id", "unix_id", unique=True),
    **_OPTIONS,
)

unix_user = sa.Table(
    "unix_user", metadata,
    _key("user_id"),
    sa.Column("user_name", sa.Text, nullable=False),
    sa.UniqueConstraint("user_name", name="unix_user_unique"),
    **_OPTIONS,
)

user_usage = sa.Table(
    "user_usage", metadata,
    _key("record_id"),
    sa.Column("record_date", sa.Date, nullable=False),
    _ref("volume_id", "volume.volume_id", nullable=False),
    _ref("user_id", "unix_user.user_id", nullable=False),
    _ref("unix_id", "unix_group.group_id", nullable=False),
    sa.Column("used", BigInt),
    sa.Column("inodes", BigInt),
    sa.Column("last_modified", Float),
    sa.Index("user_usage_unique", "record_date", "volume_id", "user_id", "unix_id", unique=True),
    **_OPTIONS,
)

directory = sa.Table(
    "directory", metadata,
    _key("directory_id"),
    sa.Column("project_name", sa.Text),
    sa.Column("directory_path", sa.Text),
    sa.Column("num_files", BigInt),
    sa.Column("size", Float),
    sa.Column("last_modified", Float),
    _ref("pi_id", "pi.pi_id"),
    _ref("group_id", "unix_group.group_id"),
    _ref("volume_id", "volume.volume_id", nullable=False),
    sa.Index("directory_volume_id", "volume_id"),
    **_OPTIONS,
)

filetype = sa.Table(
    "filetype", metadata,
    _key("filetype_id"),
    sa.Column("filetype_name", sa.Text, nullable=False),
    sa.UniqueConstraint("filetype_name", name="filetype_unique"),
    **_OPTIONS,
)

file_size = sa.Table(
    "file_size", metadata,
    _key("file_size_id"),
    _ref("directory_id", "directory.directory_id", nullable=False, cascade=True),
    _ref("filetype_id", "filetype.filetype_id", nullable=False),
    sa.Column("size", Float),
    sa.Index("file_size_directory_id", "directory_id"),
    **_OPTIONS,
)

inspection = sa.Table(
    "inspection", metadata,
    sa.Column("volume_id", BigInt, sa.ForeignKey("volume.volume_id"), primary_key=True,
              autoincrement=False),
    sa.Column("snapshot_date", sa.Date, nullable=False),
    sa.Column("loaded_at", WholeSeconds, nullable=False),
    mysql_engine="InnoDB", mysql_charset="utf8mb4",
)

TABLES: tuple[str, ...] = tuple(metadata.tables)
"""Every table's name, each after the tables it refers to."""
