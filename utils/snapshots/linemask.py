"""Which lines of a piece of snapshot text Arrow's tokenizer may take (vectorised).

Arrow splits rows at ``\\n``, ``\\r\\n`` or a lone ``\\r`` and fields at every
tab; the snapshot rules split fields at runs of whitespace, except inside a
Go-quoted path field (up to the first tab).  The two agree on a *clean*
line: its whitespace is 10 or 11 tabs, none adjacent and none first or last,
plus spaces before the first tab when the line begins with ``"``, plus one
``\\r`` just before its newline.  Everything here works on the positions of
the bytes up to 0x20 (about a dozen a line), found in one NumPy pass, so a
malformed line costs only itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

MASK_PIECE = 1 << 20  # bytes classified at once: bounds the temporaries
MIN_LINE = 21  # 11 fields of one byte and 10 separators: anything shorter is malformed
_TAB, _NEWLINE, _RETURN, _SPACE, _QUOTE = 0x09, 0x0A, 0x0D, 0x20, 0x22
_BOM = b"\xef\xbb\xbf"
_WHITESPACE_BYTES = np.array([_TAB, _NEWLINE, 0x0B, 0x0C, _RETURN, _SPACE], dtype=np.uint8)


@dataclass(frozen=True)
class LineMask:
    """The lines of a piece: where each lies (end excludes the newline) and its lane.

    ``fast``: clean lines with ``fields`` fields (the more common count);
    ``exact``: lines the exact lane must judge.  Lines in neither are
    malformed by their length alone.
    """

    starts: np.ndarray
    ends: np.ndarray
    fast: np.ndarray
    exact: np.ndarray
    fields: int


def piece_bounds(block: bytes | bytearray, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive pieces of ``block`` of about ``size`` bytes, cut
    after a newline (a line longer than ``size`` makes its piece longer)."""
    start = 0
    while start < len(block):
        cut = block.find(b"\n", start + size - 1) if start + size < len(block) else -1
        end = len(block) if cut < 0 else cut + 1
        yield start, end
        start = end


def classify_lines(view: memoryview, max_line: int) -> LineMask:
    """Find each line of ``view`` and whether it is clean (see the module's docstring)."""
    text = np.frombuffer(view, dtype=np.uint8)
    low = np.flatnonzero(text <= _SPACE)
    kinds = text[low]
    is_newline = kinds == _NEWLINE
    ends = low[is_newline]
    if len(text) and text[-1] != _NEWLINE:
        ends = np.append(ends, len(text))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    count = len(ends)
    widths = ends - starts
    measurable = (widths >= MIN_LINE) & (widths <= max_line)

    line_of = np.cumsum(is_newline) - is_newline  # the line each low byte lies on
    keep = ~is_newline & np.isin(kinds, _WHITESPACE_BYTES)
    low, kinds, line_of = low[keep], kinds[keep], line_of[keep]
    is_tab = kinds == _TAB
    tabs, tab_lines = low[is_tab], line_of[is_tab]
    tab_count = np.bincount(tab_lines, minlength=count)
    bad = np.zeros(count, dtype=bool)
    # empty fields: a tab first, last (before an optional \r) or next to another
    returns_at_end = np.zeros(count, dtype=bool)
    last = ends - 1
    has_last = widths > 0
    returns_at_end[has_last] = text[last[has_last]] == _RETURN
    content_end = ends - returns_at_end
    bad[tab_lines[(tabs == starts[tab_lines]) | (tabs == content_end[tab_lines] - 1)]] = True
    adjacent = np.flatnonzero(np.diff(tabs) == 1)
    bad[tab_lines[adjacent]] = True
    # other whitespace: only spaces inside a quoted path field, and a final \r
    others, other_lines, other_kinds = low[~is_tab], line_of[~is_tab], kinds[~is_tab]
    if len(others):
        first_tab = np.full(count, -1, dtype=np.int64)
        has_tab = tab_count > 0
        first_tab[has_tab] = tabs[np.searchsorted(tab_lines, np.flatnonzero(has_tab))]
        quoted = np.zeros(count, dtype=bool)
        quoted[has_last] = text[starts[has_last]] == _QUOTE
        allowed = ((other_kinds == _SPACE) & quoted[other_lines]
                   & (others < first_tab[other_lines]))
        allowed |= (other_kinds == _RETURN) & (others == last[other_lines])
        bad[other_lines[~allowed]] = True
    # Arrow drops a UTF-8 byte order mark that starts its text: such a line goes exact
    marked = np.flatnonzero(widths >= len(_BOM))
    for position, byte in enumerate(_BOM):
        marked = marked[text[starts[marked] + position] == byte]
    bad[marked] = True
    clean = measurable & ~bad
    eleven = clean & (tab_count == 10)
    twelve = clean & (tab_count == 11)
    fields = 12 if np.count_nonzero(twelve) > np.count_nonzero(eleven) else 11
    fast = twelve if fields == 12 else eleven
    return LineMask(starts, ends, fast, measurable & ~fast, fields)


def gather_lines(view: memoryview, mask: LineMask, lines: np.ndarray) -> bytes:
    """The text of ``lines`` (ascending line indexes), each ended by a newline: runs of
    consecutive lines are copied as one slice."""
    breaks = np.flatnonzero(np.diff(lines) != 1) + 1
    firsts = np.concatenate(([0], breaks))
    lasts = np.concatenate((breaks, [len(lines)])) - 1
    pieces = [view[start:end + 1] for start, end in zip(mask.starts[lines[firsts]].tolist(),
                                                       mask.ends[lines[lasts]].tolist())]
    text = b"".join(pieces)
    if not text.endswith(b"\n"):  # the piece's last line, without its newline
        text += b"\n"
    return text
