"""Gzip streams: the fastest available implementation, with stdlib fallbacks.

ISA-L (the ``isal`` package) decompresses about three times faster than
zlib and compresses at low levels several times faster; it is optional.
Reading can run decompression in a background thread so that the calling
thread's own work overlaps with it (the benchmarks' decompression ceiling
does); the block reader decompresses on its own thread instead, since ISA-L
lets go of the GIL while it works and the background thread's hand-over
copy would not.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from typing import BinaryIO

log = logging.getLogger(__name__)

try:  # pragma: no cover - exercised by whichever is installed
    from isal import igzip, igzip_threaded, isal_zlib

    HAVE_ISAL = True
except ImportError:  # pragma: no cover
    igzip = igzip_threaded = isal_zlib = None  # type: ignore[assignment]
    HAVE_ISAL = False

# Errors a gzip stream raises when it is truncated, corrupt or unreadable.  ISA-L's
# own error is not an OSError, and it cannot be pickled back from a pool worker, so
# readers must catch it where it is raised.
GZIP_READ_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error, ValueError)
if HAVE_ISAL:  # pragma: no branch
    GZIP_READ_ERRORS += (isal_zlib.error,)

READ_BUFFER = 4 * 1024 * 1024


def decompressor_name(threaded: bool = True) -> str:
    """Human-readable name of the implementation :func:`open_gzip_reader` uses."""
    if not HAVE_ISAL:
        return "gzip (stdlib)"
    return "isal (threaded)" if threaded else "isal"


def open_gzip_reader(path: str | BinaryIO, *, threaded: bool = True, fast: bool = True) -> BinaryIO:
    """Open a gzip file (a path, or a file opened for binary reading) for binary reading.

    ``threaded`` decompresses in a background thread (ISA-L only); ``fast=False``
    forces the standard library implementation (used by benchmarks).
    """
    if fast and HAVE_ISAL:
        if threaded:
            return igzip_threaded.open(path, "rb", threads=1, block_size=READ_BUFFER)
        return igzip.open(path, "rb")
    return gzip.open(path, "rb")  # type: ignore[return-value]


def open_gzip_writer(path: str, level: int = 1) -> BinaryIO:
    """Open a gzip file for binary writing at compression ``level`` (0-9).

    With ISA-L, levels above its maximum (3) are clamped: ISA-L level 3 is
    still faster than zlib's default and ratios are close.
    """
    if HAVE_ISAL:
        return igzip.open(path, "wb", compresslevel=min(level, isal_zlib.ISAL_BEST_COMPRESSION))
    return gzip.open(path, "wb", compresslevel=level)
