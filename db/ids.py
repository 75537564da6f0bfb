"""Bulk get-or-create of the ids of PIs, unix groups, volumes and file types.

Each call looks the names up, inserts the missing ones with one multi-row
``INSERT IGNORE`` per batch and reads their ids back, all in one transaction
(the caller's, when one is open).  Concurrent callers end with the same ids and
no duplicate rows: the unique keys arbitrate, a losing insert is ignored, and
the read-back sees the winner's committed row.  Names are matched exactly, in
Python, so every name comes back exactly as given or the call fails.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import ContextManager, Iterable

from db.connection import Database
from utils.common.errors import DatabaseError

LOOKUP_BATCH = 500  # names per SELECT ... IN (...)


@dataclass(frozen=True)
class _NamedTable:
    table: str
    id_column: str
    name_column: str


_PI = _NamedTable("pi", "pi_id", "pi_name")
_VOLUME = _NamedTable("volume", "volume_id", "scratch_disk")
_FILETYPE = _NamedTable("filetype", "filetype_id", "filetype_name")
_GROUP = _NamedTable("unix_group", "group_id", "group_name")

GroupKey = tuple[str, bool]


def get_or_create_pis(db: Database, names: Iterable[str]) -> dict[str, int]:
    """``pi_id`` of every PI surname, creating the missing rows."""
    return _get_or_create_names(db, _PI, names)


def get_or_create_volumes(db: Database, names: Iterable[str]) -> dict[str, int]:
    """``volume_id`` of every volume name (``scratch118``), creating the missing rows."""
    return _get_or_create_names(db, _VOLUME, names)


def get_or_create_filetypes(db: Database, names: Iterable[str]) -> dict[str, int]:
    """``filetype_id`` of every file type name, creating the missing rows."""
    return _get_or_create_names(db, _FILETYPE, names)


def get_or_create_groups(db: Database, groups: Iterable[GroupKey]) -> dict[GroupKey, int]:
    """``group_id`` of every (group name, is humgen) pair, creating the missing rows."""
    wanted = sorted({(_checked_name(name), bool(is_humgen)) for name, is_humgen in groups})
    if not wanted:
        return {}
    with _transaction(db):
        found = _lookup_groups(db, wanted)
        missing = [key for key in wanted if key not in found]
        if missing:
            db.executemany(
                f"{_insert_ignore(db)} unix_group (group_name, is_humgen) VALUES (?, ?)",
                [(name, int(is_humgen)) for name, is_humgen in missing],
            )
            found.update(_lookup_groups(db, missing))
        _check_all_found(db, _GROUP, [key for key in missing if key not in found])
    return {key: found[key] for key in wanted}


def _get_or_create_names(db: Database, spec: _NamedTable, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted({_checked_name(name) for name in names})  # one lock order for all callers
    if not wanted:
        return {}
    with _transaction(db):
        found = _lookup_names(db, spec, wanted)
        missing = [name for name in wanted if name not in found]
        if missing:
            db.executemany(
                f"{_insert_ignore(db)} {spec.table} ({spec.name_column}) VALUES (?)",
                [(name,) for name in missing],
            )
            found.update(_lookup_names(db, spec, missing))
        _check_all_found(db, spec, [name for name in missing if name not in found])
    return {name: found[name] for name in wanted}


def _checked_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"names must be str, not {type(name).__name__}: {name!r}")
    return name


def _transaction(db: Database) -> ContextManager[object]:
    """Join the caller's transaction, or run in one of our own."""
    return nullcontext() if db.in_transaction else db.transaction()


def _insert_ignore(db: Database) -> str:
    return "INSERT IGNORE INTO" if db.engine == "mysql" else "INSERT OR IGNORE INTO"


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _lookup_names(db: Database, spec: _NamedTable, names: list[str]) -> dict[str, int]:
    """Ids of the stored rows whose name equals one of ``names`` exactly."""
    wanted = set(names)
    found: dict[str, int] = {}
    for chunk in _chunks(names, LOOKUP_BATCH):
        placeholders = ", ".join("?" for _ in chunk)
        rows = db.query(
            f"SELECT {spec.id_column}, {spec.name_column} FROM {spec.table}"
            f" WHERE {spec.name_column} IN ({placeholders})",
            chunk,
        )
        for row_id, name in rows:
            if name in wanted:  # exact, whatever the server's collation considers equal
                found[name] = int(row_id)
    return found


def _lookup_groups(db: Database, keys: list[GroupKey]) -> dict[GroupKey, int]:
    wanted = set(keys)
    names = sorted({name for name, _ in keys})
    found: dict[GroupKey, int] = {}
    for chunk in _chunks(names, LOOKUP_BATCH):
        placeholders = ", ".join("?" for _ in chunk)
        rows = db.query(
            f"SELECT group_id, group_name, is_humgen FROM unix_group WHERE group_name IN ({placeholders})",
            chunk,
        )
        for row_id, name, is_humgen in rows:
            key = (name, bool(is_humgen))
            if key in wanted:
                found[key] = int(row_id)
    return found


def _check_all_found(db: Database, spec: _NamedTable, lost: list) -> None:
    if not lost:
        return
    sample = ", ".join(repr(item)[:80] for item in lost[:3])
    raise DatabaseError(
        f"{db.url}: {len(lost)} {spec.table} name(s) could not be stored, e.g. {sample}"
        " (a stored name may share its first 255 characters, or the value was changed on insert)"
    )
