"""The group splitter, end to end (SPEC §4): split, index, dumps, swap, upload.

Everything is built in a new directory beside the output directory and
swapped in whole, so a failed run (failed snapshot, ``getent`` failure, full
disk…) leaves the previous set untouched.  The upload comes after the swap;
when it fails, the local set is complete and the next run re-sends what is
missing.  The whole run holds a lock in the output directory's parent.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Sequence

from utils.common.config import Config
from utils.splitter.dirswap import replacing_directory
from utils.common.errors import LurgeError, UsageError
from utils.directory.getent import dump_getent
from utils.directory.ldap import DirectorySnapshot
from utils.common.locking import run_lock
from utils.snapshots.discovery import Snapshot
from utils.splitter.s3 import SyncError, SyncReport, sync_directory
from utils.splitter.index import write_index
from utils.splitter.split import GroupCounts, make_plan, split_snapshots

log = logging.getLogger(__name__)

SPLITTER_LOCK = ".lurge-splitter.lock"
GETENT_DUMPS = (("group", "groupfile"), ("passwd", "passwdfile"))  # database, file name


@dataclass(frozen=True)
class SplitOutcome:
    """What a run produced."""

    out_dir: str
    groups: dict[str, GroupCounts]
    sync: SyncReport | None  # None: not uploaded


def check_upload_config(config: Config) -> None:
    """An upload needs ``[s3] bucket``."""
    if not config.s3.bucket:
        raise UsageError(f"{config.source}: [s3] bucket is empty; set it, or pass --no-upload")


def build_split_set(directory_path: str, config: Config, directory: DirectorySnapshot,
                    snapshots: Sequence[Snapshot], *, by_gid: bool,
                    getent: str = "getent") -> dict[str, GroupCounts]:
    """Write the group files, ``index.txt`` and the getent dumps into ``directory_path``."""
    plan = make_plan(directory, config.splitter, by_gid=by_gid)
    result = split_snapshots(snapshots, plan, directory_path)
    write_index(directory_path, result.groups, config.splitter, by_gid=by_gid)
    for database, filename in GETENT_DUMPS:
        size = dump_getent(database, os.path.join(directory_path, filename), command=getent)
        log.info("wrote %s (%s bytes, from `%s %s`)", filename, f"{size:,}", getent, database)
    return result.groups


def run_splitter(config: Config, directory: DirectorySnapshot, snapshots: Sequence[Snapshot],
                 out_dir: str, *, by_gid: bool = False, upload: bool = True,
                 delete_removed: bool = False, getent: str = "getent") -> SplitOutcome:
    """Build the split set, swap it in at ``out_dir``, then upload it (unless not asked)."""
    if upload:
        check_upload_config(config)
    target = os.path.realpath(out_dir)  # a symlinked output dir: replace what it points to
    with run_lock(os.path.dirname(target), SPLITTER_LOCK):
        try:
            with replacing_directory(target) as build:
                groups = build_split_set(build, config, directory, snapshots, by_gid=by_gid,
                                         getent=getent)
        except OSError as exc:
            raise LurgeError(f"could not build the split set for {target}: {exc}; "
                             "the previous set is untouched") from exc
        log.info("split set of %d groups is in place at %s", len(groups), target)
        report = _upload(target, config, delete_removed) if upload else None
    return SplitOutcome(target, groups, report)


def _upload(target: str, config: Config, delete_removed: bool) -> SyncReport:
    try:
        report = sync_directory(target, config.s3, delete_removed=delete_removed)
    except SyncError as exc:
        failed = ", ".join(sorted(exc.report.failed)) or "(none)"
        raise LurgeError(f"upload to s3://{config.s3.bucket}/{config.s3.prefix} failed for: {failed}; "
                         f"the local set in {target} is complete, the next run retries") from exc
    log.info("uploaded %d files (%s bytes), %d unchanged (%s bytes), %d stale objects deleted",
             len(report.uploaded), f"{report.bytes_uploaded:,}", len(report.skipped),
             f"{report.bytes_skipped:,}", len(report.deleted))
    return report
