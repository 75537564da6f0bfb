"""Base64 path fields, decoded a chunk at a time.

The paths' base64 texts already sit concatenated in the Arrow buffer.  Each
field's padding ``=`` is replaced by ``A`` (six zero bits), which makes the
whole buffer one valid base64 text, decoded in one call (SIMD when
``pybase64`` is installed).  Every field then ends in as many NUL bytes as it
had padding; paths never contain NUL, so those are trimmed off.  A field that
is not valid base64 (wrong length, foreign characters, misplaced or
non-canonical padding) sends the chunk to a field-by-field decoder that marks
exactly those fields invalid.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PAD = ord("=")
_ZERO_DIGIT = ord("A")  # the base64 digit for six zero bits

try:  # SIMD base64, several GB/s; binascii is the fallback
    from pybase64 import b64decode as _simd_b64decode

    def _decode_whole(text: bytearray) -> bytes:
        return _simd_b64decode(memoryview(text), validate=True)
except ImportError:  # pragma: no cover
    def _decode_whole(text: bytearray) -> bytes:
        return binascii.a2b_base64(text, strict_mode=True)


def encoded_prefix(prefix: bytes) -> bytes:
    """A base64 prefix every encoding of a path starting with ``prefix`` shares.

    Only whole 3-byte groups encode independently of what follows, so the
    prefix is cut to a multiple of 3 bytes before encoding.
    """
    whole = len(prefix) - len(prefix) % 3
    return base64.b64encode(prefix[:whole])


def decode_paths(encoded: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Decode a binary array of base64 fields.

    Returns (decoded binary array, validity mask).  Invalid fields decode to
    an empty value and are False in the mask.
    """
    count = len(encoded)
    if count == 0:
        return pa.array([], type=pa.binary()), np.ones(0, dtype=bool)
    offsets = np.frombuffer(encoded.buffers()[1], dtype=np.int32, count=count + 1,
                            offset=encoded.offset * 4).astype(np.int64)
    text = bytearray(memoryview(encoded.buffers()[2])[offsets[0]:offsets[-1]])
    ends = offsets[1:] - offsets[0]
    lengths = np.diff(offsets)
    if not ((lengths % 4 == 0) & (lengths > 0)).all():
        return _decode_each(encoded)
    chars = np.frombuffer(text, dtype=np.uint8)
    last_pad = chars[ends - 1] == _PAD
    second_pad = last_pad & (chars[ends - 2] == _PAD)
    chars[ends[last_pad] - 1] = _ZERO_DIGIT
    chars[ends[second_pad] - 2] = _ZERO_DIGIT
    if b"=" in text:  # padding that is not at the end of its field
        return _decode_each(encoded)
    try:
        raw = _decode_whole(text)
    except (binascii.Error, ValueError):  # a character outside the alphabet
        return _decode_each(encoded)
    out_ends = ends // 4 * 3
    data = np.frombuffer(raw, dtype=np.uint8)
    # Non-canonical padding leaves non-zero bits where NULs should be.
    if data[out_ends[last_pad] - 1].any() or data[out_ends[second_pad] - 2].any():
        return _decode_each(encoded)
    out_offsets = np.concatenate([[0], out_ends]).astype(np.int32)
    decoded = pa.Array.from_buffers(pa.binary(), count,
                                    [None, pa.py_buffer(out_offsets), pa.py_buffer(raw)])
    if last_pad.any():
        decoded = pc.ascii_rtrim(decoded.view(pa.string()), characters="\0").view(pa.binary())
    return decoded, np.ones(count, dtype=bool)


def _decode_each(encoded: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The exact lane: decode field by field (used when a chunk has an odd field)."""
    values: list[bytes] = []
    valid = np.ones(len(encoded), dtype=bool)
    for index, field in enumerate(encoded.to_pylist()):
        try:
            values.append(binascii.a2b_base64(field, strict_mode=True))
        except binascii.Error:
            values.append(b"")
            valid[index] = False
    return pa.array(values, type=pa.binary()), valid
