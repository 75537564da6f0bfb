"""Large byte buffers for the block reader, without wasted passes over memory.

Reading a snapshot allocates one multi-megabyte block after another, and the
passes allocate and free large NumPy temporaries per block.  Three things make
that cheaper:

* :func:`uninitialized_bytearray` skips the zero-fill that ``bytearray(n)``
  does (a pass over memory made while holding the GIL) — the reader
  overwrites every byte it keeps;
* :func:`keep_freed_memory` asks glibc's allocator to serve large requests
  from its heap and to keep freed memory instead of returning it to the
  kernel after every block, so the same pages are reused rather than
  faulted in again;
* :func:`contains_byte` searches a block with the C library's ``memchr``
  without holding the GIL (``bytes.find`` holds it for the whole search,
  stalling the other parse threads).
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_BYTEARRAY_FROM_SIZE = ctypes.pythonapi.PyByteArray_FromStringAndSize
_BYTEARRAY_FROM_SIZE.restype = ctypes.py_object
_BYTEARRAY_FROM_SIZE.argtypes = (ctypes.c_char_p, ctypes.c_ssize_t)

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum: larger requests are still mmapped
_TRIM_THRESHOLD = 256 * 1024 * 1024
_TOP_PAD = 64 * 1024 * 1024
_tuned = False


def uninitialized_bytearray(size: int) -> bytearray:
    """A bytearray of ``size`` bytes whose content is left as allocated.

    CPython's ``PyByteArray_FromStringAndSize(NULL, size)`` does not clear
    the bytes; the caller must overwrite or cut off every byte it keeps.
    """
    return _BYTEARRAY_FROM_SIZE(None, size)


def keep_freed_memory() -> None:
    """Tune glibc's malloc for block-after-block allocation (once per process).

    Without glibc (another C library) nothing changes.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    for parameter, value in ((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
                             (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD), (_M_TOP_PAD, _TOP_PAD)):
        mallopt(parameter, value)


def _libc_memchr() -> ctypes._CFuncPtr | None:
    try:
        memchr = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").memchr
    except (OSError, AttributeError):
        return None
    memchr.restype = ctypes.c_void_p
    memchr.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
    return memchr


_MEMCHR = _libc_memchr()


def contains_byte(text: np.ndarray, byte: int) -> bool:
    """Whether the uint8 array ``text`` holds ``byte`` (``memchr`` through ctypes,
    which lets go of the GIL; NumPy compares without a C library or when ``text``
    is not contiguous)."""
    if not len(text):
        return False
    if _MEMCHR is None or not text.flags.c_contiguous:
        return bool((text == byte).any())
    return _MEMCHR(text.ctypes.data, byte, len(text)) is not None
