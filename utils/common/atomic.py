"""Files that appear complete or not at all: write to a temporary name, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterator

TEMP_PREFIX = ".lurge-tmp-"


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only if the block succeeds.

    The temporary file sits in the same directory (so the rename is atomic),
    is created exclusively (a link planted at its name is never followed),
    private until it is complete, flushed and fsync'ed before the rename, and
    removed on any failure (including a full disk or a file-size limit).  The
    published file gets ``mode`` less the umask, like any file the admin
    creates (umask 077: 0600).
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode & ~current_umask())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def remove_stale_temporaries(directory: str) -> list[str]:
    """Remove temporary files left in ``directory`` by a crashed run; return their names."""
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            if name.startswith(TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, name))
                removed.append(name)
    return removed
