"""The group splitter, end to end: checks, split, index, dumps, swap, upload.

Before anything is written the output folder is checked to be lurge's own
(:mod:`utils.splitter.outdir`) and, when uploading, the bucket is checked to
answer (credentials, existence, access), so a permanent S3 problem fails in
seconds instead of after the split.  Everything is built in a private folder
beside the output folder and swapped in whole, so a failed run (failed
snapshot, ``getent`` failure, full disk…) leaves the previous set untouched.
The upload comes after the swap; when it fails, the local set is complete and
the next run re-sends what is missing.  The whole run holds the splitter's
lock in the report folder, with the other run state.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Sequence

from utils.common.config import Config
from utils.common.errors import LurgeError, UploadError, UsageError
from utils.common.folders import report_dir
from utils.common.locking import run_lock
from utils.directory.getent import dump_getent
from utils.directory.ldap import DirectorySnapshot
from utils.snapshots.discovery import Snapshot
from utils.splitter.dirswap import create_private, replacing_directory
from utils.splitter.index import write_index
from utils.splitter.outdir import check_output_dir, protected_folders, write_marker
from utils.splitter.s3 import SyncError, SyncReport, check_bucket, describe_failures, sync_directory
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


def check_upload_options(config: Config, *, upload: bool, delete_removed: bool) -> None:
    """An upload needs ``[s3] bucket``; deleting stale objects needs an upload."""
    if delete_removed and not upload:
        raise UsageError("--delete-removed deletes objects in S3 that the new set no longer has; "
                         "with --no-upload nothing is synced, so it cannot apply: drop one of the two")
    if upload and not config.s3.bucket:
        raise UsageError(f"{config.source}: [s3] bucket is empty; set it, or pass --no-upload")


def preflight(config: Config, out_dir: str, *, upload: bool, delete_removed: bool) -> str:
    """The checks that read no snapshot (options, report folder, output folder); the real output path."""
    check_upload_options(config, upload=upload, delete_removed=delete_removed)
    report_dir(config)  # the splitter keeps its lock there: it must exist and be writable
    return check_output_dir(out_dir, protected_folders(config))


def build_split_set(directory_path: str, config: Config, directory: DirectorySnapshot,
                    snapshots: Sequence[Snapshot], *, by_gid: bool,
                    getent: str = "getent") -> dict[str, GroupCounts]:
    """Write the marker, the group files, ``index.txt`` and the getent dumps into ``directory_path``."""
    write_marker(directory_path)
    plan = make_plan(directory, config.splitter, by_gid=by_gid)
    result = split_snapshots(snapshots, plan, directory_path)
    write_index(directory_path, result.groups, config.splitter, by_gid=by_gid)
    for database, filename in GETENT_DUMPS:
        path = os.path.join(directory_path, filename)
        create_private(path)  # the dump keeps this file's private mode while the set is built
        size = dump_getent(database, path, command=getent)
        log.info("wrote %s (%s bytes, from `%s %s`)", filename, f"{size:,}", getent, database)
    return result.groups


def run_splitter(config: Config, directory: DirectorySnapshot, snapshots: Sequence[Snapshot],
                 out_dir: str, *, by_gid: bool = False, upload: bool = True,
                 delete_removed: bool = False, getent: str = "getent") -> SplitOutcome:
    """Build the split set, swap it in at ``out_dir``, then upload it (unless not asked).

    A symbolic link at ``out_dir`` is followed: the folder it points to is replaced.
    """
    preflight(config, out_dir, upload=upload, delete_removed=delete_removed)
    with run_lock(config.paths.report_dir, SPLITTER_LOCK):
        target = check_output_dir(out_dir, protected_folders(config))  # again, now that we hold the lock
        if upload:
            try:
                check_bucket(config.s3)
            except UploadError as exc:
                raise UploadError(f"{exc}; nothing was split (--no-upload splits without "
                                  "uploading)") from exc
        try:
            with replacing_directory(target) as build:
                groups = build_split_set(build, config, directory, snapshots, by_gid=by_gid,
                                         getent=getent)
        except OSError as exc:
            raise LurgeError(f"could not build the split set for {target}: {exc}; "
                             "the previous set is untouched") from exc
        log.info("split set of %d groups is in place at %s", len(groups), target)
        if delete_removed and not groups:
            log.warning("the new set holds no group file: not deleting anything from S3 "
                        "(--delete-removed is ignored for this run)")
        report = _upload(target, config, delete_removed and bool(groups)) if upload else None
    return SplitOutcome(target, groups, report)


def _upload(target: str, config: Config, delete_removed: bool) -> SyncReport:
    try:
        report = sync_directory(target, config.s3, delete_removed=delete_removed)
    except SyncError as exc:
        failed = ", ".join(sorted(exc.report.failed)) or "(none)"
        causes = "\n".join(f"  cause: {line}" for line in describe_failures(exc.report.failed))
        raise LurgeError(f"upload to s3://{config.s3.bucket}/{config.s3.prefix} failed for: {failed}; "
                         f"the local set in {target} is complete, the next run retries\n{causes}"
                         ) from exc
    log.info("uploaded %d files (%s bytes), %d unchanged (%s bytes), %d stale objects deleted",
             len(report.uploaded), f"{report.bytes_uploaded:,}", len(report.skipped),
             f"{report.bytes_skipped:,}", len(report.deleted))
    return report
