"""Group quotas from ``lfs quota`` (docs/outputs.md describes the quota columns).

``<lfs> quota -q -g GROUP MOUNT`` prints one record: the filesystem, then
used KiB, soft KiB, hard KiB, block grace, files, file soft, file hard and
file grace.  When the filesystem name is longer than 15 characters lfs puts
the numbers on the next line.  A value may carry a trailing ``*`` (over
quota).  Any failure gives :data:`NO_QUOTA` for that group; it is never fatal.
lfs runs without the suite's secrets in its environment.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

from utils.common.secrets import child_environment

log = logging.getLogger(__name__)

KIB = 1024
# Seconds to wait for a killed lfs to be reaped before abandoning it (a process
# stuck in uninterruptible I/O on a hung mount may never die).
REAP_GRACE = 1.0
# Failed groups named in the one summary warning per query_quotas call.
MAX_EXAMPLES = 5

# What lfs's exit statuses mean: lfs exits with the errno of the failure, or 4
# (its parser's "show help") for bad usage and unknown group names.
_EXIT_MEANINGS = {
    1: "EPERM, permission denied",
    2: "ENOENT, no such file or directory",
    3: "ESRCH, quotas not enabled",
    4: "usage error or unknown group",
    5: "EIO, quota data inaccurate",
}

_NUMBER = re.compile(r"(\d+)\*?")
_GRACE = re.compile(r"-|none|(?:\d+[wdhms])+|\[(?:\d+[wdhms])+\]")
# Newer lfs may add this notice after the record; the numbers are still valid.
_DEFAULT_NOTICE = re.compile(r"[ugp]id \d+ is using default (?:block|file) quota setting")
# Positions (after the filesystem) of numeric and grace fields in a record.
_NUMERIC_FIELDS = (0, 1, 2, 4, 5, 6)
_GRACE_FIELDS = (3, 7)
_RECORD_FIELDS = 8


@dataclass(frozen=True)
class Quota:
    """A group's usage and hard limit in bytes, and its file count and file hard limit;
    ``None`` when unknown or unlimited (a limit of 0 means no limit)."""

    used: int | None
    limit: int | None
    files: int | None
    file_limit: int | None


NO_QUOTA = Quota(None, None, None, None)


class QuotaParseError(ValueError):
    """``lfs quota`` output is not one well-formed record."""


class QuotaFailure(Exception):
    """``lfs quota`` could not give a quota for a group; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_lfs_quota(output: str) -> Quota:
    """Parse the stdout of ``lfs quota -q -g GROUP MOUNT``."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise QuotaParseError("empty output")
    first = lines[0].split()
    if len(first) == 1 + _RECORD_FIELDS:
        fields, rest = first[1:], lines[1:]
    elif len(first) == 1 and len(lines) > 1:
        fields, rest = lines[1].split(), lines[2:]
    else:
        fields, rest = first[1:], lines[1:]
    if len(fields) != _RECORD_FIELDS:
        raise QuotaParseError(
            f"expected {_RECORD_FIELDS} values after the filesystem, got {len(fields)}: {_clip(output)}"
        )
    for line in rest:
        if not _DEFAULT_NOTICE.fullmatch(line.strip()):
            raise QuotaParseError(f"unexpected line after the quota record: {_clip(line)}")
    numbers: dict[int, int] = {}
    for index in _NUMERIC_FIELDS:
        token = fields[index]
        match = _NUMBER.fullmatch(token)
        if match is None:
            if token.startswith("["):
                raise QuotaParseError(f"value {token!r} is marked inaccurate by lfs")
            raise QuotaParseError(f"value {token!r} is not a number: {_clip(output)}")
        numbers[index] = int(match.group(1))
    for index in _GRACE_FIELDS:
        if not _GRACE.fullmatch(fields[index]):
            raise QuotaParseError(f"grace {fields[index]!r} is not a grace time: {_clip(output)}")
    hard, file_hard = numbers[2], numbers[6]
    return Quota(used=numbers[0] * KIB, limit=hard * KIB if hard else None,
                 files=numbers[4], file_limit=file_hard or None)


def query_quota(lfs: str, group: str, mount: str, timeout: float) -> Quota:
    """Run ``<lfs> quota -q -g GROUP MOUNT``; raise :class:`QuotaFailure` on any failure."""
    argv = _lfs_argv(lfs) + ["quota", "-q", "-g", group, mount]
    status, stdout, stderr = _run(argv, timeout)
    if status != 0:
        raise QuotaFailure(_describe_status(status, stderr))
    try:
        return parse_lfs_quota(stdout.decode("utf-8", "replace"))
    except QuotaParseError as exc:
        raise QuotaFailure(f"unparseable output: {exc}") from None


def query_quotas(lfs: str, groups: Sequence[str], mount: str, timeout: float,
                 concurrency: int) -> dict[str, Quota]:
    """Quotas of ``groups`` on ``mount``, ``concurrency`` calls at a time.

    Never raises for a group: a failing group gets :data:`NO_QUOTA`, each
    failure is logged at DEBUG and one warning summarises them all.  An empty
    ``lfs`` disables quotas (every group :data:`NO_QUOTA`, nothing is run).
    """
    unique = list(dict.fromkeys(groups))
    results = {group: NO_QUOTA for group in unique}
    if not lfs.strip():
        log.debug("quotas disabled (empty lfs command): %d groups on %s get no quota",
                  len(unique), mount)
        return results
    if not unique:
        return results

    def attempt(group: str) -> tuple[Quota, str | None]:
        try:
            return query_quota(lfs, group, mount, timeout), None
        except QuotaFailure as exc:
            reason = exc.reason
        except Exception as exc:  # never let one group break the run
            log.debug("lfs quota for group %s on %s raised", group, mount, exc_info=True)
            reason = f"unexpected error: {exc!r}"
        log.debug("lfs quota for group %s on %s failed: %s", group, mount, reason)
        return NO_QUOTA, reason

    workers = max(1, min(concurrency, len(unique)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lfs-quota") as pool:
        outcomes = list(pool.map(attempt, unique))
    failures: list[tuple[str, str]] = []
    for group, (quota, reason) in zip(unique, outcomes):
        results[group] = quota
        if reason is not None:
            failures.append((group, reason))
    if failures:
        log.warning("%s", _summary(failures, len(unique), mount))
    return results


def _lfs_argv(lfs: str) -> list[str]:
    """The lfs command string split into words (it may carry arguments)."""
    try:
        words = shlex.split(lfs)
    except ValueError as exc:
        raise QuotaFailure(f"invalid lfs command {lfs!r}: {exc}") from None
    if not words:
        raise QuotaFailure("quotas are disabled (empty lfs command)")
    return words


def _run(argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``argv`` without a shell or the suite's secrets; kill its whole process group on timeout."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=child_environment())
    except FileNotFoundError:
        raise QuotaFailure(f"command not found: {argv[0]}") from None
    except PermissionError:
        raise QuotaFailure(f"command not executable: {argv[0]}") from None
    except OSError as exc:
        raise QuotaFailure(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise QuotaFailure(f"timed out after {timeout:g} s") from None
    except BaseException:
        _kill(proc)
        raise
    return proc.returncode, stdout, stderr


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its group, then reap it (bounded wait)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.communicate(timeout=REAP_GRACE)
    except subprocess.TimeoutExpired:
        log.debug("lfs process %d did not exit after SIGKILL; abandoning it", proc.pid)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _describe_status(status: int, stderr: bytes) -> str:
    """A short reason for a non-zero exit: status, its meaning, lfs's message."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = str(-status)
        text = f"killed by signal {name}"
    else:
        meaning = _EXIT_MEANINGS.get(status)
        text = f"exit status {status}" + (f" ({meaning})" if meaning else "")
    message = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    if message:
        text += f": {_clip(message[-1])}"
    return text


def _summary(failures: list[tuple[str, str]], total: int, mount: str) -> str:
    """One line: how many groups failed, with a few examples and reasons."""
    examples = "; ".join(f"[{group}] {reason}" for group, reason in failures[:MAX_EXAMPLES])
    more = len(failures) - MAX_EXAMPLES
    if more > 0:
        examples += f"; and {more} more"
    return (f"lfs quota failed for {len(failures)} of {total} groups on {mount} "
            f"(their quota is left empty): {examples}")


def _clip(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
