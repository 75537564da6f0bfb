"""Sync one local folder to ``s3://<bucket>/<prefix>``: what to send, what to delete.

The project decides *what* changes (see docs/splitter.md): only the regular
files directly inside the folder are synced (no recursion); names starting
with ``.`` (the set's marker, temporary files) are ignored.  Each file becomes
the object ``<prefix><name>``, the name written with the escape of
:mod:`utils.common.names` (unchanged unless it holds a backslash or bytes that
are not UTF-8).  A file is skipped when the object has the same size and an
ETag matching the local content: the plain MD5, or the multipart form
``md5(part digests)-N`` for the part size this module uploads with (or another
common one).  With ``delete_removed``, objects at the prefix's level that the
folder no longer has are deleted, but only after every upload succeeded.

boto3 and botocore do the rest.  ``upload_file`` with a ``TransferConfig``
sends files at or above ``multipart_threshold`` in ``multipart_chunksize``
parts, ``concurrency`` parts at a time, and aborts a multipart upload whose
part fails for good.  botocore's standard retry mode tries every request (a
small file's PUT, each part, the bucket check, each page of the listing, each
delete) up to ``max_attempts`` times with exponential backoff and jitter, and
only when the failure can pass (server errors, throttling, broken connections,
timeouts; never an answer such as 403 or 404).  So a failed part is sent again
by itself, not the whole file.

Each retry is logged as one warning by :class:`_RetryLog`, which watches the
client's events and decides nothing: ``response-received`` notes why an
attempt failed, ``request-created`` counts the attempts of each request, and
an attempt after the first is a retry botocore is really making, after its own
decision (retry budget included).  The warning is written then, naming the
request, the cause, "attempt N of M" and the wait botocore took.  Logging from
a ``needs-retry`` handler instead would mean guessing botocore's answer (every
handler of that event gets the same arguments, not botocore's result), and
botocore's own retry message is a debug line that names no request.  The
attempts of a request that failed for good are remembered for the final
messages ("giving up on <key> after N attempts").

Caveat: objects whose ETag is not an MD5 (e.g. SSE-KMS on AWS) never match and
are therefore re-sent on every sync.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
import weakref
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from utils.common.config import S3Config
from utils.common.errors import UploadError
from utils.common.names import escape_name

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_PARTS = 10_000  # S3's limit on parts per multipart upload
PROGRESS_INTERVAL = 30.0  # seconds between progress lines during a sync
_READ_BLOCK = MiB
# Part sizes commonly used by other uploaders, tried when a remote multipart
# ETag has a part count that the configured chunk size does not produce.
_COMMON_PART_SIZES = tuple(n * MiB for n in (5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512, 1024))
_MAX_PART_CANDIDATES = 8
_MAX_NAMES_IN_MESSAGE = 20
# Where :class:`_RetryLog` keeps its notes in a request's botocore context.
_CONTEXT_KEY = "lurge_attempts"


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


def make_client(config: S3Config, session: boto3.session.Session | None = None) -> Any:
    """A boto3 S3 client for ``config``; credentials come from boto3's usual chain.

    botocore's standard retry mode tries each request up to ``max_attempts``
    times, and every retry is logged (:class:`_RetryLog`).  Checksums are only
    sent when an operation requires them: several S3-compatible stores reject
    the newer default trailing checksums.  Custom endpoints use path-style
    addressing, which S3-compatible stores (Ceph, MinIO) support everywhere.
    The connection pool holds every request that ``concurrency`` files of
    ``concurrency`` parts each can make.
    """
    region = config.region or "us-east-1"
    boto_config = BotoConfig(
        region_name=region,
        signature_version="s3v4",
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        # botocore's "max_attempts" key counts *retries*; "total_max_attempts"
        # counts every attempt, the first included, as [s3] max_attempts does.
        retries={"total_max_attempts": config.max_attempts, "mode": "standard"},
        max_pool_connections=max(10, config.concurrency * config.concurrency),
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"} if config.endpoint_url else None,
    )
    kwargs: dict[str, Any] = {"region_name": region, "config": boto_config}
    if config.endpoint_url:
        kwargs["endpoint_url"] = config.endpoint_url
    client = (session or boto3.session.Session()).client("s3", **kwargs)
    _RetryLog(config.max_attempts).register(client.meta.events)
    return client


@dataclass
class _Attempts:
    """One API call as :class:`_RetryLog` sees it: what it is, how its last attempt failed."""

    what: str
    sent: int = 0
    failure: str = ""
    failed_at: float = 0.0


# The error that ended a request -> how many attempts the request had.
_ATTEMPTS_OF_ERROR: weakref.WeakKeyDictionary[BaseException, int] = weakref.WeakKeyDictionary()
_ATTEMPTS_LOCK = threading.Lock()


class _RetryLog:
    """Logs one warning for each retry botocore makes on a client (see the module docstring)."""

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts

    def register(self, events: Any) -> None:
        """Watch the client's events (``client.meta.events``)."""
        events.register("before-parameter-build.s3", self.called)
        events.register("response-received.s3", self.answered)
        events.register("request-created.s3", self.sending)

    @staticmethod
    def called(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        """A new API call: note what it is for its retry lines."""
        context[_CONTEXT_KEY] = _Attempts(_describe_request(model.name, params))

    def sending(self, request: Any, **_: Any) -> None:
        """An attempt is about to go out; from the second one on, it is a retry."""
        attempts = request.context.get(_CONTEXT_KEY)
        if attempts is None:
            return
        attempts.sent += 1
        if attempts.sent > 1:
            log.warning("%s failed (attempt %d of %d): %s; retrying after %.2f s", attempts.what,
                        attempts.sent - 1, self.max_attempts, attempts.failure or "no cause given",
                        time.monotonic() - attempts.failed_at)

    @staticmethod
    def answered(context: dict[str, Any], exception: BaseException | None,
                 response_dict: Mapping[str, Any] | None,
                 parsed_response: Mapping[str, Any] | None, **_: Any) -> None:
        """An attempt ended: note why it failed, if it did."""
        attempts = context.get(_CONTEXT_KEY)
        if attempts is None:
            return
        if exception is not None:
            attempts.failure = _reason(exception)
            with _ATTEMPTS_LOCK:
                _ATTEMPTS_OF_ERROR[exception] = attempts.sent
        elif response_dict is not None and response_dict["status_code"] >= 300:
            attempts.failure = _answer_reason(parsed_response or {}, response_dict["status_code"])
        else:
            return
        attempts.failed_at = time.monotonic()


def _describe_request(operation: str, params: Mapping[str, Any]) -> str:
    """``<operation> of s3://<bucket>[/<key or prefix>][ (part N)]``."""
    target = f"s3://{params.get('Bucket', '')}"
    path = params.get("Key", params.get("Prefix"))
    if path is not None:
        target += f"/{path}"
    part = f" (part {params['PartNumber']})" if "PartNumber" in params else ""
    return f"{operation} of {target}{part}"


def transfer_config(config: S3Config) -> TransferConfig:
    """How ``upload_file`` sends one file: multipart at the threshold, in chunk-sized parts.

    An empty file always goes in one request (a threshold of 0 would start a
    multipart upload with no part).
    """
    return TransferConfig(multipart_threshold=max(1, config.multipart_threshold),
                          multipart_chunksize=config.multipart_chunksize,
                          max_concurrency=max(1, config.concurrency), use_threads=True,
                          preferred_transfer_client="classic")


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
    the upload fits in S3's 10,000 parts (as boto3's transfer manager does)."""
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


# --------------------------------------------------------------------------- errors


def _cause(exc: BaseException) -> BaseException:
    """The S3 answer behind ``exc``: boto3 wraps a failed upload's ClientError in its own error."""
    seen = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _status(exc: BaseException) -> int | None:
    """The HTTP status of the S3 answer behind ``exc``; None when there was none."""
    cause = _cause(exc)
    return cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(
        cause, ClientError) else None


def _answer_reason(response: Mapping[str, Any], status: int | None) -> str:
    """``<code> (HTTP <status>): <message>`` for an S3 error answer."""
    error = response.get("Error", {})
    return f"{error.get('Code', 'Unknown')} (HTTP {status or '?'}): {error.get('Message', '')}".rstrip(": ")


def _reason(exc: BaseException) -> str:
    """A one-line description of an error (never includes credentials)."""
    cause = _cause(exc)
    if isinstance(cause, ClientError):
        return _answer_reason(cause.response, _status(cause))
    text = str(cause) or type(cause).__name__
    url = getattr(cause, "kwargs", {}).get("endpoint_url")
    if isinstance(url, str):  # the server, not the object: one cause for every file it failed
        parts = urlsplit(url)
        text = text.replace(url, f"{parts.scheme}://{parts.netloc}")
    return f"{type(cause).__name__}: {text}"


def _attempts_made(exc: BaseException) -> int | None:
    """How many attempts the request that failed with ``exc`` had; None if none was sent."""
    cause = _cause(exc)
    if isinstance(cause, ClientError):  # botocore counts them in every answer
        retries = cause.response.get("ResponseMetadata", {}).get("RetryAttempts")
        return None if retries is None else retries + 1
    with _ATTEMPTS_LOCK:  # a connection error or timeout, noted by _RetryLog
        return _ATTEMPTS_OF_ERROR.get(cause)


def _after_attempts(exc: BaseException) -> str:
    """`` after N attempts`` when the failed request was retried, else nothing."""
    attempts = _attempts_made(exc)
    return f" after {attempts} attempts" if attempts is not None and attempts > 1 else ""


def describe_failures(failed: Mapping[str, str]) -> list[str]:
    """The causes of failed keys: the reason alone when all share it, else ``<reason> (<keys>)`` each."""
    keys_by_reason: dict[str, list[str]] = defaultdict(list)
    for key, reason in failed.items():
        keys_by_reason[reason].append(key)
    if len(keys_by_reason) == 1:
        return list(keys_by_reason)
    return [f"{reason} ({_names(keys)})" for reason, keys in keys_by_reason.items()]


# --------------------------------------------------------------------------- the bucket check


def check_bucket(config: S3Config, session: boto3.session.Session | None = None) -> None:
    """Fail at once with the cause unless boto3 has credentials and the bucket answers.

    Missing credentials are found without a request; the bucket is then asked
    for (``HeadBucket``), which botocore retries like any request (never after
    no such bucket or access denied).  Raises :class:`UploadError`.
    """
    if not config.bucket:
        raise UploadError("no S3 bucket is configured ([s3] bucket)")
    session = session or boto3.session.Session()
    credentials = session.get_credentials()
    where = f"s3://{config.bucket}" + (f" at {config.endpoint_url}" if config.endpoint_url else "")
    if credentials is None:
        raise UploadError(
            f"no S3 credentials for {where}: boto3 found none in the environment "
            "($AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, $AWS_PROFILE), the shared credentials "
            "and config files (~/.aws/credentials, ~/.aws/config) or instance metadata "
            "(see docs/splitter.md)")
    client = make_client(config, session)
    try:
        client.head_bucket(Bucket=config.bucket)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        status = _status(exc)
        after = _after_attempts(exc)
        if status == 404:
            problem = "the bucket does not exist (HTTP 404)"
        elif status == 403:
            problem = (f"access is denied (HTTP 403): the credentials boto3 found "
                       f"({credentials.method}) are not valid there or may not use the bucket")
        elif after:
            problem = f"still failing{after}: {_reason(exc)}"
        else:
            problem = _reason(exc)
        raise UploadError(f"S3 bucket {where} cannot be used: {problem}") from exc
    log.info("S3 bucket %s answers; the credentials come from %s", where, credentials.method)


# --------------------------------------------------------------------------- uploads


class _Tally:
    """Bytes sent so far, shared by the upload threads (for progress lines)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0

    def add(self, count: int) -> None:
        with self._lock:
            self.sent += count


def _sync_file(client: Any, config: S3Config, transfer: TransferConfig, path: str, key: str,
               remote: _Remote | None, tally: _Tally) -> tuple[bool, int]:
    """Upload one file unless unchanged; returns (uploaded, size)."""
    size = os.path.getsize(path)
    if remote is not None and _matches_remote(path, size, remote, config.multipart_chunksize):
        return False, size
    client.upload_file(path, config.bucket, key, Config=transfer, Callback=tally.add)
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


def object_key(prefix: str, name: str) -> str:
    """The object a local file name goes to (escaped: keys are UTF-8 text)."""
    return prefix + escape_name(name)


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
    every upload succeeded and the directory is not empty.  Raises
    :class:`SyncError` (an :class:`UploadError` carrying the report, its
    message naming the failed keys and their causes) after logging the summary
    if any file failed.  ``client`` defaults to :func:`make_client`'s, which
    logs its retries.
    """
    if not config.bucket:
        raise UploadError("no S3 bucket is configured ([s3] bucket)")
    if not os.path.isdir(local_dir):
        raise UploadError(f"cannot sync {local_dir}: not a directory")
    started = time.monotonic()
    where = f"s3://{config.bucket}/{config.prefix}"
    client = client if client is not None else make_client(config)
    files = {object_key(config.prefix, name): path for name, path in _local_files(local_dir).items()}
    report = SyncReport()

    try:
        remote = _list_remote(client, config.bucket, config.prefix)
    except Exception as exc:  # noqa: BLE001
        reason = f"listing {where} failed{_after_attempts(exc)}: {_reason(exc)}"
        report.failed = {key: reason for key in files}
        _log_summary(where, report, started)
        raise SyncError(f"S3 sync to {where} failed: {reason}", report) from exc

    log.info("S3 sync of %s to %s: %d local files, %d remote objects",
             local_dir, where, len(files), len(remote))
    _run_uploads(client, config, files, remote, report, where)

    stale = sorted(key for key in remote
                   if key not in files and not key[len(config.prefix):].startswith("."))
    if stale and delete_removed:
        if report.failed:
            log.warning("not deleting %d stale objects under %s because uploads failed",
                        len(stale), where)
        elif not files:
            log.warning("not deleting %d objects under %s: %s holds no file to sync",
                        len(stale), where, local_dir)
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
                        f"{_names(report.failed)}; cause: {'; '.join(describe_failures(report.failed))}",
                        report)
    return report


def _run_uploads(client: Any, config: S3Config, files: dict[str, str],
                 remote: dict[str, _Remote], report: SyncReport, where: str) -> None:
    """Sync every file, ``config.concurrency`` at a time, logging progress."""
    transfer = transfer_config(config)
    tally = _Tally()
    last_progress = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, config.concurrency),
                            thread_name_prefix="s3-sync") as pool:
        pending: dict[Future[tuple[bool, int]], str] = {
            pool.submit(_sync_file, client, config, transfer, path, key, remote.get(key), tally): key
            for key, path in files.items()
        }
        submitted = {future: index for index, future in enumerate(pending)}
        while pending:
            done, _ = wait(pending, timeout=PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=submitted.__getitem__):  # logged in the files' order
                key = pending.pop(future)
                try:
                    uploaded, size = future.result()
                except Exception as exc:  # noqa: BLE001
                    report.failed[key] = _reason(exc)
                    log.error("giving up on %s%s: %s", key, _after_attempts(exc), report.failed[key])
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
            client.delete_object(Bucket=config.bucket, Key=key)
        except Exception as exc:  # noqa: BLE001
            after, reason = _after_attempts(exc), _reason(exc)
            report.failed[key] = f"delete failed{after}: {reason}"
            log.error("could not delete stale object %s%s: %s", key, after, reason)
        else:
            report.deleted.append(key)
            log.info("deleted stale object s3://%s/%s", config.bucket, key)
