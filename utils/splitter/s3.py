"""Sync one local directory to ``s3://<bucket>/<prefix>`` (SPEC §4, end).

Only the regular files directly inside the directory are synced (no recursion);
names starting with ``.`` (temporary files) are ignored.  Each file becomes the
object ``<prefix><filename>``.  A file is skipped when the remote object has the
same size and an ETag matching the local content (plain MD5, or the multipart
form ``md5(part digests)-N``).  Files at or above ``multipart_threshold`` are
uploaded in ``multipart_chunksize`` parts; a failed multipart upload is aborted.
Each file is tried ``max_attempts`` times with exponential backoff; botocore's
own retries are switched off so that the attempt count is ours alone.

Caveat: objects whose ETag is not an MD5 (e.g. SSE-KMS on AWS) never match and
are therefore re-sent on every sync.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from utils.common.config import S3Config
from utils.common.errors import UploadError

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_PARTS = 10_000  # S3's limit on parts per multipart upload
MAX_BACKOFF_SECONDS = 60.0
PROGRESS_INTERVAL = 30.0  # seconds between progress lines during a sync
_READ_BLOCK = MiB
# Part sizes commonly used by other uploaders, tried when a remote multipart
# ETag has a part count that the configured chunk size does not produce.
_COMMON_PART_SIZES = tuple(n * MiB for n in (5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512, 1024))
_MAX_PART_CANDIDATES = 8
_MAX_NAMES_IN_MESSAGE = 20

T = TypeVar("T")


@dataclass
class SyncReport:
    """What a sync did; lists hold object keys, ``failed`` maps key to reason."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes_uploaded: int = 0
    bytes_skipped: int = 0
    deleted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class SyncError(UploadError):
    """A sync that left files failed; ``report`` says what happened to every file."""

    def __init__(self, message: str, report: SyncReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class _Remote:
    size: int
    etag: str  # lower case, without quotes


# --------------------------------------------------------------------------- client


def make_client(config: S3Config) -> Any:
    """A boto3 S3 client for ``config``; credentials come from boto3's usual chain.

    Retries are disabled (one attempt per request) because the sync retries
    whole files.  Checksums are only sent when an operation requires them:
    several S3-compatible stores reject the newer default trailing checksums,
    and the sync sends ``Content-MD5`` itself.  Custom endpoints use path-style
    addressing, which S3-compatible stores (Ceph, MinIO) support everywhere.
    """
    region = config.region or "us-east-1"
    boto_config = BotoConfig(
        region_name=region,
        signature_version="s3v4",
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        # botocore's "max_attempts" key counts *retries*; "total_max_attempts"
        # counts every attempt, so 1 really means "no retry".
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max(10, config.concurrency),
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"} if config.endpoint_url else None,
    )
    kwargs: dict[str, Any] = {"region_name": region, "config": boto_config}
    if config.endpoint_url:
        kwargs["endpoint_url"] = config.endpoint_url
    return boto3.session.Session().client("s3", **kwargs)


# --------------------------------------------------------------------------- ETags


class _PartHasher:
    """MD5 digests of consecutive ``part_size`` slices of a stream."""

    def __init__(self, part_size: int) -> None:
        if part_size <= 0:
            raise ValueError(f"part size must be positive, got {part_size}")
        self.part_size = part_size
        self.digests: list[bytes] = []
        self._current = hashlib.md5()
        self._filled = 0

    def update(self, data: memoryview) -> None:
        while data:
            piece = data[: self.part_size - self._filled]
            self._current.update(piece)
            self._filled += len(piece)
            data = data[len(piece):]
            if self._filled == self.part_size:
                self.digests.append(self._current.digest())
                self._current = hashlib.md5()
                self._filled = 0

    def etag(self) -> str:
        digests = self.digests + ([self._current.digest()] if self._filled else [])
        return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def _digest_file(path: str, part_sizes: Iterable[int]) -> tuple[str, dict[int, str]]:
    """One read of ``path``: its MD5 hex and its multipart ETag for each part size."""
    whole = hashlib.md5()
    hashers = {size: _PartHasher(size) for size in part_sizes}
    buffer = bytearray(_READ_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb") as handle:
        while count := handle.readinto(buffer):
            block = view[:count]
            whole.update(block)
            for hasher in hashers.values():
                hasher.update(block)
    return whole.hexdigest(), {size: hasher.etag() for size, hasher in hashers.items()}


def part_size_for(size: int, chunksize: int) -> int:
    """The part size used for a ``size``-byte upload: ``chunksize``, doubled until
    the upload fits in S3's 10,000 parts."""
    part = chunksize
    while math.ceil(size / part) > MAX_PARTS:
        part *= 2
    return part


def _is_multipart(size: int, threshold: int) -> bool:
    return size > 0 and size >= threshold


def local_etag(path: str, chunksize: int, threshold: int) -> str:
    """The ETag S3 gives ``path`` when this module uploads it.

    Below ``threshold`` (and for empty files) that is the MD5 hex digest;
    otherwise ``md5(concatenated part digests)-N`` for parts of ``chunksize``.
    """
    size = os.path.getsize(path)
    if not _is_multipart(size, threshold):
        return _digest_file(path, ())[0]
    part = part_size_for(size, chunksize)
    return _digest_file(path, (part,))[1][part]


def _candidate_part_sizes(size: int, parts: int, preferred: int) -> list[int]:
    """Part sizes (most likely first) that split ``size`` bytes into ``parts`` parts."""
    guesses = [
        part_size_for(size, preferred),
        *_COMMON_PART_SIZES,
        math.ceil(size / parts),  # an even split
        math.ceil(size / parts / MiB) * MiB,  # an even split rounded up to MiB
    ]
    found: list[int] = []
    for part in guesses:
        if part > 0 and math.ceil(size / part) == parts and part not in found:
            found.append(part)
    return found[:_MAX_PART_CANDIDATES]


def _matches_remote(path: str, size: int, remote: _Remote, preferred_chunk: int) -> bool:
    """Whether the local file has the remote object's size and content."""
    if remote.size != size:
        return False
    body, dash, count = remote.etag.rpartition("-")
    if not dash:
        return _digest_file(path, ())[0] == remote.etag
    if not count.isdigit() or int(count) < 1 or not body:
        return False
    candidates = _candidate_part_sizes(size, int(count), preferred_chunk)
    if not candidates:
        return False
    return remote.etag in _digest_file(path, candidates)[1].values()


# --------------------------------------------------------------------------- retries


def backoff_delay(base: float, attempt: int) -> float:
    """``base * 2**attempt`` capped at :data:`MAX_BACKOFF_SECONDS`, plus up to 10% jitter."""
    delay = min(base * 2**attempt, MAX_BACKOFF_SECONDS)
    return delay + random.uniform(0, delay / 10)


def _reason(exc: BaseException) -> str:
    """A one-line description of an error (never includes credentials)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"{error.get('Code', 'Unknown')} (HTTP {status}): {error.get('Message', '')}".rstrip(": ")
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _with_retries(what: str, action: Callable[[], T], attempts: int, backoff: float) -> T:
    """Run ``action`` up to ``attempts`` times, sleeping with backoff between tries."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            if attempt + 1 >= attempts:
                raise
            delay = backoff_delay(backoff, attempt)
            log.warning("%s failed (attempt %d of %d): %s; retrying in %.2f s",
                        what, attempt + 1, attempts, _reason(exc), delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # attempts >= 1


# --------------------------------------------------------------------------- uploads


class _Tally:
    """Bytes sent so far, shared by the upload threads (for progress lines)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0

    def add(self, count: int) -> None:
        with self._lock:
            self.sent += count


def _b64_md5(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _put_single(client: Any, bucket: str, key: str, path: str, tally: _Tally) -> None:
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "md5").digest()
        size = handle.tell()
        handle.seek(0)
        client.put_object(Bucket=bucket, Key=key, Body=handle, ContentMD5=_b64_md5(digest))
    tally.add(size)


def _put_multipart(client: Any, bucket: str, key: str, path: str, part_size: int,
                   tally: _Tally) -> None:
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        parts: list[dict[str, Any]] = []
        with open(path, "rb") as handle:
            while data := handle.read(part_size):
                number = len(parts) + 1
                response = client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                    Body=data, ContentMD5=_b64_md5(hashlib.md5(data).digest()),
                )
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
                tally.add(len(data))
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        _abort(client, bucket, key, upload_id)
        raise


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort a multipart upload so that no orphan parts remain (best effort)."""
    try:
        _with_retries(f"aborting the multipart upload of {key}",
                      lambda: client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id),
                      attempts=3, backoff=0.2)
    except Exception as exc:  # noqa: BLE001
        log.error("could not abort multipart upload %s of s3://%s/%s (%s); its parts remain "
                  "until aborted or removed by a lifecycle rule", upload_id, bucket, key, _reason(exc))


def _sync_file(client: Any, config: S3Config, path: str, key: str,
               remote: _Remote | None, tally: _Tally) -> tuple[bool, int]:
    """Upload one file unless unchanged; returns (uploaded, size)."""
    size = os.path.getsize(path)
    if remote is not None and _matches_remote(path, size, remote, config.multipart_chunksize):
        return False, size
    if _is_multipart(size, config.multipart_threshold):
        _put_multipart(client, config.bucket, key, path,
                       part_size_for(size, config.multipart_chunksize), tally)
    else:
        _put_single(client, config.bucket, key, path, tally)
    return True, size


# --------------------------------------------------------------------------- sync


def _local_files(local_dir: str) -> dict[str, str]:
    """File name -> path of the regular, non-hidden files directly in ``local_dir``."""
    with os.scandir(local_dir) as entries:
        return {
            entry.name: entry.path
            for entry in sorted(entries, key=lambda e: e.name)
            if not entry.name.startswith(".") and entry.is_file()
        }


def _list_remote(client: Any, bucket: str, prefix: str) -> dict[str, _Remote]:
    """Objects at the prefix's own level (``/`` delimited), keyed by object key."""
    found: dict[str, _Remote] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for item in page.get("Contents", ()):
            found[item["Key"]] = _Remote(size=int(item["Size"]), etag=item["ETag"].strip('"').lower())
    return found


def _names(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:_MAX_NAMES_IN_MESSAGE])
    extra = len(keys) - _MAX_NAMES_IN_MESSAGE
    return shown + (f" and {extra} more" if extra > 0 else "")


def _log_summary(where: str, report: SyncReport, started: float) -> None:
    log.info("S3 sync to %s: %d uploaded (%s bytes), %d skipped as unchanged (%s bytes), "
             "%d failed, %d stale objects deleted, in %.1f s", where, len(report.uploaded),
             f"{report.bytes_uploaded:,}", len(report.skipped), f"{report.bytes_skipped:,}",
             len(report.failed), len(report.deleted), time.monotonic() - started)


def sync_directory(local_dir: str, config: S3Config, *, delete_removed: bool = False,
                   client: Any = None) -> SyncReport:
    """Sync the files directly in ``local_dir`` to ``s3://<bucket>/<prefix><name>``.

    With ``delete_removed``, objects at the prefix's level whose name the
    directory no longer has (hidden names aside) are deleted — but only when
    every upload succeeded.  Raises :class:`SyncError` (an :class:`UploadError`
    carrying the report) after logging the summary if any file failed.
    """
    if not config.bucket:
        raise UploadError("no S3 bucket is configured ([s3] bucket)")
    if not os.path.isdir(local_dir):
        raise UploadError(f"cannot sync {local_dir}: not a directory")
    started = time.monotonic()
    where = f"s3://{config.bucket}/{config.prefix}"
    client = client if client is not None else make_client(config)
    files = {config.prefix + name: path for name, path in _local_files(local_dir).items()}
    report = SyncReport()
    attempts, backoff = config.max_attempts, config.backoff_seconds

    try:
        remote = _with_retries(f"listing {where}",
                               lambda: _list_remote(client, config.bucket, config.prefix),
                               attempts, backoff)
    except Exception as exc:  # noqa: BLE001
        reason = f"listing {where} failed: {_reason(exc)}"
        report.failed = {key: reason for key in files}
        _log_summary(where, report, started)
        raise SyncError(f"S3 sync to {where} failed: {reason}", report) from exc

    log.info("S3 sync of %s to %s: %d local files, %d remote objects",
             local_dir, where, len(files), len(remote))
    tally = _Tally()
    _run_uploads(client, config, files, remote, report, tally, where)

    stale = sorted(key for key in remote
                   if key not in files and not key[len(config.prefix):].startswith("."))
    if stale and delete_removed:
        if report.failed:
            log.warning("not deleting %d stale objects under %s because uploads failed",
                        len(stale), where)
        else:
            _delete_stale(client, config, stale, report)
    elif stale:
        log.info("%d objects under %s have no local file and are left alone: %s",
                 len(stale), where, _names(stale))

    report.uploaded.sort()
    report.skipped.sort()
    report.deleted.sort()
    report.failed = dict(sorted(report.failed.items()))
    _log_summary(where, report, started)
    if report.failed:
        raise SyncError(f"S3 sync to {where}: {len(report.failed)} files failed: "
                        f"{_names(report.failed)}", report)
    return report


def _run_uploads(client: Any, config: S3Config, files: dict[str, str],
                 remote: dict[str, _Remote], report: SyncReport, tally: _Tally,
                 where: str) -> None:
    """Sync every file with ``config.concurrency`` threads, logging progress."""

    def attempt(key: str, path: str) -> tuple[bool, int]:
        return _with_retries(f"uploading {path} to {key}",
                             lambda: _sync_file(client, config, path, key, remote.get(key), tally),
                             config.max_attempts, config.backoff_seconds)

    last_progress = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, config.concurrency),
                            thread_name_prefix="s3-sync") as pool:
        pending: dict[Future[tuple[bool, int]], str] = {
            pool.submit(attempt, key, path): key for key, path in files.items()
        }
        while pending:
            done, _ = wait(pending, timeout=PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
            for future in done:
                key = pending.pop(future)
                try:
                    uploaded, size = future.result()
                except Exception as exc:  # noqa: BLE001
                    report.failed[key] = _reason(exc)
                    log.error("giving up on %s after %d attempts: %s",
                              key, config.max_attempts, report.failed[key])
                    continue
                if uploaded:
                    report.uploaded.append(key)
                    report.bytes_uploaded += size
                    log.info("uploaded %s (%s bytes)", key, f"{size:,}")
                else:
                    report.skipped.append(key)
                    report.bytes_skipped += size
                    log.debug("skipped %s: unchanged", key)
            now = time.monotonic()
            if pending and now - last_progress >= PROGRESS_INTERVAL:
                last_progress = now
                log.info("S3 sync to %s: %d of %d files done, %s bytes sent so far",
                         where, len(files) - len(pending), len(files), f"{tally.sent:,}")


def _delete_stale(client: Any, config: S3Config, stale: list[str], report: SyncReport) -> None:
    """Delete objects no longer produced; failures go into ``report.failed``."""
    for key in stale:
        try:
            _with_retries(f"deleting {key}",
                          lambda: client.delete_object(Bucket=config.bucket, Key=key),
                          config.max_attempts, config.backoff_seconds)
        except Exception as exc:  # noqa: BLE001
            report.failed[key] = f"delete failed: {_reason(exc)}"
            log.error("could not delete stale object %s: %s", key, _reason(exc))
        else:
            report.deleted.append(key)
            log.info("deleted stale object s3://%s/%s", config.bucket, key)
