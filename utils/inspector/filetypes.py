"""File types of file names: the first configured regex that matches wins.

Patterns are matched case-insensitively with Arrow's regex engine (RE2), once
per distinct value: the distinct names' endings when every pattern only looks
at a bounded ending (see :func:`utils.regex_width.matching_suffix`), else the
distinct names.  When that ending is at most 8 bytes, each name's ending is
packed into one 64-bit key and the type of every key seen is remembered for
the matcher's lifetime (one snapshot), so after the first chunks hardly any
regex runs at all.
"""

from __future__ import annotations

import threading
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.snapshots.byteviews import binary_views, unaligned_view
from utils.common.errors import ConfigError
from utils.inspector.regex_width import matching_suffix

NO_TYPE = -1
_KEY_BYTES = 8
_CACHE_LIMIT = 1 << 16  # endings remembered per snapshot (the lookup table is rebuilt per chunk)
_NEWLINE = ord("\n")
_LOW_BYTES = np.uint64(0x0101010101010101)
_HIGH_BITS = np.uint64(0x8080808080808080)
# 0x01 in every byte at or above position n (n = 0..8), for the NUL test.
_ONES_ABOVE = np.array([int.from_bytes(bytes(n) + b"\1" * (_KEY_BYTES - n), "little")
                        for n in range(_KEY_BYTES + 1)], dtype=np.uint64)


def check_filetype_patterns(filetypes: Mapping[str, str]) -> None:
    """Every pattern must compile for Arrow's regex engine (RE2)."""
    probe = pa.array([b"x"], type=pa.binary())
    for name, pattern in filetypes.items():
        try:
            pc.match_substring_regex(probe, pattern, ignore_case=True)
        except pa.ArrowInvalid as exc:
            raise ConfigError(f"[inspector] filetypes.{name}: pattern {pattern!r} is not "
                              f"supported (RE2 syntax): {exc}") from None


class FileTypeMatcher:
    """Index of the first pattern each name matches (NO_TYPE: none); shared by threads."""

    def __init__(self, filetypes: Mapping[str, str]) -> None:
        check_filetype_patterns(filetypes)
        self.patterns = list(filetypes.values())
        self._any = "|".join(f"(?:{pattern})" for pattern in self.patterns)
        endings = [matching_suffix(pattern) for pattern in self.patterns]
        self.suffix_length = None if None in endings else max(endings, default=1)
        self._known: tuple[pa.Array, np.ndarray] = (pa.array([], type=pa.uint64()),
                                                     np.zeros(0, dtype=np.int64))
        self._lock = threading.Lock()

    def types_of(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The type index of each name ``data[starts[i]:ends[i]]``.

        ``data`` needs the slack :func:`utils.byteviews.binary_views` asks for.
        """
        if not self.patterns:
            return np.full(len(starts), NO_TYPE, dtype=np.int64)
        if self.suffix_length is not None:
            keys = self._ending_keys(data, starts, ends)
            if keys is not None:
                return self._types_by_key(keys)
            starts = np.maximum(starts, ends - self.suffix_length)
        encoded = pc.dictionary_encode(binary_views(data, starts, ends))
        found = self._match(encoded.dictionary.cast(pa.binary()))
        return found[encoded.indices.to_numpy()]

    def _ending_keys(self, data: np.ndarray, starts: np.ndarray,
                     ends: np.ndarray) -> np.ndarray | None:
        """The names' endings as 64-bit keys, when they fit in one.

        matching_suffix adds one character for ``$`` matching before a final
        newline; names that do not end in a newline need one character less.
        """
        assert self.suffix_length is not None
        width = self.suffix_length - 1
        if width > _KEY_BYTES:
            return None
        starts = np.maximum(starts, ends - width)
        keys = _packed_endings(data, starts, ends)
        if keys is None:
            return None
        lengths = ends - starts
        last_bytes = (keys >> (np.maximum(lengths - 1, 0) * 8).astype(np.uint64)) & np.uint64(0xFF)
        if ((last_bytes == _NEWLINE) & (lengths > 0)).any():
            return None
        return keys

    def _types_by_key(self, keys: np.ndarray) -> np.ndarray:
        """Types from the remembered keys; the regexes run for new keys only."""
        known_keys, known_types = self._known  # replaced whole, never changed in place
        position = pc.index_in(pa.array(keys, type=pa.uint64()), value_set=known_keys)
        found = (known_types[position.fill_null(0).to_numpy()] if len(known_types)
                 else np.full(len(keys), NO_TYPE, dtype=np.int64))
        new = np.flatnonzero(position.is_null().to_numpy(zero_copy_only=False))
        if len(new):
            new_keys, where = np.unique(keys[new], return_inverse=True)
            endings = [key.to_bytes(_KEY_BYTES, "little").rstrip(b"\0")
                       for key in new_keys.tolist()]
            new_types = self._match(pa.array(endings, type=pa.binary()))
            found[new] = new_types[where]
            self._remember(pa.array(new_keys, type=pa.uint64()), new_types)
        return found

    def _remember(self, keys: pa.Array, types: np.ndarray) -> None:
        """Add newly matched keys, up to _CACHE_LIMIT (two threads may add the same
        key: harmless).  Past the limit, new endings are matched every time."""
        with self._lock:
            known_keys, known_types = self._known
            room = _CACHE_LIMIT - len(known_keys)
            if room > 0:
                self._known = (pa.concat_arrays([known_keys, keys[:room]]),
                               np.concatenate([known_types, types[:room]]))

    def _match(self, values: pa.Array) -> np.ndarray:
        """Type index of each (distinct) value: a combined regex first, then type by type."""
        found = np.full(len(values), NO_TYPE, dtype=np.int64)
        remaining = np.flatnonzero(pc.match_substring_regex(
            values, self._any, ignore_case=True).to_numpy(zero_copy_only=False))
        for index, pattern in enumerate(self.patterns):
            if not len(remaining):
                break
            matched = pc.match_substring_regex(values.take(remaining), pattern,
                                               ignore_case=True).to_numpy(zero_copy_only=False)
            found[remaining[matched]] = index
            remaining = remaining[~matched]
        return found


def _packed_endings(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Each value (at most 8 bytes) as a little-endian 64-bit key, or None when
    that would be ambiguous (a NUL byte, which no file name holds) or the
    buffer has no 8 bytes before a value's end."""
    lengths = ends - starts
    if not len(lengths):
        return np.zeros(0, dtype=np.uint64)
    if int(lengths.max()) > _KEY_BYTES or int((ends - _KEY_BYTES).min()) < 0:
        return None
    windows = unaligned_view(data, "<u8")[ends - _KEY_BYTES]  # the 8 bytes that end where the value ends
    unused = (_KEY_BYTES - lengths).astype(np.uint64) * np.uint64(8)
    keys = np.where(lengths > 0, windows >> np.minimum(unused, np.uint64(63)), np.uint64(0))
    # A NUL among a key's own bytes would make it ambiguous: fill the unused
    # bytes with 0x01 and look for a zero byte (the classic SWAR test).
    filled = keys | _ONES_ABOVE[lengths]
    if ((filled - _LOW_BYTES) & ~filled & _HIGH_BITS).any():
        return None
    return keys
