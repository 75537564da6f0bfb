"""Inodes, inode quotas, warnings and per-user usage; one row per (date, volume, group).

* ``lustre_usage`` gains ``inodes``, ``inode_quota``, ``inode_quota_used``,
  ``days_until_full_bytes``, ``days_until_full_inodes`` and ``status`` (NULL on
  the rows loaded before), and the unique key ``lustre_usage_unique`` over
  (record_date, volume_id, unix_id), so that two runs can never both load a date.
* New tables ``unix_user`` and ``user_usage``.

A database that already holds two rows for one (date, volume, group) cannot
take the unique key: the upgrade is refused before anything changes, naming
the duplicates (docs/database.md says how to remove them).  Each step checks
whether it is done already, so an upgrade interrupted on MySQL (whose DDL
commits statement by statement) resumes where it stopped.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

from db.migrations import UpgradeRefused, mysql_table_collation

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOUBLE = sa.Double().with_variant(sqlite.REAL(), "sqlite")
NEW_USAGE_COLUMNS = (
    ("inodes", BIGINT),
    ("inode_quota", BIGINT),
    ("inode_quota_used", BIGINT),
    ("days_until_full_bytes", DOUBLE),
    ("days_until_full_inodes", DOUBLE),
    ("status", sa.Text()),
)
USAGE_KEY = ("record_date", "volume_id", "unix_id")
SHOWN_DUPLICATES = 5


def upgrade() -> None:
    bind = op.get_bind()
    refuse_duplicate_usage_rows(bind)
    inspector = sa.inspect(bind)
    present = {column["name"] for column in inspector.get_columns("lustre_usage")}
    for name, kind in NEW_USAGE_COLUMNS:
        if name not in present:
            op.add_column("lustre_usage", sa.Column(name, kind))
    if "lustre_usage_unique" not in {index["name"] for index in inspector.get_indexes("lustre_usage")}:
        op.create_index("lustre_usage_unique", "lustre_usage", list(USAGE_KEY), unique=True)

    mysql = bind.dialect.name == "mysql"
    options = ({"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4",
                "mysql_collate": mysql_table_collation(bind, "lustre_usage")} if mysql
               else {"sqlite_autoincrement": True})
    if not inspector.has_table("unix_user"):
        unique = (sa.Index("unix_user_unique", "user_name", unique=True, mysql_length={"user_name": 255})
                  if mysql else sa.UniqueConstraint("user_name"))
        op.create_table(
            "unix_user",
            sa.Column("user_id", BIGINT, primary_key=True, autoincrement=True),
            sa.Column("user_name", sa.Text(), nullable=False),
            unique,
            **options,
        )
    if not inspector.has_table("user_usage"):
        op.create_table(
            "user_usage",
            sa.Column("record_id", BIGINT, primary_key=True, autoincrement=True),
            sa.Column("record_date", sa.Date(), nullable=False),
            sa.Column("volume_id", BIGINT, sa.ForeignKey("volume.volume_id"), nullable=False),
            sa.Column("user_id", BIGINT, sa.ForeignKey("unix_user.user_id"), nullable=False),
            sa.Column("unix_id", BIGINT, sa.ForeignKey("unix_group.group_id"), nullable=False),
            sa.Column("used", BIGINT),
            sa.Column("inodes", BIGINT),
            sa.Column("last_modified", DOUBLE),
            sa.Index("user_usage_unique", "record_date", "volume_id", "user_id", "unix_id", unique=True),
            **options,
        )


def refuse_duplicate_usage_rows(bind: sa.Connection) -> None:
    """Refuse (changing nothing) when some (date, volume, group) has more than one row."""
    duplicates = bind.execute(sa.text(
        "SELECT u.record_date, v.scratch_disk, g.group_name, g.is_humgen, COUNT(*) AS n"
        " FROM lustre_usage u JOIN volume v ON v.volume_id = u.volume_id"
        " JOIN unix_group g ON g.group_id = u.unix_id"
        " GROUP BY u.record_date, u.volume_id, u.unix_id, v.scratch_disk, g.group_name, g.is_humgen"
        " HAVING COUNT(*) > 1 ORDER BY u.record_date, v.scratch_disk, g.group_name"
    )).all()
    if not duplicates:
        return
    shown = "; ".join(
        f"{day} {volume} {name!r}{' (humgen)' if humgen else ''} x{count}"
        for day, volume, name, humgen, count in duplicates[:SHOWN_DUPLICATES])
    more = f" and {len(duplicates) - SHOWN_DUPLICATES} more" if len(duplicates) > SHOWN_DUPLICATES else ""
    raise UpgradeRefused(
        f"lustre_usage holds more than one row for {len(duplicates)} (date, volume, group): "
        f"{shown}{more}. The unique key (record_date, volume_id, unix_id) cannot be added until "
        "the extra rows are removed (see 'Duplicate usage rows' in docs/database.md); "
        "the schema was not changed")


def downgrade() -> None:
    raise NotImplementedError("lurge does not downgrade: restore a backup instead (docs/database.md)")
