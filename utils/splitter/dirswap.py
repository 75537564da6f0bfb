"""Replace a whole directory at once: build the new one beside it, then swap.

The new content is built in ``<target>.new-<pid>``, which is private while it
is built (mode 0700; files made with :func:`private_opener` are 0600, whatever
the umask).  On success its modes are set for publishing — directories
``0o755 & ~umask``, files ``0o644 & ~umask``: the admin's umask applies, but
nothing is ever group- or world-writable — and it is swapped in with Linux
``renameat2(RENAME_EXCHANGE)``: one atomic step, so readers see either the
old set or the new one.  The old set, now under the build name, is deleted.
Where the exchange is not available (old kernel or C library, or a file
system that refuses it) the old directory is renamed to
``<target>.old-<pid>``, the new one renamed in, and the old one deleted.  On
failure the build directory is removed and the target is left untouched.
Leftovers of a crashed run are removed before a new build starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import shutil
from typing import Iterator

from utils.common.atomic import current_umask

log = logging.getLogger(__name__)

NEW_MARK = ".new-"
OLD_MARK = ".old-"
BUILD_DIR_MODE = 0o700
BUILD_FILE_MODE = 0o600
PUBLISHED_DIR_MODE = 0o755  # less the umask
PUBLISHED_FILE_MODE = 0o644  # less the umask
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
    """Build and old directories of ``target`` left by earlier runs (``<name>.new-<pid>``, ``.old-``)."""
    parent, base = os.path.split(target)
    pattern = re.compile(re.escape(base) + f"({re.escape(NEW_MARK)}|{re.escape(OLD_MARK)})[0-9]+")
    found = []
    with contextlib.suppress(FileNotFoundError):
        with os.scandir(parent or ".") as entries:
            for entry in entries:
                if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                    found.append(entry.path)
    return sorted(found)


def remove_leftovers(target: str) -> list[str]:
    """Delete :func:`leftovers` (call under the run lock); returns what was removed."""
    removed = leftovers(target)
    for path in removed:
        log.warning("removing %s, left by an earlier run that did not finish", path)
        shutil.rmtree(path)
    return removed


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates files 0600 (for files of a build directory)."""
    return os.open(path, flags, BUILD_FILE_MODE)


def create_private(path: str) -> None:
    """Create ``path`` empty with mode 0600; whoever writes it later keeps that mode."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, BUILD_FILE_MODE))


def set_published_modes(root: str, umask: int) -> None:
    """Directories under ``root`` (itself included) ``0o755 & ~umask``, files ``0o644 & ~umask``."""
    os.chmod(root, PUBLISHED_DIR_MODE & ~umask)
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                set_published_modes(entry.path, umask)
            elif entry.is_file(follow_symlinks=False):
                os.chmod(entry.path, PUBLISHED_FILE_MODE & ~umask)


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
    """Yield an empty, private build directory that replaces ``target`` if the block succeeds.

    Removes leftovers of crashed runs first; the caller holds the run lock.
    Before the swap the build gets its published modes (see the module's
    docstring).  On any failure the build directory is removed and ``target``
    is untouched.
    """
    parent = os.path.dirname(target) or "."
    os.makedirs(parent, PUBLISHED_DIR_MODE, exist_ok=True)
    remove_leftovers(target)
    umask = current_umask()
    build = f"{target}{NEW_MARK}{os.getpid()}"
    os.mkdir(build, BUILD_DIR_MODE)
    try:
        os.chmod(build, BUILD_DIR_MODE)  # private whatever the umask
        yield build
        set_published_modes(build, umask)
        swap_in(build, target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
