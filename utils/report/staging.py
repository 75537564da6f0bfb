"""Per-worker staging files: each volume's rows in its own temporary SQLite file.

Workers write here instead of to the shared database; the parent then moves
every volume's rows to the database in one transaction.  Staging files live
in one directory under the report directory, so a crashed run's leftovers are
easy to find and remove.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import astuple, fields

from utils.report.rows import UsageRow

STAGING_DIR_NAME = ".lurge-staging"
_COLUMNS = tuple(f.name for f in fields(UsageRow))


def staging_dir(report_dir: str) -> str:
    return os.path.join(report_dir, STAGING_DIR_NAME)


def staging_path(report_dir: str, kind: str, date_text: str, volume: int) -> str:
    """A staging file name unique to this worker process."""
    return os.path.join(staging_dir(report_dir), f"{kind}-{date_text}-{volume}-{os.getpid()}.sqlite")


def write_rows(path: str, rows: list[UsageRow]) -> None:
    """Stage ``rows`` in a new SQLite file at ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(f"CREATE TABLE usage_row ({', '.join(_COLUMNS)})")
            placeholders = ", ".join("?" for _ in _COLUMNS)
            connection.executemany(f"INSERT INTO usage_row VALUES ({placeholders})",
                                   (tuple(map(_stored, astuple(row))) for row in rows))
    finally:
        connection.close()


def read_rows(path: str) -> list[UsageRow]:
    """The rows staged at ``path``, in the order they were written."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM usage_row ORDER BY rowid")
        return [_row(values) for values in cursor]
    finally:
        connection.close()


def _stored(value: object) -> object:
    """Text as its bytes: names from the directory may hold bytes that are not UTF-8 (surrogate escapes)."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _row(values: tuple) -> UsageRow:
    record = {name: value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
              for name, value in zip(_COLUMNS, values)}
    record["is_humgen"] = bool(record["is_humgen"])
    return UsageRow(**record)


def remove_staging(report_dir: str) -> list[str]:
    """Remove every staging file (this run's or a crashed run's); return their names."""
    directory = staging_dir(report_dir)
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
            removed.append(name)
    return removed
