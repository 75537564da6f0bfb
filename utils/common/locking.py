"""A run lock: one nightly job at a time per report directory."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from typing import Iterator

from utils.common.errors import LurgeError

LOCK_NAME = ".lurge.lock"


class AlreadyRunning(LurgeError):
    """Another run holds the lock."""


@contextlib.contextmanager
def run_lock(directory: str, name: str = LOCK_NAME) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<directory>/<name>`` for the block.

    A symbolic link planted at the lock's name is refused, never followed.

    A second holder fails at once with :class:`AlreadyRunning` naming the pid
    written by the first.  The kernel releases the lock when its holder dies,
    even by SIGKILL, so a crashed run never blocks the next one.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise LurgeError(f"{path} is a symbolic link; lurge never follows a link at its lock "
                         "file: remove it") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise AlreadyRunning(
                f"another lurge run (pid {holder}) holds {path}; not starting") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
