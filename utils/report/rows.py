"""From usage sums to report rows: names, PIs, quotas and archives (docs/outputs.md)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from utils.common.config import QuotaConfig, VolumeConfig
from utils.common.errors import LurgeError
from utils.directory.ldap import DirectorySnapshot
from utils.report.quota import NO_QUOTA, query_quotas
from utils.report.usage import GroupUsage

log = logging.getLogger(__name__)

ARCHIVE_LIMIT = 100 * 1024 * 1024  # only groups using less than this are checked
ARCHIVE_MARKER = ".imirrored"
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class UsageRow:
    """One (volume, group) line of the usage report."""

    volume: str
    pi: str | None
    group_name: str
    used: int
    quota: int | None
    last_modified: float | None
    archived_dirs: str | None
    is_humgen: bool
    quota_used: int | None
    inodes: int | None = None  # lines of the group in the snapshot
    inode_quota: int | None = None  # lfs file hard limit (None: no limit or unknown)
    inode_quota_used: int | None = None  # lfs files count
    days_until_full_bytes: float | None = None
    days_until_full_inodes: float | None = None
    status: str | None = None  # "OK", "Kinda OK", "Not OK"; None without any quota

    @property
    def archived(self) -> bool:
        return self.archived_dirs is not None

    def sort_key(self) -> tuple:
        """Volume, then PI (groups without one first), then group name (then the rest)."""
        return (self.volume, self.pi is not None, self.pi or "", self.group_name,
                self.is_humgen, self.used)


@dataclass(frozen=True)
class UserUsageRow:
    """One (volume, user, group) line of the per-user report."""

    volume: str
    user_name: str  # the directory's name for the uid, else the decimal uid
    group_name: str
    is_humgen: bool  # with group_name, identifies the unix_group row
    used: int
    inodes: int
    last_modified: float | None

    def sort_key(self) -> tuple:
        """Volume, then user name, then group name."""
        return (self.volume, self.user_name, self.group_name, self.is_humgen)


def days_since(snapshot_time: float, mtime: int | None) -> float | None:
    """round((snapshot time − mtime) / 86400, 1), or None without an mtime."""
    if mtime is None:
        return None
    return round((snapshot_time - mtime) / SECONDS_PER_DAY, 1)


def archived_directory(roots: tuple[str, ...], group_name: str) -> str | None:
    """The first ``<root>/<group_name>`` holding a ``.imirrored`` entry, if any.

    A name that is not a single safe path component is never looked up.
    """
    if not group_name or group_name in (".", "..") or "/" in group_name or "\0" in group_name:
        return None
    for root in roots:
        directory = os.path.join(root, group_name)
        if os.path.lexists(os.path.join(directory, ARCHIVE_MARKER)):
            return directory
    return None


STORABLE_LIMIT = 1 << 63  # the database's columns are signed 64-bit integers


def check_storable(used: int, who: str) -> None:
    """Fail the run, naming ``who``, for a total the database cannot hold (never wrap or round)."""
    if used >= STORABLE_LIMIT:
        raise LurgeError(f"{who} uses {used:,} bytes, 2^63 or more: the database's 64-bit columns "
                         "cannot hold it, so nothing is published (see docs/outputs.md)")


def build_rows(volume: VolumeConfig, snapshot_time: float, usage: dict[int, GroupUsage],
               directory: DirectorySnapshot, quota: QuotaConfig) -> list[UsageRow]:
    """Report rows for one volume, sorted; empty groups dropped, unknown gids kept."""
    reported = {gid: group for gid, group in usage.items() if not group.is_empty}
    names = {gid: directory.group_name(gid) for gid in reported}
    quotas = query_quotas(quota.lfs, sorted(set(names.values())), volume.mount, quota.timeout,
                          quota.concurrency)
    for gid, group in reported.items():
        check_storable(group.used, f"volume {volume.name}: group {names[gid]!r} (gid {gid})")
    rows = []
    for gid, group in reported.items():
        name = names[gid]
        limits = quotas.get(name, NO_QUOTA)
        archived = (archived_directory(volume.archive_roots, name)
                    if group.used < ARCHIVE_LIMIT else None)
        rows.append(UsageRow(
            volume=volume.name, pi=directory.pi(gid), group_name=name, used=group.used,
            quota=limits.limit, last_modified=days_since(snapshot_time, group.last_mtime),
            archived_dirs=archived, is_humgen=directory.is_humgen(gid), quota_used=limits.used,
            inodes=group.inodes, inode_quota=limits.file_limit, inode_quota_used=limits.files,
        ))
    rows.sort(key=UsageRow.sort_key)
    log.info("volume %s: %d groups reported (%d gids seen)", volume.name, len(rows), len(usage))
    return rows


def build_user_rows(volume_name: str, snapshot_time: float,
                    owners: dict[tuple[int, int], GroupUsage],
                    directory: DirectorySnapshot) -> list[UserUsageRow]:
    """Per-user rows for one volume, sorted; owners holding nothing and undated dropped.

    Users are named by the directory, else by the decimal uid; groups as in
    :func:`build_rows`.
    """
    for (uid, gid), owner in owners.items():
        check_storable(owner.used, f"volume {volume_name}: user {directory.user_name(uid)!r} "
                                   f"(uid {uid}) in group {directory.group_name(gid)!r}")
    rows = [
        UserUsageRow(volume=volume_name, user_name=directory.user_name(uid),
                     group_name=directory.group_name(gid), is_humgen=directory.is_humgen(gid),
                     used=owner.used, inodes=owner.inodes,
                     last_modified=days_since(snapshot_time, owner.last_mtime))
        for (uid, gid), owner in owners.items() if not owner.is_empty
    ]
    rows.sort(key=UserUsageRow.sort_key)
    log.info("volume %s: %d user rows reported (%d owners seen)", volume_name, len(rows),
             len(owners))
    return rows
