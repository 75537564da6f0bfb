"""Replacing a volume's ``directory``/``file_size`` rows with a new inspection (docs/database.md).

In one transaction per call: leftover tagged rows (from a run that crashed
outside a transaction) are removed, the volume's current rows are tagged
(``project_name`` prefixed ``.hgi.old.``), the new rows are inserted, the
tagged rows are deleted and ``inspection`` records the snapshot date.  Only
the volumes being loaded are touched.  On MySQL a transaction chosen as a
deadlock victim (or timed out waiting for a lock) is rerun a few times.

Paths are stored with the escape of :mod:`utils.common.names`, so bytes that
are not UTF-8 never stop a load and distinct paths stay distinct.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Mapping, Sequence

import sqlalchemy as sa

from db import schema
from db.connection import Database, insert_rows
from db.ids import (get_or_create_filetypes, get_or_create_groups, get_or_create_pis,
                    get_or_create_volumes, shown, storable)
from utils.common.names import escape_bytes
from utils.inspector.aggregate import DirectoryRecord

log = logging.getLogger(__name__)

OLD_TAG = ".hgi.old."
GIB = 1024 ** 3

_directory = schema.directory
_file_size = schema.file_size
_TAGGED = _directory.c.project_name.startswith(OLD_TAG, autoescape=True)


def gib(size: int) -> float:
    """Bytes as GiB rounded to two decimals (the unit of ``directory.size``)."""
    return round(size / GIB, 2)


def inspection_dates(database: Database) -> dict[str, dt.date]:
    """volume name -> date of the snapshot its directory rows come from."""
    volume, inspection = schema.volume, schema.inspection
    query = sa.select(volume.c.scratch_disk, inspection.c.snapshot_date).join(
        inspection, inspection.c.volume_id == volume.c.volume_id)
    with database.read() as connection:
        return {name: date for name, date in connection.execute(query)}


def load_inspection(database: Database, records: Mapping[str, Sequence[DirectoryRecord]],
                    snapshot_dates: Mapping[str, dt.date], filetypes: Sequence[str]) -> int:
    """Replace the rows of every volume in ``records`` (volume name -> records).

    Returns the number of directory rows inserted.  All volumes are replaced
    in one transaction: a failure leaves every previous row as it was.  A
    record whose path or names cannot be stored is skipped with a warning.
    """
    return database.run_transaction(
        lambda connection: _replace(connection, records, snapshot_dates, filetypes),
        f"loading the inspection of {', '.join(sorted(records)) or 'no volumes'}")


def _replace(connection: sa.Connection, records: Mapping[str, Sequence[DirectoryRecord]],
             snapshot_dates: Mapping[str, dt.date], filetypes: Sequence[str]) -> int:
    all_records = [record for volume in records.values() for record in volume]
    volume_ids = get_or_create_volumes(connection, records.keys())
    filetype_ids = get_or_create_filetypes(connection, filetypes)
    pis = get_or_create_pis(connection, {r.pi for r in all_records if r.pi is not None})
    groups = get_or_create_groups(connection, {(r.group_name, r.is_humgen) for r in all_records
                                               if r.group_name is not None})
    loaded = 0
    for name, volume_records in records.items():
        volume_id = volume_ids[name]
        _delete_tagged(connection, volume_id)
        connection.execute(sa.update(_directory).where(_directory.c.volume_id == volume_id)
                           .values(project_name=sa.literal(OLD_TAG) + _directory.c.project_name))
        stored = [r for r in volume_records if _storable(r, pis, groups)]
        insert_rows(connection, _directory, [
            {"project_name": project, "directory_path": path, "num_files": r.num_files,
             "size": gib(r.size), "last_modified": r.last_modified,
             "pi_id": None if r.pi is None else pis[r.pi],
             "group_id": None if r.group_name is None else groups[(r.group_name, r.is_humgen)],
             "volume_id": volume_id}
            for r in stored for project, path in [_names(r)]
        ])
        ids = _new_directory_ids(connection, volume_id)
        insert_rows(connection, _file_size, [
            {"directory_id": ids[_names(r)], "filetype_id": filetype_ids[filetype], "size": gib(size)}
            for r in stored for filetype, size in zip(filetypes, r.filetype_sizes)
        ])
        _delete_tagged(connection, volume_id)
        inspection = schema.inspection
        connection.execute(sa.delete(inspection).where(inspection.c.volume_id == volume_id))
        connection.execute(sa.insert(inspection).values(
            volume_id=volume_id, snapshot_date=snapshot_dates[name], loaded_at=dt.datetime.now()))
        loaded += len(stored)
    return loaded


def _names(record: DirectoryRecord) -> tuple[str, str | None]:
    """(project_name, directory_path): the first two components, then the rest (NULL if none)."""
    rest = record.subdirectory
    return escape_bytes(record.project), (escape_bytes(rest) if rest else None)


def _storable(record: DirectoryRecord, pis: Mapping[str, int], groups: Mapping[tuple[str, bool], int]) -> bool:
    project, path = _names(record)
    if not storable(project) or (path is not None and not storable(path)):
        log.warning("directory %s of %s is longer than the database can store: its row is not loaded",
                    shown(escape_bytes(record.key)), record.volume)
        return False
    if record.pi is not None and record.pi not in pis or \
            record.group_name is not None and (record.group_name, record.is_humgen) not in groups:
        log.warning("directory %s of %s: its group or PI name could not be stored: its row is not "
                    "loaded", shown(escape_bytes(record.key)), record.volume)
        return False
    return True


def _delete_tagged(connection: sa.Connection, volume_id: int) -> None:
    tagged = sa.select(_directory.c.directory_id).where(_directory.c.volume_id == volume_id, _TAGGED)
    connection.execute(sa.delete(_file_size).where(_file_size.c.directory_id.in_(tagged)))
    connection.execute(sa.delete(_directory).where(_directory.c.volume_id == volume_id, _TAGGED))


def _new_directory_ids(connection: sa.Connection, volume_id: int) -> dict[tuple[str, str | None], int]:
    query = sa.select(_directory.c.directory_id, _directory.c.project_name, _directory.c.directory_path) \
        .where(_directory.c.volume_id == volume_id, sa.not_(_TAGGED))
    return {(project, path): directory_id for directory_id, project, path in connection.execute(query)}
