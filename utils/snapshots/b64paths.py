"""Base64 path fields, decoded a chunk at a time.

The paths' base64 texts are copied into one buffer.  Each field's padding
``=`` is replaced by ``A`` (six zero bits), which makes the whole buffer one
valid base64 text, decoded in one call (SIMD when ``pybase64`` is installed).
Field i then decodes to bytes ``[starts[i], ends[i])`` of the output, followed
by as many bytes as it had padding (:class:`PathSpans` records where each path
lies, so nothing is trimmed or copied).  A field that is not valid base64
(wrong length, foreign characters, misplaced padding) sends the chunk to a
field-by-field decoder that marks exactly those fields invalid.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from utils.snapshots.buffers import uninitialized_bytearray
from utils.snapshots.byteviews import VIEW_SLACK, binary_views, pieces_of, unaligned_view, value_offsets

_PAD = ord("=")
# Whole groups of four alphabet characters, the last one possibly padded.
_PADDED_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_ZERO_DIGIT = ord("A")  # the base64 digit for six zero bits
_ZERO_PAIR = _ZERO_DIGIT | _ZERO_DIGIT << 8
# Decodes to VIEW_SLACK zero bytes after the last path, so views can be built in place.
_SLACK_TEXT = b"A" * (VIEW_SLACK // 3 * 4)

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


@dataclass(frozen=True)
class PathSpans:
    """Decoded paths: path i is ``data[starts[i]:ends[i]]``; ``valid[i]`` is False
    where the field was not valid base64 (its span is then empty).

    ``data`` ends with at least VIEW_SLACK zero bytes (see :func:`binary_views`).
    """

    data: np.ndarray  # uint8
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    valid: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.starts)

    def to_array(self) -> pa.Array:
        """The paths as an Arrow binary array."""
        return binary_views(self.data, self.starts, self.ends).cast(pa.binary())


def decode_paths(encoded: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Decode base64 fields into (binary array, validity mask); invalid ones decode to b""."""
    spans = decode_path_spans(encoded)
    return spans.to_array(), spans.valid


def decode_path_spans(encoded: pa.Array | pa.ChunkedArray) -> PathSpans:
    """Decode a binary array (or chunked array) of base64 fields, in place where possible."""
    text, ends = _joined_text(encoded, tail=_SLACK_TEXT)
    count = len(ends)
    lengths = np.diff(ends, prepend=0)
    if count and not ((lengths % 4 == 0) & (lengths > 0)).all():
        return _decode_each(encoded)
    # Each field's last two characters, as one 16-bit word (the last one high).
    pairs = unaligned_view(text, "<u2")
    endings = pairs[ends - 2]
    last_pad = (endings >> 8) == _PAD
    second_pad = last_pad & ((endings & 0xFF) == _PAD)
    padded = np.flatnonzero(last_pad)
    pairs[ends[padded] - 2] = np.where(second_pad[padded], _ZERO_PAIR,
                                       (endings[padded] & 0xFF) | (_ZERO_DIGIT << 8))
    if b"=" in text:  # padding that is not at the end of its field
        return _decode_each(encoded)
    try:
        raw = _decode_whole(text)
    except (binascii.Error, ValueError):  # a character outside the alphabet
        return _decode_each(encoded)
    data = np.frombuffer(raw, dtype=np.uint8)
    out_ends = ends // 4 * 3
    # The padding's bytes lie outside the spans, so bits that non-canonical
    # padding leaves there are ignored, as base64.b64decode ignores them.
    starts = out_ends - lengths // 4 * 3
    path_ends = out_ends - last_pad - second_pad
    return PathSpans(data, starts, path_ends, np.ones(count, dtype=bool))


def _joined_text(encoded: pa.Array | pa.ChunkedArray, tail: bytes) -> tuple[bytearray, np.ndarray]:
    """All fields' text then ``tail`` in one new buffer, and where each field ends in it.

    The bytes are copied by NumPy, which does not hold the GIL meanwhile.
    """
    texts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    total = 0
    for piece in pieces_of(encoded):
        if not len(piece):
            continue
        offsets = value_offsets(piece).astype(np.int64)
        texts.append(np.frombuffer(piece.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]])
        ends.append(offsets[1:] - offsets[0] + total)
        total += int(offsets[-1] - offsets[0])
    joined = uninitialized_bytearray(total + len(tail))
    view = np.frombuffer(joined, dtype=np.uint8)
    position = 0
    for text in texts + [np.frombuffer(tail, dtype=np.uint8)]:
        view[position:position + len(text)] = text
        position += len(text)
    return joined, (np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64))


def _decode_each(encoded: pa.Array | pa.ChunkedArray) -> PathSpans:
    """The exact lane: decode field by field (used when a chunk has an odd field)."""
    values: list[bytes] = []
    valid = np.ones(len(encoded), dtype=bool)
    for index, field in enumerate(encoded.to_pylist()):
        if _PADDED_BASE64.fullmatch(field) is None:  # binascii would take b"QQ==="
            values.append(b"")
            valid[index] = False
        else:
            values.append(binascii.a2b_base64(field, strict_mode=True))
    lengths = np.array([len(value) for value in values], dtype=np.int64)
    ends = np.cumsum(lengths)
    data = np.frombuffer(b"".join(values) + bytes(VIEW_SLACK), dtype=np.uint8)
    return PathSpans(data, ends - lengths, ends, valid)
