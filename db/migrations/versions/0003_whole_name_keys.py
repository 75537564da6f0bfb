"""Unique keys over whole names on MySQL/MariaDB.

MySQL can only index a prefix of a TEXT column, so until now two names that
share their first 255 characters could not both be stored.  Each named table
gains ``<name column>_sha256``, a stored column the server computes from the
whole name; the unique key moves onto it (with ``is_humgen`` for groups), and
a plain index over the first 255 characters keeps look-ups by name fast.  Ids
and rows are unchanged.  SQLite's unique constraints already cover whole
values: nothing to do there.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAMED_TABLES = (  # (table, name column, further key columns)
    ("pi", "pi_name", ()),
    ("unix_group", "group_name", ("is_humgen",)),
    ("volume", "scratch_disk", ()),
    ("filetype", "filetype_name", ()),
    ("unix_user", "user_name", ()),
)
INDEXED_PREFIX_CHARS = 255


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "mysql":
        return
    inspector = sa.inspect(bind)
    for table, column, rest in NAMED_TABLES:
        digest = f"{column}_sha256"
        if digest in {c["name"] for c in inspector.get_columns(table)}:
            continue  # done by an interrupted earlier upgrade
        key = ", ".join((digest, *rest))
        # One statement per table: MySQL 8 and MariaDB >= 10.6 apply it whole or not at all.
        op.execute(
            f"ALTER TABLE {table}"
            f" ADD COLUMN {digest} BINARY(32) AS (UNHEX(SHA2({column}, 256))) STORED,"
            f" DROP INDEX {table}_unique,"
            f" ADD UNIQUE KEY {table}_unique ({key}),"
            f" ADD KEY {table}_{column} ({column}({INDEXED_PREFIX_CHARS}))"
        )


def downgrade() -> None:
    raise NotImplementedError("lurge does not downgrade: restore a backup instead (docs/database.md)")
