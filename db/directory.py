"""Replacing a volume's ``directory``/``file_size`` rows with a new inspection (SPEC §3, §5).

In one transaction per call: leftover tagged rows (from a run that crashed
outside a transaction) are removed, the volume's current rows are tagged
(``project_name`` prefixed ``.hgi.old.``), the new rows are inserted, the
tagged rows are deleted and ``inspection`` records the snapshot date.  Only
the volumes being loaded are touched.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

from db.connection import Database, as_date
from db.ids import get_or_create_filetypes, get_or_create_groups, get_or_create_pis, get_or_create_volumes
from utils.inspector.aggregate import DirectoryRecord

OLD_TAG = ".hgi.old."
GIB = 1024 ** 3
_TAGGED = "project_name LIKE '.hgi.old.%'"
_INSERT_DIRECTORY = (
    "INSERT INTO directory (project_name, directory_path, num_files, size, last_modified,"
    " pi_id, group_id, volume_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FILE_SIZE = "INSERT INTO file_size (directory_id, filetype_id, size) VALUES (?, ?, ?)"


def gib(size: int) -> float:
    """Bytes as GiB rounded to two decimals (the unit of ``directory.size``)."""
    return round(size / GIB, 2)


def db_text(value: bytes) -> str:
    """Path bytes as database text; bytes that are not UTF-8 appear as ``\\xNN``."""
    return value.decode("utf-8", "backslashreplace")


def inspection_dates(db: Database) -> dict[str, dt.date]:
    """volume name -> date of the snapshot its directory rows come from."""
    rows = db.query("SELECT v.scratch_disk, i.snapshot_date FROM inspection i"
                    " JOIN volume v ON v.volume_id = i.volume_id")
    return {name: as_date(date) for name, date in rows}


def load_inspection(db: Database, records: Mapping[str, Sequence[DirectoryRecord]],
                    snapshot_dates: Mapping[str, dt.date], filetypes: Sequence[str]) -> int:
    """Replace the rows of every volume in ``records`` (volume name -> records).

    Returns the number of directory rows inserted.  All volumes are replaced
    in one transaction: a failure leaves every previous row as it was.
    """
    all_records = [record for volume in records.values() for record in volume]
    with db.transaction():
        volume_ids = get_or_create_volumes(db, records.keys())
        filetype_ids = get_or_create_filetypes(db, filetypes)
        pis = get_or_create_pis(db, {r.pi for r in all_records if r.pi is not None})
        groups = get_or_create_groups(db, {(r.group_name, r.is_humgen) for r in all_records
                                           if r.group_name is not None})
        for name, volume_records in records.items():
            volume_id = volume_ids[name]
            _delete_tagged(db, volume_id)
            db.execute(f"UPDATE directory SET project_name = {_concat(db)} WHERE volume_id = ?",
                       (OLD_TAG, volume_id))
            db.executemany(_INSERT_DIRECTORY, [
                (*_names(r), r.num_files, gib(r.size), r.last_modified,
                 None if r.pi is None else pis[r.pi],
                 None if r.group_name is None else groups[(r.group_name, r.is_humgen)], volume_id)
                for r in volume_records
            ])
            ids = _new_directory_ids(db, volume_id)
            db.executemany(_INSERT_FILE_SIZE, [
                (ids[_names(r)], filetype_ids[filetype], gib(size))
                for r in volume_records for filetype, size in zip(filetypes, r.filetype_sizes)
            ])
            _delete_tagged(db, volume_id)
            db.execute("DELETE FROM inspection WHERE volume_id = ?", (volume_id,))
            db.execute("INSERT INTO inspection (volume_id, snapshot_date, loaded_at) VALUES (?, ?, ?)",
                       (volume_id, snapshot_dates[name], dt.datetime.now().replace(microsecond=0)))
    return len(all_records)


def _names(record: DirectoryRecord) -> tuple[str, str | None]:
    """(project_name, directory_path): the first two components, then the rest (NULL if none)."""
    rest = record.subdirectory
    return db_text(record.project), (db_text(rest) if rest else None)


def _concat(db: Database) -> str:
    return "CONCAT(?, project_name)" if db.engine == "mysql" else "? || project_name"


def _delete_tagged(db: Database, volume_id: int) -> None:
    db.execute("DELETE FROM file_size WHERE directory_id IN (SELECT directory_id FROM directory"
               f" WHERE volume_id = ? AND {_TAGGED})", (volume_id,))
    db.execute(f"DELETE FROM directory WHERE volume_id = ? AND {_TAGGED}", (volume_id,))


def _new_directory_ids(db: Database, volume_id: int) -> dict[tuple[str, str | None], int]:
    rows = db.query("SELECT directory_id, project_name, directory_path FROM directory"
                    f" WHERE volume_id = ? AND NOT {_TAGGED}", (volume_id,))
    return {(project, path): directory_id for directory_id, project, path in rows}
