"""What the later stages read back: usage rows and history, inspector rows and per-user rows.

Plain functions returning plain values.  Names come back as the suite holds
them (the database's escape undone: ``str`` with bytes that are not UTF-8 as
surrogate escapes), paths as ``bytes``, dates as :class:`datetime.date`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from db import schema
from db.connection import Database
from utils.common.names import escape_name, unescape_bytes
from utils.report.rows import UsageRow, UserUsageRow

GroupKey = tuple[str, bool]  # (group name, is humgen)

_usage, _volume, _group, _pi = schema.lustre_usage, schema.volume, schema.unix_group, schema.pi


@dataclass(frozen=True)
class HistoryPoint:
    """One earlier ``lustre_usage`` row of a group, for its warning series."""

    record_date: dt.date
    used: int | None
    quota: int | None
    quota_used: int | None
    inodes: int | None
    inode_quota: int | None
    inode_quota_used: int | None


@dataclass(frozen=True)
class UsagePoint:
    """One day of a group on a volume, for the history chart."""

    record_date: dt.date
    group_name: str
    is_humgen: bool
    pi: str | None
    used: int | None
    quota: int | None
    quota_used: int | None


@dataclass(frozen=True)
class DirectoryUsage:
    """One ``directory`` row of a volume with its sizes by file type (GiB)."""

    project_name: bytes
    directory_path: bytes | None
    num_files: int | None
    size: float | None
    last_modified: float | None
    pi: str | None
    group_name: str | None
    is_humgen: bool | None
    filetype_sizes: dict[str, float]


def suite_name(text: str) -> str:
    """A stored name back in the suite's form (the inverse of the database's escape)."""
    return unescape_bytes(text).decode("utf-8", "surrogateescape")


def _optional_name(text: str | None) -> str | None:
    return None if text is None else suite_name(text)


def group_history(database: Database, volume: str, date: dt.date,
                  history_days: int) -> dict[GroupKey, list[HistoryPoint]]:
    """The rows of ``volume`` with date − history_days < record_date < date, per group, oldest first."""
    query = (
        sa.select(_group.c.group_name, _group.c.is_humgen, _usage.c.record_date, _usage.c.used,
                  _usage.c.quota, _usage.c.quota_used, _usage.c.inodes, _usage.c.inode_quota,
                  _usage.c.inode_quota_used)
        .join(_group, _group.c.group_id == _usage.c.unix_id)
        .join(_volume, _volume.c.volume_id == _usage.c.volume_id)
        .where(_volume.c.scratch_disk == escape_name(volume),
               _usage.c.record_date > date - dt.timedelta(days=history_days),
               _usage.c.record_date < date)
        .order_by(_usage.c.record_date, _usage.c.record_id)
    )
    history: dict[GroupKey, list[HistoryPoint]] = defaultdict(list)
    with database.read() as connection:
        for name, is_humgen, *values in connection.execute(query):
            history[(suite_name(name), bool(is_humgen))].append(HistoryPoint(*values))
    return dict(history)


def usage_over_time(database: Database, date: dt.date, days: int = 90) -> dict[str, list[UsagePoint]]:
    """Per volume, every group row with date − days < record_date ≤ date, by date then group."""
    query = (
        sa.select(_volume.c.scratch_disk, _usage.c.record_date, _group.c.group_name, _group.c.is_humgen,
                  _pi.c.pi_name, _usage.c.used, _usage.c.quota, _usage.c.quota_used)
        .join(_group, _group.c.group_id == _usage.c.unix_id)
        .join(_volume, _volume.c.volume_id == _usage.c.volume_id)
        .outerjoin(_pi, _pi.c.pi_id == _usage.c.pi_id)
        .where(_usage.c.record_date > date - dt.timedelta(days=days), _usage.c.record_date <= date)
        .order_by(_volume.c.scratch_disk, _usage.c.record_date, _group.c.group_name, _group.c.is_humgen)
    )
    series: dict[str, list[UsagePoint]] = defaultdict(list)
    with database.read() as connection:
        for volume, day, name, is_humgen, pi, used, quota, quota_used in connection.execute(query):
            series[suite_name(volume)].append(UsagePoint(day, suite_name(name), bool(is_humgen),
                                                         _optional_name(pi), used, quota, quota_used))
    return dict(series)


def directory_rows(database: Database, volume: str) -> list[DirectoryUsage]:
    """The inspector's rows of ``volume`` (the last ``--tosql`` load), by project then path."""
    directory, file_size, filetype = schema.directory, schema.file_size, schema.filetype
    rows_query = (
        sa.select(directory.c.directory_id, directory.c.project_name, directory.c.directory_path,
                  directory.c.num_files, directory.c.size, directory.c.last_modified, _pi.c.pi_name,
                  _group.c.group_name, _group.c.is_humgen)
        .join(_volume, _volume.c.volume_id == directory.c.volume_id)
        .outerjoin(_pi, _pi.c.pi_id == directory.c.pi_id)
        .outerjoin(_group, _group.c.group_id == directory.c.group_id)
        .where(_volume.c.scratch_disk == escape_name(volume))
    )
    sizes_query = (
        sa.select(file_size.c.directory_id, filetype.c.filetype_name, file_size.c.size)
        .join(filetype, filetype.c.filetype_id == file_size.c.filetype_id)
        .where(file_size.c.directory_id.in_(rows_query.with_only_columns(directory.c.directory_id)))
        .order_by(file_size.c.directory_id, filetype.c.filetype_id)
    )
    with database.read() as connection:
        sizes: dict[int, dict[str, float]] = defaultdict(dict)
        for directory_id, name, size in connection.execute(sizes_query):
            sizes[directory_id][suite_name(name)] = size
        rows = [
            DirectoryUsage(unescape_bytes(project), None if path is None else unescape_bytes(path),
                           files, size, modified, _optional_name(pi), _optional_name(group),
                           None if is_humgen is None else bool(is_humgen), sizes.get(directory_id, {}))
            for directory_id, project, path, files, size, modified, pi, group, is_humgen
            in connection.execute(rows_query)
        ]
    return sorted(rows, key=lambda row: (row.project_name, row.directory_path or b""))


def user_rows(database: Database, date: dt.date) -> list[UserUsageRow]:
    """The per-user rows loaded for ``date``, ordered as the per-user report."""
    usage, user = schema.user_usage, schema.unix_user
    query = (
        sa.select(_volume.c.scratch_disk, user.c.user_name, _group.c.group_name, _group.c.is_humgen,
                  usage.c.used, usage.c.inodes, usage.c.last_modified)
        .join(user, user.c.user_id == usage.c.user_id)
        .join(_group, _group.c.group_id == usage.c.unix_id)
        .join(_volume, _volume.c.volume_id == usage.c.volume_id)
        .where(usage.c.record_date == date)
    )
    with database.read() as connection:
        rows = [UserUsageRow(suite_name(volume), suite_name(name), suite_name(group), bool(is_humgen),
                             used, inodes, modified)
                for volume, name, group, is_humgen, used, inodes, modified in connection.execute(query)]
    return sorted(rows, key=UserUsageRow.sort_key)


def usage_rows(database: Database, date: dt.date) -> list[UsageRow]:
    """The group rows loaded for ``date``, in report order (volume, PI, group).

    The database keeps whether a group was archived, not where: an archived
    row comes back with ``archived_dirs`` set to ``""`` (still ``archived``).
    """
    query = (
        sa.select(_volume.c.scratch_disk, _pi.c.pi_name, _group.c.group_name, _group.c.is_humgen,
                  _usage.c.used, _usage.c.quota, _usage.c.last_modified, _usage.c.archived,
                  _usage.c.quota_used, _usage.c.inodes, _usage.c.inode_quota,
                  _usage.c.inode_quota_used, _usage.c.days_until_full_bytes,
                  _usage.c.days_until_full_inodes, _usage.c.status)
        .join(_group, _group.c.group_id == _usage.c.unix_id)
        .join(_volume, _volume.c.volume_id == _usage.c.volume_id)
        .outerjoin(_pi, _pi.c.pi_id == _usage.c.pi_id)
        .where(_usage.c.record_date == date)
    )
    with database.read() as connection:
        rows = [UsageRow(volume=suite_name(volume), pi=_optional_name(pi), group_name=suite_name(name),
                         used=used, quota=quota, last_modified=modified,
                         archived_dirs="" if archived else None, is_humgen=bool(is_humgen),
                         quota_used=quota_used, inodes=inodes, inode_quota=inode_quota,
                         inode_quota_used=inode_quota_used, days_until_full_bytes=days_bytes,
                         days_until_full_inodes=days_inodes, status=status)
                for (volume, pi, name, is_humgen, used, quota, modified, archived, quota_used, inodes,
                     inode_quota, inode_quota_used, days_bytes, days_inodes, status)
                in connection.execute(query)]
    return sorted(rows, key=UsageRow.sort_key)
