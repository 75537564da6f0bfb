"""Loading one date's usage report into ``lustre_usage`` (SPEC §2.2)."""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from db.connection import Database
from db.ids import get_or_create_groups, get_or_create_pis, get_or_create_volumes
from utils.report.rows import UsageRow

_INSERT = (
    "INSERT INTO lustre_usage (used, quota, quota_used, record_date, archived, last_modified,"
    " pi_id, unix_id, volume_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def usage_loaded(db: Database, date: dt.date) -> bool:
    """Whether any ``lustre_usage`` rows exist for ``date``."""
    return bool(db.query("SELECT 1 FROM lustre_usage WHERE record_date = ? LIMIT 1", (date,)))


def load_usage(db: Database, date: dt.date, rows: Sequence[UsageRow], *,
               replace: bool = False) -> int:
    """Insert ``rows`` for ``date`` in one transaction; returns how many were inserted.

    Without ``replace``, a date that already has rows is left alone (0 is
    returned); with it, that date's rows are deleted and reloaded in the same
    transaction, so readers see either the old rows or the new ones.
    """
    with db.transaction():
        if replace:
            db.execute("DELETE FROM lustre_usage WHERE record_date = ?", (date,))
        elif usage_loaded(db, date):
            return 0
        pis = get_or_create_pis(db, {row.pi for row in rows if row.pi is not None})
        groups = get_or_create_groups(db, {(row.group_name, row.is_humgen) for row in rows})
        volumes = get_or_create_volumes(db, {row.volume for row in rows})
        db.executemany(_INSERT, [
            (row.used, row.quota, row.quota_used, date, row.archived, row.last_modified,
             None if row.pi is None else pis[row.pi], groups[(row.group_name, row.is_humgen)],
             volumes[row.volume])
            for row in rows
        ])
    return len(rows)
