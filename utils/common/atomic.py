"""Files that appear complete or not at all: write to a temporary name, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterator

TEMP_PREFIX = ".lurge-tmp-"


@contextlib.contextmanager
def atomic_write(path: str, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only if the block succeeds.

    The temporary file sits in the same directory (so the rename is atomic),
    is flushed and fsync'ed before the rename, and is removed on any failure
    (including a full disk or a file-size limit).
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
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
