"""The schema's revisions (Alembic scripts in ``versions/``) and what they share.

Revisions are history: once released, a revision is never edited; a change to
the schema is a new revision.  They run through :mod:`db.migrate`, never by
hand, and they never delete rows.
"""

from __future__ import annotations

import sqlalchemy as sa

MYSQL_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin")
"""Binary utf8mb4 collations, best first: NO PAD ones compare trailing spaces exactly."""


class UpgradeRefused(Exception):
    """A revision found data it cannot upgrade without deleting some; nothing was changed."""


def mysql_collation(bind: sa.Connection) -> str:
    """The best binary utf8mb4 collation the server offers."""
    available = set(bind.execute(
        sa.text("SELECT COLLATION_NAME FROM information_schema.COLLATIONS"
                " WHERE COLLATION_NAME IN :names").bindparams(sa.bindparam("names", expanding=True)),
        {"names": list(MYSQL_COLLATIONS)},
    ).scalars())
    for name in MYSQL_COLLATIONS:
        if name in available:
            return name
    raise UpgradeRefused(f"the server offers none of the collations {', '.join(MYSQL_COLLATIONS)}")


def mysql_table_collation(bind: sa.Connection, table: str) -> str:
    """The collation an existing table was created with (new tables follow it)."""
    return bind.execute(
        sa.text("SELECT TABLE_COLLATION FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"),
        {"table": table},
    ).scalar_one()
