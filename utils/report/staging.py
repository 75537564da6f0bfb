"""Per-worker staging files: each volume's rows in its own temporary SQLite file.

A file holds the volume's group rows (table ``usage_row``) and its per-user
rows (table ``user_usage_row``).

Workers write here instead of to the shared database; the parent then moves
every volume's rows to the database in one transaction.  Staging files live
in one private folder (0700, files 0600) under the report directory, so a
crashed run's leftovers are easy to find and remove; a symbolic link planted
at the folder's name is refused, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from dataclasses import astuple, fields
from typing import Iterator, Sequence, TypeVar

from utils.common.errors import LurgeError
from utils.report.rows import UsageRow, UserUsageRow

log = logging.getLogger(__name__)

STAGING_DIR_NAME = ".lurge-staging"
_TABLES = {UsageRow: "usage_row", UserUsageRow: "user_usage_row"}
Row = TypeVar("Row", UsageRow, UserUsageRow)


def staging_dir(report_dir: str) -> str:
    return os.path.join(report_dir, STAGING_DIR_NAME)


def staging_path(report_dir: str, kind: str, date_text: str, volume: int) -> str:
    """A staging file name unique to this worker process."""
    return os.path.join(staging_dir(report_dir), f"{kind}-{date_text}-{volume}-{os.getpid()}.sqlite")


@contextlib.contextmanager
def _staging_folder(report_dir: str, *, create: bool) -> Iterator[int | None]:
    """An open descriptor of the staging folder (None when absent and not ``create``).

    The folder is made private (0700) whatever the umask; a symbolic link or
    anything else that is not a folder at its name is refused, never followed.
    """
    path = staging_dir(report_dir)
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        if create:
            raise
        yield None
        return
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        what = "a symbolic link" if os.path.islink(path) else "not a folder"
        raise LurgeError(f"{path} is {what}; lurge keeps its working files only in a private "
                         "folder of its own there: remove it") from None
    try:
        if create:
            os.fchmod(fd, 0o700)
        yield fd
    finally:
        os.close(fd)


def prepare_staging(report_dir: str) -> list[str]:
    """Create the private staging folder, or empty the one there; return the leftovers removed."""
    with _staging_folder(report_dir, create=True) as fd:
        return _remove_all(fd, staging_dir(report_dir))


def remove_staging(report_dir: str) -> list[str]:
    """Remove every staging file (this run's or a crashed run's); return their names."""
    with _staging_folder(report_dir, create=False) as fd:
        return [] if fd is None else _remove_all(fd, staging_dir(report_dir))


def _remove_all(fd: int, path: str) -> list[str]:
    removed = []
    for name in os.listdir(fd):
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        except IsADirectoryError:
            log.warning("%s/%s is a folder, not a staging file; left alone", path, name)
            continue
        removed.append(name)
    return removed


def _create_private(path: str) -> None:
    """Create ``path`` empty, readable by its owner only; a link at that name is never followed."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def write_rows(path: str, rows: Sequence[UsageRow],
               user_rows: Sequence[UserUsageRow] = ()) -> None:
    """Stage ``rows`` and ``user_rows`` in a new private SQLite file at ``path`` (in the
    staging folder)."""
    _create_private(path)
    connection = sqlite3.connect(path)
    try:
        with connection:
            for kind, staged in ((UsageRow, rows), (UserUsageRow, user_rows)):
                columns = _columns(kind)
                connection.execute(f"CREATE TABLE {_TABLES[kind]} ({', '.join(columns)})")
                placeholders = ", ".join("?" for _ in columns)
                connection.executemany(f"INSERT INTO {_TABLES[kind]} VALUES ({placeholders})",
                                       (tuple(map(_stored, astuple(row))) for row in staged))
    finally:
        connection.close()


def read_rows(path: str) -> list[UsageRow]:
    """The group rows staged at ``path``, in the order they were written."""
    return _read(path, UsageRow)


def read_user_rows(path: str) -> list[UserUsageRow]:
    """The per-user rows staged at ``path``, in the order they were written."""
    return _read(path, UserUsageRow)


def _columns(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _read(path: str, kind: type[Row]) -> list[Row]:
    columns = _columns(kind)
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.execute(f"SELECT {', '.join(columns)} FROM {_TABLES[kind]} "
                                    "ORDER BY rowid")
        return [_row(kind, columns, values) for values in cursor]
    finally:
        connection.close()


def _stored(value: object) -> object:
    """Text as its bytes: names from the directory may hold bytes that are not UTF-8 (surrogate escapes)."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _row(kind: type[Row], columns: tuple[str, ...], values: tuple) -> Row:
    record = {name: value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
              for name, value in zip(columns, values)}
    record["is_humgen"] = bool(record["is_humgen"])
    return kind(**record)
