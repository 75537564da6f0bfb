"""Path fields of either encoding, decoded a chunk at a time.

A path field is Go-quoted when it begins with ``"`` (wrstat 6 and later),
otherwise padded standard base64 (mpistat, wrstat 5 and earlier); either
may decode to bytes that are not UTF-8.  One trailing ``/`` is removed from
a decoded path longer than ``/``.  docs/snapshots.md gives the exact rules.

Quoted fields are decoded without a per-line loop where they hold no
backslash: the path is the field without its quotes, so only where each
path lies is computed.  Only fields with a backslash are unquoted one by one.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.snapshots import b64paths
from utils.snapshots.b64paths import PathSpans, encoded_prefix
from utils.snapshots.byteviews import VIEW_SLACK, binary_views, pieces_of, starts_with_any, value_offsets

_QUOTE = 0x22
_BACKSLASH = 0x5C
_SLASH = 0x2F
_NEWLINE = 0x0A
_HEX = frozenset(b"0123456789abcdefABCDEF")
_OCTAL = frozenset(b"01234567")
_SIMPLE = {ord("a"): 0x07, ord("b"): 0x08, ord("f"): 0x0C, ord("n"): 0x0A, ord("r"): 0x0D,
           ord("t"): 0x09, ord("v"): 0x0B, _BACKSLASH: _BACKSLASH, _QUOTE: _QUOTE}
_MAX_CODE_POINT = 0x10FFFF
_MAX_ODD_FIELDS = 4096  # more fields with a backslash or no closing quote: count every field's quotes


def unquote(field: bytes) -> bytes | None:
    """The bytes a Go double-quoted field stands for, or None when it does not unquote."""
    if len(field) < 2 or field[0] != _QUOTE or field[-1] != _QUOTE:
        return None
    body = field[1:-1]
    if b"\\" not in body:
        return None if b'"' in body or b"\n" in body else body
    out = bytearray()
    index = 0
    end = len(body)
    while index < end:
        backslash = body.find(b"\\", index)
        run = body[index:end if backslash < 0 else backslash]  # the plain bytes up to an escape
        if b'"' in run or b"\n" in run:
            return None
        out += run
        if backslash < 0:
            break
        index = backslash
        if index + 1 == end:
            return None  # the backslash escapes the closing quote
        kind = body[index + 1]
        if kind in _SIMPLE:
            out.append(_SIMPLE[kind])
            index += 2
        elif kind == ord("x"):
            value = _digits(body, index + 2, 2, _HEX, 16)
            if value is None:
                return None
            out.append(value)
            index += 4
        elif kind in _OCTAL:
            value = _digits(body, index + 1, 3, _OCTAL, 8)
            if value is None or value > 0o377:
                return None
            out.append(value)
            index += 4
        elif kind in (ord("u"), ord("U")):
            width = 4 if kind == ord("u") else 8
            value = _digits(body, index + 2, width, _HEX, 16)
            if value is None or 0xD800 <= value <= 0xDFFF or value > _MAX_CODE_POINT:
                return None
            out += chr(value).encode("utf-8")
            index += 2 + width
        else:
            return None  # \' and every other escape
    return bytes(out)


def _digits(body: bytes, start: int, width: int, allowed: frozenset[int], base: int) -> int | None:
    digits = body[start:start + width]
    if len(digits) != width or not all(digit in allowed for digit in digits):
        return None
    return int(digits, base)


def decode_path(field: bytes) -> bytes | None:
    """One path field decoded (either encoding, trailing ``/`` dropped), or None."""
    if field[:1] == b'"':
        path = unquote(field)
    else:
        spans = b64paths.decode_path_spans(pa.array([field], type=pa.binary()))
        path = bytes(spans.data[spans.starts[0]:spans.ends[0]]) if spans.valid[0] else None
    if path is not None and len(path) > 1 and path.endswith(b"/"):
        path = path[:-1]
    return path


def decode_path_spans(fields: pa.Array | pa.ChunkedArray) -> PathSpans:
    """Decode path fields of either encoding (see :class:`PathSpans`)."""
    quoted = _quoted_rows(fields)
    if not quoted.any():  # base64 only: decoded piece by piece, never combined
        return _without_trailing_slash(b64paths.decode_path_spans(fields))
    array = _combined(fields)
    if quoted.all():
        spans = _unquote_spans(array)
    else:
        spans = _merge(len(array), [(np.flatnonzero(~quoted), b64paths.decode_path_spans(
            array.filter(pa.array(~quoted)))), (np.flatnonzero(quoted), _unquote_spans(
                array.filter(pa.array(quoted))))])
    return _without_trailing_slash(spans)


def decode_paths(fields: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Decode path fields into (binary array, validity mask); invalid ones decode to b""."""
    spans = decode_path_spans(fields)
    return spans.to_array(), spans.valid


def prefix_candidates(fields: pa.Array | pa.ChunkedArray, prefixes: Sequence[bytes]) -> np.ndarray:
    """Row mask: the field may decode to a path starting with one of ``prefixes``.

    A cheap filter on the text as written (every path that does start so is
    kept; some others may be): base64 fields by the encoding of the
    prefixes' whole 3-byte groups, quoted fields by ``"`` and the prefix, or
    by holding a backslash (an escape may spell any byte).
    """
    if not prefixes:
        return np.zeros(len(fields), dtype=bool)
    encoded = [encoded_prefix(prefix).decode("ascii") for prefix in prefixes]
    found = (np.ones(len(fields), dtype=bool) if "" in encoded
             else starts_with_any(fields, encoded))
    quoted = _quoted_rows(fields)
    if quoted.any():
        array = _combined(fields)
        try:
            written = ['"' + prefix.decode("utf-8") for prefix in prefixes]
        except UnicodeDecodeError:  # not a pattern Arrow takes: no filtering
            return np.where(quoted, True, found)
        as_quoted = starts_with_any(array, written)
        as_quoted |= pc.match_substring(array, "\\").to_numpy(zero_copy_only=False)
        found = np.where(quoted, as_quoted, found)
    return found


def _combined(fields: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(fields, pa.ChunkedArray):
        return fields.combine_chunks() if fields.num_chunks != 1 else fields.chunk(0)
    return fields


def _quoted_rows(fields: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Row mask: the field begins with ``"`` (read piece by piece: nothing is copied)."""
    masks = [np.zeros(0, dtype=bool)]
    for piece in pieces_of(fields):
        offsets = value_offsets(piece)
        data = piece.buffers()[2]
        quoted = np.zeros(len(piece), dtype=bool)
        if data is not None and len(piece):
            text = np.frombuffer(data, dtype=np.uint8)
            nonempty = np.flatnonzero(np.diff(offsets) > 0)
            quoted[nonempty] = text[offsets[nonempty]] == _QUOTE
        masks.append(quoted)
    return np.concatenate(masks)


def _unquote_spans(array: pa.Array) -> PathSpans:
    """Quoted fields: the text between the quotes where that is the path, else unquoted."""
    offsets = value_offsets(array).astype(np.int64)
    values = array.buffers()[2]
    base = offsets[0]
    raw = np.frombuffer(values, dtype=np.uint8)[base:offsets[-1]] if values is not None else \
        np.zeros(0, dtype=np.uint8)
    starts, ends = offsets[:-1] - base, offsets[1:] - base
    lengths = ends - starts
    count = len(array)
    closed = lengths >= 2
    closed[closed] = raw[ends[closed] - 1] == _QUOTE
    escaping = np.zeros(count, dtype=bool)  # the fields holding a backslash (few)
    escaping[np.searchsorted(ends, np.flatnonzero(raw == _BACKSLASH), side="right")] = True
    valid = closed & ~escaping & _only_outer_quotes(raw, starts, ends, closed & ~escaping)
    path_starts, path_ends = starts + 1, ends - 1
    escaped = np.flatnonzero(closed & escaping)
    extra: list[bytes] = []
    position = len(raw)
    for row in escaped.tolist():
        path = unquote(bytes(raw[starts[row]:ends[row]]))
        if path is None:
            continue
        valid[row] = True
        path_starts[row] = position
        path_ends[row] = position = position + len(path)
        extra.append(path)
    data = np.concatenate([raw, np.frombuffer(b"".join(extra) + bytes(VIEW_SLACK), dtype=np.uint8)])
    path_starts = np.where(valid, path_starts, 0)
    path_ends = np.where(valid, path_ends, 0)
    return PathSpans(data, path_starts, path_ends, valid)


def _only_outer_quotes(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                       plain: np.ndarray) -> np.ndarray:
    """Row mask: the field holds no quote but its first and last byte, and no newline.

    ``plain`` marks the closed fields without a backslash; each holds at least
    its two outer quotes.  When the quotes of all the fields number two per
    plain field plus those of the other fields (few, counted one by one), no
    plain field holds another, and no field needs looking at.
    """
    others = np.flatnonzero(~plain).tolist()
    expected = 2 * (len(plain) - len(others)) + sum(
        bytes(raw[starts[row]:ends[row]]).count(b'"') for row in others)
    if len(others) <= _MAX_ODD_FIELDS and int(np.count_nonzero(raw == _QUOTE)) == expected \
            and _NEWLINE not in raw:
        return np.ones(len(plain), dtype=bool)
    marks = np.flatnonzero((raw == _QUOTE) | (raw == _NEWLINE))
    mark_rows = np.searchsorted(ends, marks, side="right")
    kinds = raw[marks]
    quotes = np.bincount(mark_rows[kinds == _QUOTE], minlength=len(plain))
    newlines = np.bincount(mark_rows[kinds == _NEWLINE], minlength=len(plain))
    return (quotes == 2) & (newlines == 0)


def _merge(count: int, parts: list[tuple[np.ndarray, PathSpans]]) -> PathSpans:
    """Spans of several subsets of rows (row indexes, their spans) as one PathSpans."""
    starts = np.zeros(count, dtype=np.int64)
    ends = np.zeros(count, dtype=np.int64)
    valid = np.zeros(count, dtype=bool)
    datas, offset = [], 0
    for rows, spans in parts:
        starts[rows] = spans.starts + offset
        ends[rows] = spans.ends + offset
        valid[rows] = spans.valid
        datas.append(spans.data)
        offset += len(spans.data)
    return PathSpans(np.concatenate(datas), starts, ends, valid)


def _without_trailing_slash(spans: PathSpans) -> PathSpans:
    """One trailing ``/`` removed from every path longer than ``/``."""
    ends = spans.ends
    long = np.flatnonzero(ends - spans.starts > 1)
    slashed = long[spans.data[ends[long] - 1] == _SLASH]
    if not len(slashed):
        return spans
    ends = ends.copy()
    ends[slashed] -= 1
    return PathSpans(spans.data, spans.starts, ends, spans.valid)


__all__ = ["PathSpans", "binary_views", "decode_path", "decode_path_spans", "decode_paths",
           "pieces_of", "prefix_candidates", "unquote"]
