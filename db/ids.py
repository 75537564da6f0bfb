"""Bulk get-or-create of the ids of PIs, unix groups, users, volumes and file types.

Names are given as the suite holds them (``str``; bytes that are not UTF-8 as
surrogate escapes) and stored with the escape of :mod:`utils.common.names`
(docs/database.md), so any name can be stored and distinct names stay
distinct.  Results are keyed by the names as given.

Each call runs on the caller's connection, inside its transaction: it looks
the names up, inserts the missing ones (``INSERT IGNORE``, in batches) and
reads their ids back.  Concurrent callers end with the same ids and no
duplicate rows: the unique keys arbitrate, a losing insert is ignored, and the
read-back sees the winner's committed row.  Names are compared exactly, in
Python, whatever the server's collation considers equal.

A name that cannot be stored (longer than the column holds) is left out of
the result, with a warning naming it; the caller skips the rows that need it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Hashable, Iterable, Mapping, TypeVar

import sqlalchemy as sa

from db import schema
from db.connection import insert_rows
from utils.common.names import escape_name

log = logging.getLogger(__name__)

LOOKUP_BATCH = 500  # names per SELECT ... IN (...)
SHOWN_NAME_CHARS = 80

K = TypeVar("K", bound=Hashable)
GroupKey = tuple[str, bool]
StoredKey = tuple  # the key columns' stored values: (escaped name,) or (escaped name, is_humgen)


@dataclass(frozen=True)
class _Named:
    """A table whose rows are identified by a name (and, for groups, a flag)."""

    table: sa.Table
    what: str  # for messages

    @property
    def id_column(self) -> sa.Column:
        return self.table.primary_key.columns.values()[0]

    @property
    def key_columns(self) -> list[sa.Column]:
        return [column for column in self.table.columns if not column.primary_key]


_PI = _Named(schema.pi, "PI")
_GROUP = _Named(schema.unix_group, "group")
_USER = _Named(schema.unix_user, "user")
_VOLUME = _Named(schema.volume, "volume")
_FILETYPE = _Named(schema.filetype, "file type")


def get_or_create_pis(connection: sa.Connection, names: Iterable[str]) -> dict[str, int]:
    """``pi_id`` of every PI surname, creating the missing rows."""
    return _get_or_create(connection, _PI, {name: (_escaped(name),) for name in names})


def get_or_create_users(connection: sa.Connection, names: Iterable[str]) -> dict[str, int]:
    """``user_id`` of every user name, creating the missing rows."""
    return _get_or_create(connection, _USER, {name: (_escaped(name),) for name in names})


def get_or_create_volumes(connection: sa.Connection, names: Iterable[str]) -> dict[str, int]:
    """``volume_id`` of every volume name (``scratch118``), creating the missing rows."""
    return _get_or_create(connection, _VOLUME, {name: (_escaped(name),) for name in names})


def get_or_create_filetypes(connection: sa.Connection, names: Iterable[str]) -> dict[str, int]:
    """``filetype_id`` of every file type name, creating the missing rows."""
    return _get_or_create(connection, _FILETYPE, {name: (_escaped(name),) for name in names})


def get_or_create_groups(connection: sa.Connection, groups: Iterable[GroupKey]) -> dict[GroupKey, int]:
    """``group_id`` of every (group name, is humgen) pair, creating the missing rows."""
    return _get_or_create(connection, _GROUP, {
        (name, bool(is_humgen)): (_escaped(name), bool(is_humgen)) for name, is_humgen in groups})


def storable(text: str) -> bool:
    """Whether ``text`` (already escaped) fits a TEXT column on every engine."""
    return len(text) <= schema.MAX_TEXT_BYTES // 4 or len(text.encode("utf-8")) <= schema.MAX_TEXT_BYTES


def shown(text: str) -> str:
    """``text`` for a log message: quoted, and cut short when long."""
    if len(text) <= SHOWN_NAME_CHARS:
        return repr(text)
    return f"{text[:SHOWN_NAME_CHARS]!r}... ({len(text.encode('utf-8', 'surrogateescape'))} bytes)"


def _escaped(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"names must be str, not {type(name).__name__}: {name!r}")
    return escape_name(name)


def _get_or_create(connection: sa.Connection, spec: _Named, wanted: Mapping[K, StoredKey]) -> dict[K, int]:
    keep = {}
    for key, stored in wanted.items():
        if storable(stored[0]):
            keep[key] = stored
        else:
            log.warning("%s name %s is longer than the database can store (%d bytes): its rows "
                        "are not loaded", spec.what, shown(stored[0]), schema.MAX_TEXT_BYTES)
    keys = sorted(set(keep.values()))  # one lock order for all callers
    if not keys:
        return {}
    found = _lookup(connection, spec, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        columns = [column.name for column in spec.key_columns]
        statement = sa.insert(spec.table).prefix_with("IGNORE", dialect="mysql") \
            .prefix_with("OR IGNORE", dialect="sqlite")
        insert_rows(connection, statement, [dict(zip(columns, key)) for key in missing])
        found.update(_lookup(connection, spec, missing))
    for key in missing:
        if key not in found:
            log.warning("%s name %s could not be stored (the database changed it on insert): its "
                        "rows are not loaded", spec.what, shown(key[0]))
    return {key: found[stored] for key, stored in keep.items() if stored in found}


def _lookup(connection: sa.Connection, spec: _Named, keys: list[StoredKey]) -> dict[StoredKey, int]:
    """Ids of the stored rows whose key equals one of ``keys`` exactly."""
    wanted = set(keys)
    name_column = spec.key_columns[0]
    names = sorted({key[0] for key in keys})
    found: dict[StoredKey, int] = {}
    for start in range(0, len(names), LOOKUP_BATCH):
        query = sa.select(spec.id_column, *spec.key_columns).where(
            name_column.in_(names[start:start + LOOKUP_BATCH]))
        for row_id, *values in connection.execute(query):
            key = tuple(values)
            if key in wanted:
                found[key] = int(row_id)
    return found
