"""A run lock: one nightly job at a time per report directory."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from typing import Iterator

from utils.common.errors import LurgeError

LOCK_NAME = ".lurge.lock"


class AlreadyRunning(LurgeError):
    """Another run holds the lock."""


class UnsafeLockFile(LurgeError):
    """Something other than a plain file of lurge's own sits at the lock's name."""


@contextlib.contextmanager
def run_lock(directory: str, name: str = LOCK_NAME) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<directory>/<name>`` for the block.

    A second holder fails at once with :class:`AlreadyRunning` naming the pid
    written by the first.  The kernel releases the lock when its holder dies,
    even by SIGKILL, so a crashed run never blocks the next one.  The lock file
    is opened without following a symbolic link, and a link, a non-regular file
    or a file with other hard links at its name is refused
    (:class:`UnsafeLockFile`): writing the pid never touches another file.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fd = _open_lock_file(path)
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


def _open_lock_file(path: str) -> int:
    """Open (or create) the lock file itself, never what a planted link points to."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeLockFile(f"{path} is a symbolic link; lurge does not follow a link at its "
                                 "lock file's name: remove it and run again") from None
        if exc.errno == errno.EISDIR:
            raise UnsafeLockFile(f"{path} is a directory, not a lock file: remove it and run "
                                 "again") from None
        raise
    info = os.fstat(fd)
    problem = ("is not a regular file" if not stat.S_ISREG(info.st_mode)
               else "has other hard links" if info.st_nlink > 1 else None)
    if problem:
        os.close(fd)
        raise UnsafeLockFile(f"{path} {problem}; lurge writes its pid there: remove it and run again")
    return fd
