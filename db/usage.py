"""Loading one date's usage report: group rows (``lustre_usage``) and user rows (``user_usage``).

One date loads in one transaction, all or nothing, and at most once: inside the
transaction the date is checked first (under a named lock on MySQL, SQLite's
write lock otherwise), and the unique keys (record_date, volume_id, unix_id)
and (record_date, volume_id, user_id, unix_id) stop a second copy whatever
happens.  A run that finds the date loaded — before it, or by a run racing it —
loads nothing and says so; that is not an error.  With ``replace`` the date's
rows of both tables are deleted and loaded again in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence, TypeVar

import sqlalchemy as sa

from db import schema
from db.connection import Database, insert_rows, named_lock
from db.ids import (get_or_create_groups, get_or_create_pis, get_or_create_users,
                    get_or_create_volumes, shown)
from utils.common.errors import DatabaseError
from utils.report.rows import UsageRow, UserUsageRow

log = logging.getLogger(__name__)

LOAD_LOCK_TIMEOUT = 900  # seconds to wait while another run loads into the same database (MySQL)
LOADED = "loaded"
REPLACED = "replaced"
SKIPPED = "skipped"  # the date was already loaded

R = TypeVar("R")


@dataclass(frozen=True)
class UsageLoad:
    """What :func:`load_usage` did."""

    action: str  # LOADED, REPLACED or SKIPPED
    group_rows: int = 0
    user_rows: int = 0


class _LoadedMeanwhile(Exception):
    """A unique key refused our rows: another run loaded the date first."""


def usage_loaded(database: Database, date: dt.date) -> bool:
    """Whether any ``lustre_usage`` rows exist for ``date``."""
    with database.read() as connection:
        return _loaded(connection, date)


def load_usage(database: Database, date: dt.date, rows: Sequence[UsageRow],
               user_rows: Sequence[UserUsageRow] = (), *, replace: bool = False) -> UsageLoad:
    """Load ``date``'s group and user rows in one transaction (see the module docstring).

    A row whose names cannot be stored is skipped with a warning naming it,
    and so is a second row for one (volume, group) or (volume, user, group).
    """
    def work(connection: sa.Connection) -> UsageLoad:
        with named_lock(database, connection, "load", LOAD_LOCK_TIMEOUT):
            exists = _loaded(connection, date)
            if exists and not replace:
                return UsageLoad(SKIPPED)
            if exists:
                for table in (schema.user_usage, schema.lustre_usage):
                    connection.execute(sa.delete(table).where(table.c.record_date == date))
            try:
                groups = _insert_groups(connection, date, rows)
                users = _insert_users(connection, date, user_rows)
            except sa.exc.IntegrityError as err:
                if not replace and _duplicate_key(err):
                    raise _LoadedMeanwhile() from None
                raise
            return UsageLoad(REPLACED if exists else LOADED, groups, users)

    what = f"loading usage for {date}"
    try:
        return database.run_transaction(work, what)
    except _LoadedMeanwhile:
        if usage_loaded(database, date):
            log.info("database: another run loaded %s first; nothing loaded", date)
            return UsageLoad(SKIPPED)
        raise DatabaseError(f"{database.url}: {what} failed: a unique key refused the rows, "
                            "yet the date holds none") from None


def _loaded(connection: sa.Connection, date: dt.date) -> bool:
    table = schema.lustre_usage
    return connection.execute(sa.select(table.c.record_id).where(table.c.record_date == date).limit(1)) \
        .first() is not None


def _insert_groups(connection: sa.Connection, date: dt.date, rows: Sequence[UsageRow]) -> int:
    volumes = get_or_create_volumes(connection, {row.volume for row in rows})
    pis = get_or_create_pis(connection, {row.pi for row in rows if row.pi is not None})
    groups = get_or_create_groups(connection, {(row.group_name, row.is_humgen) for row in rows})
    stored = [row for row in rows
              if row.volume in volumes and (row.pi is None or row.pi in pis)
              and (row.group_name, row.is_humgen) in groups]
    _warn_skipped(len(rows) - len(stored), "group", date)
    stored = _first_per_key(stored, lambda r: (r.volume, r.group_name, r.is_humgen),
                            lambda r: f"group {shown(r.group_name)} on {r.volume}")
    return insert_rows(connection, schema.lustre_usage, [
        {
            "used": row.used, "quota": row.quota, "quota_used": row.quota_used, "record_date": date,
            "archived": row.archived, "last_modified": row.last_modified,
            "pi_id": None if row.pi is None else pis[row.pi],
            "unix_id": groups[(row.group_name, row.is_humgen)], "volume_id": volumes[row.volume],
            "inodes": row.inodes, "inode_quota": row.inode_quota, "inode_quota_used": row.inode_quota_used,
            "days_until_full_bytes": row.days_until_full_bytes,
            "days_until_full_inodes": row.days_until_full_inodes, "status": row.status,
        }
        for row in stored
    ])


def _insert_users(connection: sa.Connection, date: dt.date, rows: Sequence[UserUsageRow]) -> int:
    if not rows:
        return 0
    volumes = get_or_create_volumes(connection, {row.volume for row in rows})
    users = get_or_create_users(connection, {row.user_name for row in rows})
    groups = get_or_create_groups(connection, {(row.group_name, row.is_humgen) for row in rows})
    stored = [row for row in rows
              if row.volume in volumes and row.user_name in users
              and (row.group_name, row.is_humgen) in groups]
    _warn_skipped(len(rows) - len(stored), "user", date)
    stored = _first_per_key(stored, lambda r: (r.volume, r.user_name, r.group_name, r.is_humgen),
                            lambda r: f"user {shown(r.user_name)} in group {shown(r.group_name)} "
                                      f"on {r.volume}")
    return insert_rows(connection, schema.user_usage, [
        {
            "record_date": date, "volume_id": volumes[row.volume], "user_id": users[row.user_name],
            "unix_id": groups[(row.group_name, row.is_humgen)], "used": row.used,
            "inodes": row.inodes, "last_modified": row.last_modified,
        }
        for row in stored
    ])


def _warn_skipped(count: int, kind: str, date: dt.date) -> None:
    if count:
        log.warning("database: %d %s row(s) of %s not loaded: a name could not be stored "
                    "(see the warnings above)", count, kind, date)


def _first_per_key(rows: Sequence[R], key: Callable[[R], Hashable], describe: Callable[[R], str]) -> list[R]:
    """``rows`` without the second and later rows of one key (each named in a warning)."""
    seen: set[Hashable] = set()
    kept = []
    for row in rows:
        if key(row) in seen:
            log.warning("database: a second row for %s (distinct ids sharing one name) is not "
                        "loaded; the first is", describe(row))
            continue
        seen.add(key(row))
        kept.append(row)
    return kept


def _duplicate_key(err: sa.exc.IntegrityError) -> bool:
    """Whether ``err`` is a unique key refusing a row (not, say, a missing foreign key)."""
    code = getattr(err.orig, "errno", None)
    return code == 1062 or "UNIQUE constraint failed" in str(err.orig)
