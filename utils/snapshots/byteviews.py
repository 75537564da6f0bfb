"""Arrow ``binary_view`` arrays over byte spans of one buffer, built without copying,
and the small byte-level helpers the passes share for Arrow binary arrays.

A view array describes each value by its length and where it lies, so values
that are pieces of a larger buffer (a path's directory, a file name's
ending) become an Arrow array without gathering their bytes.  Arrow's view
layout: 16 bytes per value; a value of at most 12 bytes is stored inline
(length, then the bytes, zero-padded); a longer one as length, its first 4
bytes, a buffer index and an offset.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INLINE_LIMIT = 12  # values up to this length are stored inside the view
VIEW_SLACK = INLINE_LIMIT  # readable bytes the buffer must have after its last value
# Byte masks keeping the first k bytes of a little-endian 32-bit word, k = 0..4.
_KEEP_BYTES = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF], dtype=np.uint32)


def binary_views(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A ``binary_view`` array whose value i is ``data[starts[i]:ends[i]]``.

    ``data`` (uint8) must hold VIEW_SLACK readable bytes after every value's
    start, i.e. ``len(data) >= starts.max() + VIEW_SLACK``; the array keeps a
    reference to it.
    """
    count = len(starts)
    if count and int(starts.max()) + VIEW_SLACK > len(data):
        raise ValueError("binary_views: the buffer lacks slack after its last value")
    sizes = (ends - starts).astype(np.int32)
    words = unaligned_view(data, "<u4")
    views = np.empty((count, 4), dtype=np.uint32)
    views[:, 0] = sizes.view(np.uint32)
    views[:, 1] = words[starts] & _KEEP_BYTES[np.clip(sizes, 0, 4)]  # inline bytes or prefix
    inline = sizes <= INLINE_LIMIT
    short = np.flatnonzero(inline)
    for word in (1, 2):  # the rest of an inline value
        kept = np.clip(sizes[short] - 4 * word, 0, 4)
        views[short, word + 1] = words[starts[short] + 4 * word] & _KEEP_BYTES[kept]
    long = np.flatnonzero(~inline)
    views[long, 2] = 0  # buffer index
    views[long, 3] = starts[long].astype(np.uint32)  # offset
    return pa.Array.from_buffers(pa.binary_view(), count,
                                 [None, pa.py_buffer(views), pa.py_buffer(data)])


def unaligned_view(buffer: bytes | bytearray | np.ndarray, dtype: str) -> np.ndarray:
    """Element i is the word of ``dtype`` (e.g. ``"<u4"``) made of bytes i, i+1, …
    of ``buffer``: a strided view, writable when the buffer is."""
    width = np.dtype(dtype).itemsize
    return np.ndarray(shape=(max(len(buffer) - width + 1, 0),), dtype=dtype, buffer=buffer,
                      strides=(1,))


def value_offsets(array: pa.Array) -> np.ndarray:
    """The int32 offsets of a binary/string array's values (a view, ``len + 1`` long)."""
    return np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1,
                         offset=array.offset * 4)


def pieces_of(array: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """The arrays a (possibly chunked) array is made of."""
    return array.chunks if isinstance(array, pa.ChunkedArray) else [array]


def starts_with_any(values: pa.Array | pa.ChunkedArray, prefixes: Iterable[str]) -> np.ndarray:
    """Row mask: the value starts with at least one of ``prefixes`` (bytewise)."""
    found = np.zeros(len(values), dtype=bool)
    for prefix in prefixes:
        found |= pc.starts_with(values, prefix).to_numpy(zero_copy_only=False)
    return found


def spans_of(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, starts, ends) of a binary array's values, ``data`` copied with VIEW_SLACK."""
    offsets = value_offsets(array).astype(np.int64)
    values = array.buffers()[2]
    text = b"" if values is None else memoryview(values)[offsets[0]:offsets[-1]]
    data = np.frombuffer(bytes(text) + bytes(VIEW_SLACK), dtype=np.uint8)
    return data, offsets[:-1] - offsets[0], offsets[1:] - offsets[0]


def equal_ignoring_case(data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        word: bytes) -> np.ndarray:
    """Whether each value ``data[starts[i]:ends[i]]`` equals ``word`` (lower-case
    ASCII letters) ignoring ASCII case; ``data`` needs VIEW_SLACK after each start."""
    same = (ends - starts) == len(word)
    rows = np.flatnonzero(same)
    for position, letter in enumerate(word):
        same[rows] &= (data[starts[rows] + position] | 0x20) == letter
    return same
