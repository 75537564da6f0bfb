"""Replace a whole directory at once: build the new one beside it, then swap.

The new content is built in ``<target>.new-<pid>``.  On success it is
swapped in with Linux ``renameat2(RENAME_EXCHANGE)`` — one atomic step, so
readers see either the old set or the new one — and the old set, now under
the build name, is deleted.  Where the exchange is not available (old
kernel or C library, or a file system that refuses it) the old directory is
renamed to ``<target>.old-<pid>``, the new one renamed in, and the old one
deleted.  On failure the build directory is removed and the target is left
untouched.  Leftovers of a crashed run are removed before a new build starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import stat
from typing import Iterator

log = logging.getLogger(__name__)

NEW_MARK = ".new-"
OLD_MARK = ".old-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errno values that mean "no exchange here", not "the rename failed"
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}


def _load_renameat2() -> ctypes._CFuncPtr | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    function = getattr(libc, "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                             ctypes.c_uint]
        function.restype = ctypes.c_int
    return function


_renameat2 = _load_renameat2()


def exchange_paths(first: str, second: str) -> bool:
    """Atomically swap two existing paths; False when the system cannot do it."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                  _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, f"cannot exchange {first} and {second}: {os.strerror(code)}")


def leftovers(target: str) -> list[str]:
    """Build and old directories of ``target`` left by earlier runs."""
    parent, base = os.path.split(target)
    marks = (base + NEW_MARK, base + OLD_MARK)
    found = []
    with contextlib.suppress(FileNotFoundError):
        with os.scandir(parent or ".") as entries:
            for entry in entries:
                if entry.name.startswith(marks) and entry.is_dir(follow_symlinks=False):
                    found.append(entry.path)
    return sorted(found)


def remove_leftovers(target: str) -> list[str]:
    """Delete :func:`leftovers` (call under the run lock); returns what was removed."""
    removed = leftovers(target)
    for path in removed:
        log.warning("removing %s, left by an earlier run that did not finish", path)
        shutil.rmtree(path)
    return removed


def fsync_directory(path: str) -> None:
    """Make a directory's entries durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def swap_in(build: str, target: str) -> None:
    """Put directory ``build`` at ``target``; the previous ``target`` is deleted."""
    parent = os.path.dirname(target) or "."
    fsync_directory(build)
    if not os.path.lexists(target):
        os.rename(build, target)
        fsync_directory(parent)
        return
    if exchange_paths(build, target):
        retired = build  # the old set now sits under the build name
    else:
        retired = f"{target}{OLD_MARK}{os.getpid()}"
        os.rename(target, retired)
        try:
            os.rename(build, target)
        except BaseException:
            os.rename(retired, target)  # put the previous set back
            raise
    fsync_directory(parent)
    try:
        shutil.rmtree(retired)
    except OSError as exc:
        log.warning("could not delete the previous set %s (%s); the next run removes it",
                    retired, exc)


@contextlib.contextmanager
def replacing_directory(target: str) -> Iterator[str]:
    """Yield an empty build directory that replaces ``target`` if the block succeeds.

    Removes leftovers of crashed runs first; the caller holds the run lock.
    On any failure the build directory is removed and ``target`` is untouched.
    """
    parent = os.path.dirname(target) or "."
    os.makedirs(parent, exist_ok=True)
    remove_leftovers(target)
    build = f"{target}{NEW_MARK}{os.getpid()}"
    os.mkdir(build, 0o755)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(build, stat.S_IMODE(os.stat(target).st_mode))  # keep the set's permissions
        yield build
        swap_in(build, target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
