"""The dated TSV reports, per group and per user: exact text, written atomically
(columns: docs/outputs.md)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from typing import Iterable, Sequence

from utils.common.atomic import atomic_write
from utils.report.rows import UsageRow, UserUsageRow

HEADER = ("Lustre Volume", "PI", "Unix Group", "Used (bytes)", "Quota (bytes)",
          "Last Modified (days)", "Archived Directories", "Is Humgen?", "Quota Used (bytes)",
          "Inodes", "Inode Quota", "Inode Quota Used", "Days Until Full (bytes)",
          "Days Until Full (inodes)", "Status")
USER_HEADER = ("Lustre Volume", "User", "Unix Group", "Used (bytes)", "Inodes",
               "Last Modified (days)")
NULL = "-"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_dir(report_dir: str) -> str:
    return os.path.join(report_dir, "report-output-files")


def tsv_path(report_dir: str, date: dt.date) -> str:
    """``<report_dir>/report-output-files/report-<YYYYMMDD>.tsv``."""
    return os.path.join(tsv_dir(report_dir), f"report-{date:%Y%m%d}.tsv")


def user_tsv_path(report_dir: str, date: dt.date) -> str:
    """``<report_dir>/report-output-files/user-report-<YYYYMMDD>.tsv``."""
    return os.path.join(tsv_dir(report_dir), f"user-report-{date:%Y%m%d}.tsv")


def tsv_written(path: str) -> bool:
    """Whether a report TSV is in place at ``path`` (a regular file; a planted link is not one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _cell(value: object) -> str:
    """NULL as ``-``, booleans as True/False; tabs and newlines in text are escaped."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def format_row(row: UsageRow) -> str:
    cells = (row.volume, row.pi, row.group_name, row.used, row.quota, row.last_modified,
             row.archived_dirs, row.is_humgen, row.quota_used, row.inodes, row.inode_quota,
             row.inode_quota_used, row.days_until_full_bytes, row.days_until_full_inodes,
             row.status)
    return "\t".join(_cell(cell) for cell in cells)


def format_user_row(row: UserUsageRow) -> str:
    cells = (row.volume, row.user_name, row.group_name, row.used, row.inodes, row.last_modified)
    return "\t".join(_cell(cell) for cell in cells)


def _text(header: Sequence[str], lines: Iterable[str]) -> bytes:
    return ("\n".join(["\t".join(header), *lines]) + "\n").encode("utf-8",
                                                                errors="surrogateescape")


def render(rows: Iterable[UsageRow]) -> bytes:
    """The whole file: header, then rows in report order (volume, PI, group)."""
    return _text(HEADER, (format_row(row) for row in sorted(rows, key=UsageRow.sort_key)))


def render_users(rows: Iterable[UserUsageRow]) -> bytes:
    """The whole per-user file: header, then rows by volume, user name, group name."""
    return _text(USER_HEADER, (format_user_row(row)
                               for row in sorted(rows, key=UserUsageRow.sort_key)))


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_write(path) as stream:
        stream.write(data)


def write_report(path: str, rows: Iterable[UsageRow]) -> None:
    """Write the TSV so that it exists complete or not at all."""
    _write(path, render(rows))


def write_user_report(path: str, rows: Iterable[UserUsageRow]) -> None:
    """Write the per-user TSV so that it exists complete or not at all."""
    _write(path, render_users(rows))
