"""Parsing blocks of snapshot text into columns (:class:`Chunk`).

Each line-aligned block of decompressed text is parsed into a :class:`Chunk`:
the block's well-formed lines as columns (NumPy / Arrow arrays), so the
passes aggregate whole chunks at once instead of handling one Python object
per line.  The rules (docs/snapshots.md): a line is well-formed when it is at
most 1 MiB long, has 11 or 12 fields, and fields 1-6, 8, 9 (and 11) are ASCII
decimal integers below 2**63.  Fields are separated by runs of whitespace,
except that a path field beginning with ``"`` (wrstat's Go quoting) runs to
the line's first TAB.

Two lanes give identical results:

* the fast lane hands text to Arrow's CSV tokenizer (tab-separated).  That
  equals whitespace splitting for a *clean* line: its only whitespace is
  its tabs (10 or 11 of them, none adjacent, none at either end), spaces
  inside a quoted path field, and a ``\\r`` just before its newline.  Digits
  and ranges are then checked per row on Arrow's columns, and rows that fail
  are masked out;
* the exact lane splits a line in Python.  It takes only the lines that are
  not clean (and not already malformed by their length alone).

A block is first tokenized whole: the rows Arrow cannot take (another
number of fields) are skipped as it goes and, with the rows holding an empty
field, re-read by the exact lane; one count of the block's bytes up to 0x20
then proves every other row clean.  When that proof fails (odd whitespace, a
lone ``\r``), the block is classified line by line
(:mod:`utils.snapshots.linemask`) in pieces of about 1 MiB.  Either way a
malformed line costs only itself, and the temporaries stay small whatever
the block holds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from utils.snapshots.buffers import contains_byte
from utils.snapshots.byteviews import pieces_of, value_offsets
from utils.snapshots.linemask import MASK_PIECE, MIN_LINE, classify_lines, gather_lines, piece_bounds

FIELD_NAMES = ("path", "size", "uid", "gid", "atime", "mtime", "ctime", "type", "inode", "nlink",
               "dev")
WIDE_FIELD_NAMES = FIELD_NAMES + ("apparent",)  # wrstat >= 6.4: a 12th field
NUMERIC_FIELDS = ("size", "uid", "gid", "atime", "mtime", "ctime", "inode", "nlink")
# The columns a Chunk carries; the other numeric fields are only validated.
INT_COLUMNS = ("size", "uid", "gid", "mtime", "nlink")
TEXT_COLUMNS = ("path", "type")
TEXT_FIELDS = ("path", "type", "dev")
_NUMERIC_INDEXES = tuple(FIELD_NAMES.index(name) for name in NUMERIC_FIELDS)
_COLUMN_INDEXES = {name: FIELD_NAMES.index(name) for name in FIELD_NAMES}
NUMBER_LIMIT = 1 << 63  # numbers must be below this
MAX_LINE_BYTES = 1 << 20  # a longer line (without its newline) is malformed
_SAFE_DIGITS = 18  # a number of at most this many digits is below 2**63
_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on
_SPACE = 0x20
_NEWLINE = 0x0A
_CARRIAGE_RETURN = 0x0D
_QUOTE = b'"'
_BOM = b"\xef\xbb\xbf"

# ------------------------------------------------------------------- chunks

Spans = tuple[np.ndarray, np.ndarray]


@dataclass
class Chunk:
    """The well-formed lines of one block, as columns (row i = i-th such line).

    Integer columns are ``uint64`` NumPy arrays; ``path`` (the path field as
    written: base64 or Go-quoted, decoded by :mod:`utils.snapshots.pathfields`)
    and ``type`` are Arrow binary arrays.  ``block`` is the text the rows come
    from and ``spans()`` where each row's line lies in it (start, end without
    its newline), for byte-exact copying.
    """

    size: np.ndarray
    uid: np.ndarray
    gid: np.ndarray
    mtime: np.ndarray
    nlink: np.ndarray
    texts: dict[str, pa.Array | pa.ChunkedArray]  # "path", "type"; combined on first use
    block: bytes | bytearray
    _spans: Callable[[], Spans]

    def __len__(self) -> int:
        return len(self.gid)

    @property
    def path(self) -> pa.Array:
        """The path fields as written (see :mod:`utils.snapshots.pathfields` to decode)."""
        return self._text("path")

    @property
    def path_pieces(self) -> pa.Array | pa.ChunkedArray:
        """The path fields as parsed (possibly several pieces: no copy)."""
        return self.texts["path"]

    def take_paths(self, rows: np.ndarray) -> pa.Array:
        """The path fields of ``rows`` (ascending), taken piece by piece
        (combining the pieces first would copy every path)."""
        return take_rows(self.texts["path"], rows)

    @property
    def type(self) -> pa.Array:
        """The object type fields (``f``, ``d``, …)."""
        return self._text("type")

    def _text(self, name: str) -> pa.Array:
        value = self.texts[name]
        if isinstance(value, pa.ChunkedArray):  # passes that never look pay nothing
            value = self.texts[name] = value.combine_chunks()
        return value

    def spans(self) -> Spans:
        """(starts, ends) of each row's line in ``block`` (computed on demand)."""
        return self._spans()

    def lines(self) -> list[bytes]:
        """Raw bytes of each row's line, without its newline."""
        starts, ends = self.spans()
        return [bytes(self.block[start:end]) for start, end in zip(starts.tolist(), ends.tolist())]

    @staticmethod
    def concat(chunks: Sequence["Chunk"], offsets: Sequence[int], block: bytes | bytearray) -> "Chunk":
        """Rows of ``chunks`` (parsed from pieces of ``block`` at ``offsets``) as one chunk."""
        if len(chunks) == 1 and offsets[0] == 0:
            return chunks[0]

        def spans() -> Spans:
            pieces = [chunk.spans() for chunk in chunks]
            return (np.concatenate([s + offset for (s, _), offset in zip(pieces, offsets)]),
                    np.concatenate([e + offset for (_, e), offset in zip(pieces, offsets)]))

        ints = {name: np.concatenate([getattr(c, name) for c in chunks]) for name in INT_COLUMNS}
        texts = {name: pa.chunked_array([piece for c in chunks for piece in pieces_of(c.texts[name])],
                                        type=pa.binary())
                 for name in TEXT_COLUMNS}
        return Chunk(**ints, texts=texts, block=block, _spans=spans)


def take_rows(array: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``array.take(rows)`` for ascending ``rows``, without combining a chunked array."""
    if isinstance(array, pa.Array):
        return array.take(rows)
    taken = []
    bounds = np.cumsum([0] + [len(piece) for piece in array.chunks])
    cuts = np.searchsorted(rows, bounds)
    for piece, offset, first, last in zip(array.chunks, bounds, cuts, cuts[1:]):
        if last > first:
            taken.append(piece.take(rows[first:last] - offset))
    return pa.concat_arrays(taken) if taken else pa.array([], type=array.type)


@dataclass
class BlockResult:
    """A parsed block: its chunk, how many lines it had and how many were malformed."""

    chunk: Chunk
    lines: int
    malformed: int


_PARSE_OPTIONS = pa_csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False,
                                     double_quote=False, newlines_in_values=False,
                                     ignore_empty_lines=False)  # invalid rows raise


def _convert_options(names: Sequence[str]) -> pa_csv.ConvertOptions:
    # Every field is read as text: numeric fields are checked to be ASCII digits
    # (Arrow's integer parser would also take "0x1f"), then the ones a Chunk
    # carries are converted.
    return pa_csv.ConvertOptions(
        column_types={name: pa.binary() if name in TEXT_FIELDS else pa.string() for name in names},
        null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
        check_utf8=False)


_CONVERT_OPTIONS = {len(names): _convert_options(names) for names in (FIELD_NAMES, WIDE_FIELD_NAMES)}
_COLUMNS = {len(names): names for names in (FIELD_NAMES, WIDE_FIELD_NAMES)}
_ARROW_BLOCK = 4 * 1024 * 1024  # with threads, Arrow tokenizes a block in pieces of this size
_ARROW_SERIAL_BLOCK = 1024 * 1024  # without threads, this size is fastest (cache-friendly)
_FIRST_LINE_LOOK = 64 * 1024  # how far the first line is searched for its tab count
_MAX_RUNS = 256  # more runs of valid rows than this: gathered, not sliced
_MAX_ODD_LINES = 4096  # more odd lines than this in a block: the masking lane is cheaper
_MAX_HIGH_BYTES = 1 << 16  # non-ASCII bytes checked line by line before skipping rows
_STRETCH = 4096  # bytes whose largest is found at once in the search for high bytes
_COUNT_PIECE = 1 << 18  # bytes compared at once when counting: the temporary stays in the cache


class _Refused(Exception):
    """Arrow's tokenizer cannot take this text as it stands."""


def parse_block(block: bytes | bytearray, *, use_threads: bool = True) -> BlockResult:
    """Parse a line-aligned block of snapshot text (the last line may lack ``\\n``)."""
    if not block:
        return BlockResult(empty_chunk(), 0, 0)
    whole_lane = (not contains_byte(np.frombuffer(block, dtype=np.uint8), _CARRIAGE_RETURN)
                  and not block.startswith(_BOM)  # Arrow: a lone \r ends a row, a BOM is dropped
                  and not _starts_with_short_lines(block))
    if whole_lane:
        try:
            return _parse_whole(block, _likely_field_count(block), use_threads)
        except _Refused:
            pass
    return _parse_masked(block, use_threads)


def _starts_with_short_lines(block: bytes | bytearray) -> bool:
    """Whether the block's first _FIRST_LINE_LOOK bytes hold more newlines than lines of
    MIN_LINE bytes would (blank lines, say): odd lines by the thousand, which the
    masking lane judges by their length alone."""
    return block.count(b"\n", 0, _FIRST_LINE_LOOK) > _FIRST_LINE_LOOK // (MIN_LINE + 1)


def _likely_field_count(block: bytes | bytearray) -> int:
    """12 when the block's first line has 11 tabs, else 11 (lines of the other count
    only take the exact lane)."""
    end = block.find(b"\n", 0, _FIRST_LINE_LOOK)
    return 12 if block.count(b"\t", 0, end if end >= 0 else _FIRST_LINE_LOOK) == 11 else 11


def _read_table(text: bytes | bytearray | memoryview, fields: int, use_threads: bool,
                skipped: list[tuple[int | None, str]] | None = None) -> pa.Table:
    """Arrow's tokenizer on ``text``; rows with another number of fields raise, or with
    ``skipped`` are left out and (line number from 1, text) appended to it."""
    read_options = pa_csv.ReadOptions(column_names=_COLUMNS[fields], use_threads=use_threads,
                                      block_size=_ARROW_BLOCK if use_threads else _ARROW_SERIAL_BLOCK)
    parse_options = _PARSE_OPTIONS
    if skipped is not None:
        def skip(row: pa_csv.InvalidRow) -> str:
            skipped.append((row.number, row.text))
            return "skip"
        parse_options = pa_csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False,
                                            double_quote=False, newlines_in_values=False,
                                            ignore_empty_lines=False, invalid_row_handler=skip)
    try:
        return pa_csv.read_csv(pa.py_buffer(text), read_options=read_options,
                               parse_options=parse_options,
                               convert_options=_CONVERT_OPTIONS[fields])
    except pa.ArrowInvalid:  # a row with another number of fields
        raise _Refused from None


def _parse_whole(block: bytes | bytearray, fields: int, use_threads: bool) -> BlockResult:
    """The whole block through Arrow, when its rows provably split as the rules say.

    Rows Arrow cannot take (another number of tab-separated fields) are left
    out as they are tokenized, and rows with an empty field are set aside:
    both kinds, the *odd* lines, go to the exact lane, their text taken from
    Arrow (:func:`_odd_lines`).  Every other row has ``fields - 1`` tabs; one
    count of the bytes up to 0x20 then proves that those rows hold no other
    whitespace (spaces inside quoted paths aside), so Arrow's fields are the
    real ones.  Otherwise the block is refused.
    """
    skipped: list[tuple[int | None, str]] = []
    text = np.frombuffer(block, dtype=np.uint8)
    table = _read_table(block, fields, use_threads,
                        skipped if _rows_can_be_skipped(block, text, fields) else None)
    if len(skipped) > _MAX_ODD_LINES or any(number is None for number, _ in skipped):
        raise _Refused  # a mess, or unnumbered rows (threads)
    if table.num_rows > len(block) // (MIN_LINE + 1) + _MAX_ODD_LINES:
        raise _Refused  # too many lines too short to be well-formed
    lengths = _value_lengths(table)
    odd_rows = _rows_with_empty_fields(lengths)
    if len(skipped) + len(odd_rows) > _MAX_ODD_LINES:
        raise _Refused
    rows = table.num_rows
    line_count = rows + len(skipped)
    newlines = line_count - (not block.endswith(b"\n"))
    odd = (_odd_lines(block, table, lengths, skipped, odd_rows, newlines)
           if skipped or len(odd_rows) else None)
    low = _count_low_bytes(text)
    expected = (rows - len(odd_rows)) * (fields - 1) + newlines + (odd.low if odd else 0)
    if low != expected and low != expected + _spaces_in_quoted_paths(table, odd_rows):
        raise _Refused
    longest = _longest_values(lengths)
    valid = _valid_rows(table, longest)
    if len(odd_rows):
        valid = _and(valid, np.ones(rows, dtype=bool))
        valid[odd_rows] = False
    line_spans: Callable[[], Spans]
    if odd is None:  # each row is a line
        line_spans = row_spans = lambda: _spans_from_widths(_row_widths(lengths))  # noqa: E731
    else:
        line_spans = odd.line_spans
        kept_lines = odd.kept_lines
        row_spans = functools.cache(lambda: _spans_of_lines(line_spans, kept_lines()))
    if fields - 1 + sum(longest.values()) > MAX_LINE_BYTES:  # perhaps a line too long
        starts, ends = row_spans()
        valid = _and(valid, ends - starts <= MAX_LINE_BYTES)
    chunk = _chunk_from_table(table, valid, block, row_spans)
    if odd is not None:
        exact_lines, exact = _parse_exact(odd.texts, odd.numbers, block, line_spans)
        if len(exact):  # well-formed odd lines (few): merged in line order
            row_lines = odd.kept_lines() if valid is None else odd.kept_lines()[valid]
            chunk = _merge_in_line_order([(row_lines, chunk), (exact_lines, exact)], block,
                                         line_spans)
    return BlockResult(chunk, line_count, line_count - len(chunk))


def _rows_can_be_skipped(block: bytes | bytearray, text: np.ndarray, fields: int) -> bool:
    """Whether Arrow may skip the rows it cannot take without a noisy failure.

    Arrow hands a skipped row to Python as UTF-8 text, which fails (printing
    "Exception ignored") for a row that is not UTF-8.  So every line with a
    byte above 0x7F must either be UTF-8 or have ``fields - 1`` tabs (a row
    Arrow keeps); with too many such lines to check, rows are not skipped.
    """
    high = _high_bytes(text)  # found without the GIL, unlike by isascii
    if len(high) > _MAX_HIGH_BYTES:
        return False
    end = -1
    for position in high.tolist():
        if position < end:
            continue  # a line already checked
        start = block.rfind(b"\n", 0, position) + 1
        end = block.find(b"\n", position)
        end = len(block) if end < 0 else end
        line = bytes(block[start:end])
        if line.count(b"\t") != fields - 1:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


def _high_bytes(text: np.ndarray) -> np.ndarray:
    """Positions of the bytes above 0x7F, ascending.  Each stretch of _STRETCH bytes
    has its largest byte found (one reduction, without the GIL); only the stretches
    holding a high byte are looked at byte by byte."""
    whole = len(text) - len(text) % _STRETCH
    stretches = text[:whole].reshape(-1, _STRETCH)
    flagged = np.flatnonzero(stretches.max(axis=1) >= 0x80)
    rows, columns = np.nonzero(stretches[flagged] >= 0x80)
    return np.concatenate([flagged[rows] * _STRETCH + columns,
                           np.flatnonzero(text[whole:] >= 0x80) + whole])


def _count_low_bytes(text: np.ndarray) -> int:
    """How many bytes are up to 0x20, counted a cache-sized piece at a time."""
    return sum(int(np.count_nonzero(text[start:start + _COUNT_PIECE] <= _SPACE))
               for start in range(0, len(text), _COUNT_PIECE))


def _value_lengths(table: pa.Table) -> dict[str, np.ndarray]:
    """Each column's value lengths in row order (computed once per table)."""
    lengths = {}
    for name in table.column_names:
        pieces = [np.diff(value_offsets(piece)) for piece in table.column(name).chunks]
        lengths[name] = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return lengths


def _rows_with_empty_fields(lengths: dict[str, np.ndarray]) -> np.ndarray:
    """Rows with an empty field: an empty line, adjacent tabs, a tab first or last."""
    with_empty = [column for column in lengths.values() if not column.all()]
    if not with_empty:
        return np.zeros(0, dtype=np.int64)
    empty = with_empty[0] == 0
    for column in with_empty[1:]:
        empty |= column == 0
    return np.flatnonzero(empty)


def _spaces_in_quoted_paths(table: pa.Table, odd_rows: np.ndarray) -> int:
    """How many spaces lie in quoted path fields of the rows not in ``odd_rows``, or -1
    when a path field holds other bytes up to 0x20 or a base64 one holds a space."""
    total = 0
    for index, piece in _pieces_with_starts(table.column("path")):
        offsets = value_offsets(piece)
        data = np.frombuffer(piece.buffers()[2], dtype=np.uint8)
        low = np.flatnonzero(data[offsets[0]:offsets[-1]] <= _SPACE) + offsets[0]
        if not len(low):
            continue
        rows = np.searchsorted(offsets, low, side="right") - 1
        counted = ~np.isin(rows + index, odd_rows)
        low, rows = low[counted], rows[counted]
        if (data[low] != _SPACE).any() or (data[offsets[rows]] != ord(_QUOTE)).any():
            return -1
        total += len(low)
    return total


@dataclass
class _OddLines:
    """The lines of a block that Arrow skipped or split into an empty field."""

    numbers: np.ndarray  # the odd lines, ascending
    texts: list[bytes]  # their bytes, without the newline
    low: int  # how many of those bytes are up to 0x20
    kept_lines: Callable[[], np.ndarray]  # the line of each of Arrow's rows (on demand)
    line_spans: Callable[[], Spans]  # (starts, ends) of every line of the block (on demand)


def _odd_lines(block: bytes | bytearray, table: pa.Table, lengths: dict[str, np.ndarray],
               skipped: list[tuple[int | None, str]], odd_rows: np.ndarray,
               newlines: int) -> _OddLines:
    """The odd lines of a block: those Arrow skipped (``skipped``: line number from 1,
    text, in line order) and those of ``odd_rows`` (an empty field).

    Neither the block nor every row is gone over: a skipped row's bytes are its
    text (every skipped row is UTF-8, see :func:`_rows_can_be_skipped`), any
    other row's are its fields joined by tabs, and a row's line follows from
    how many skipped lines come before it.  A row whose fields are all empty is
    an empty line or tabs alone: the block's length says which when they are
    all of one kind; otherwise, or when the lines' lengths do not add up to the
    block's, the block is refused.  Every line's span is worked out only when
    asked for.
    """
    fields = table.num_columns
    line_count = table.num_rows + len(skipped)
    skipped_lines = np.array([number for number, _ in skipped], dtype=np.int64) - 1
    skipped_texts = [text.encode() for _, text in skipped]
    empty_fields = sum((column[odd_rows] == 0).astype(np.int64) for column in lengths.values())
    blank = empty_fields == fields
    total = np.int32 if len(block) < 2**31 else np.int64  # no overflow: faster than int64
    kept_width = sum(int(column.sum(dtype=total)) for column in lengths.values()) \
        + table.num_rows * (fields - 1)  # a row of empty fields as tabs alone
    surplus = kept_width + sum(map(len, skipped_texts)) + newlines - len(block)
    empty_lines = surplus != 0 and surplus == int(blank.sum()) * (fields - 1)
    if surplus and not empty_lines:
        raise _Refused
    row_texts = [(b"" if empty_lines else b"\t" * (fields - 1)) if is_blank
                 else b"\t".join(_values_of_row(table, row))
                 for row, is_blank in zip(odd_rows.tolist(), blank.tolist())]
    row_lines = _lines_of_rows(odd_rows, skipped_lines)
    numbers = np.concatenate([skipped_lines, row_lines])
    order = np.argsort(numbers, kind="stable")
    every_text = skipped_texts + row_texts
    texts = [every_text[index] for index in order.tolist()]
    low = int(np.count_nonzero(np.frombuffer(b"".join(texts), dtype=np.uint8) <= _SPACE))

    @functools.cache
    def kept_lines() -> np.ndarray:
        return _lines_of_rows(np.arange(table.num_rows), skipped_lines)

    @functools.cache
    def line_spans() -> Spans:
        widths = np.empty(line_count, dtype=np.int64)
        widths[kept_lines()] = _row_widths(lengths)
        if empty_lines:
            widths[row_lines[blank]] = 0
        widths[skipped_lines] = [len(text) for text in skipped_texts]
        return _spans_from_widths(widths)

    return _OddLines(numbers[order], texts, low, kept_lines, line_spans)


def _values_of_row(table: pa.Table, row: int) -> tuple[bytes, ...]:
    """The field values of one row of ``table``, as bytes (a take would cost more)."""
    return tuple(column.chunk(0).view(pa.binary()).to_pylist()[0]
                 for column in table.slice(row, 1).columns)


def _lines_of_rows(rows: np.ndarray, skipped_lines: np.ndarray) -> np.ndarray:
    """The line of each of Arrow's ``rows``, given the (ascending) lines it skipped:
    skipped line ``s[j]`` has ``s[j] - j`` rows before it."""
    rows_before = skipped_lines - np.arange(len(skipped_lines))
    return rows + np.searchsorted(rows_before, rows, side="right")


def _parse_masked(block: bytes | bytearray, use_threads: bool) -> BlockResult:
    """Line by line classification, in pieces of about MASK_PIECE bytes (a loop: no
    recursion); clean lines go through Arrow, the others through the exact lane."""
    chunks, offsets = [], []
    lines = malformed = 0
    for start, end in piece_bounds(block, MASK_PIECE):
        result = _parse_piece(block, start, end, use_threads)
        lines += result.lines
        malformed += result.malformed
        chunks.append(result.chunk)
        offsets.append(start)
    return BlockResult(Chunk.concat(chunks, offsets, block), lines, malformed)


def _parse_piece(block: bytes | bytearray, start: int, end: int, use_threads: bool) -> BlockResult:
    """One piece of a block: its clean lines on the fast lane, the rest on the exact lane.

    Row spans are relative to ``start``.
    """
    view = memoryview(block)[start:end]
    mask = classify_lines(view, MAX_LINE_BYTES)
    fast_lines = np.flatnonzero(mask.fast)
    parts: list[tuple[np.ndarray, Chunk]] = []  # (line index of each row, rows)
    if len(fast_lines):
        if len(fast_lines) == len(mask.starts):
            text: bytes | memoryview = view
        else:
            text = gather_lines(view, mask, fast_lines)
        table = _read_table(text, mask.fields, use_threads)  # clean lines: never refused
        valid = _valid_rows(table, _longest_values(_value_lengths(table)))
        rows = fast_lines if valid is None else fast_lines[valid]
        starts, ends = mask.starts[fast_lines], mask.ends[fast_lines]
        parts.append((rows, _chunk_from_table(table, valid, block, lambda: (starts, ends))))
    exact_lines = np.flatnonzero(mask.exact)
    if len(exact_lines):
        lines = [bytes(view[start:end]) for start, end
                 in zip(mask.starts[exact_lines].tolist(), mask.ends[exact_lines].tolist())]
        parts.append(_parse_exact(lines, exact_lines, block, lambda: (mask.starts, mask.ends)))
    kept = sum(len(chunk) for _, chunk in parts)
    return BlockResult(_merge_in_line_order(parts, block, lambda: (mask.starts, mask.ends)),
                       len(mask.starts), len(mask.starts) - kept)


def _merge_in_line_order(parts: list[tuple[np.ndarray, Chunk]], block: bytes | bytearray,
                         line_spans: Callable[[], Spans]) -> Chunk:
    """The rows of ``parts`` (each with the line of its rows) as one chunk in line order
    (``line_spans``: where each line lies)."""
    parts = [(rows, chunk) for rows, chunk in parts if len(chunk)]
    if not parts:
        return empty_chunk()
    if len(parts) == 1:
        return parts[0][1]
    lines = np.concatenate([rows for rows, _ in parts])
    order = np.argsort(lines, kind="stable")
    ints = {name: np.concatenate([getattr(chunk, name) for _, chunk in parts])[order]
            for name in INT_COLUMNS}
    texts = {name: pa.concat_arrays([chunk._text(name) for _, chunk in parts]).take(order)
             for name in TEXT_COLUMNS}
    return Chunk(**ints, texts=texts, block=block,
                 _spans=functools.cache(functools.partial(_spans_of_lines, line_spans, lines[order])))


def _spans_of_lines(line_spans: Callable[[], Spans], lines: np.ndarray) -> Spans:
    """The spans of ``lines`` among every line's (``line_spans``)."""
    starts, ends = line_spans()
    return starts[lines], ends[lines]


# ------------------------------------------------------------------- row checks

def _pieces_with_starts(column: pa.ChunkedArray) -> list[tuple[int, pa.Array]]:
    """Each piece of a column with the index of its first row."""
    found, index = [], 0
    for piece in column.chunks:
        found.append((index, piece))
        index += len(piece)
    return found


def _and(valid: np.ndarray | None, more: np.ndarray) -> np.ndarray:
    return more if valid is None else valid & more


def _valid_rows(table: pa.Table, longest: dict[str, int]) -> np.ndarray | None:
    """Row mask of the rows whose numeric fields are numbers below 2**63 (None: all are).

    Usually settled per piece of a column by its largest byte less ``0``
    (wrapping round, so a digit is 0-9 and any other byte more) and the
    column's longest value; only a piece that fails that is checked row by row.
    """
    valid: np.ndarray | None = None
    for name in table.column_names:
        if name in TEXT_FIELDS:
            continue
        may_be_long = longest[name] > _SAFE_DIGITS
        for index, piece in _pieces_with_starts(table.column(name)):
            bad = _bad_numbers(piece, may_be_long)
            if len(bad):
                if valid is None:
                    valid = np.ones(table.num_rows, dtype=bool)
                valid[bad + index] = False
    return valid


def _bad_numbers(array: pa.Array, may_be_long: bool) -> np.ndarray:
    """Rows of a text array whose value is not ASCII digits below 2**63 (an empty
    value is not flagged: empty fields are the tokenizer's concern).  Values of
    more than _SAFE_DIGITS digits are only looked for when ``may_be_long``."""
    offsets = value_offsets(array)
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    from_zero = data - np.uint8(0x30)  # a digit is 0-9, any other byte more (wrapping round)
    if len(data) and int(from_zero.max()) > 9:
        positions = np.flatnonzero(from_zero > 9)
        bad = _distinct(np.searchsorted(offsets, positions + offsets[0], side="right") - 1)
    else:
        bad = np.zeros(0, dtype=np.int64)
    lengths = np.diff(offsets) if may_be_long else np.zeros(0, dtype=np.int32)
    if len(lengths) and int(lengths.max()) > _SAFE_DIGITS:
        long = np.setdiff1d(np.flatnonzero(lengths > _SAFE_DIGITS), bad)
        values = array.take(long).to_pylist()
        too_big = [row for row, value in zip(long.tolist(), values) if int(value) >= NUMBER_LIMIT]
        bad = np.union1d(bad, np.array(too_big, dtype=np.int64))
    return bad


def _distinct(ascending: np.ndarray) -> np.ndarray:
    """The distinct values of an ascending array (``np.unique`` would sort or hash them)."""
    if len(ascending) < 2:
        return ascending
    return ascending[np.concatenate(([True], ascending[1:] != ascending[:-1]))]


def _chunk_from_table(table: pa.Table, valid: np.ndarray | None, block: bytes | bytearray,
                      all_spans: Callable[[], Spans]) -> Chunk:
    """The chunk of ``table``'s valid rows (``valid`` None: every row).

    Masked rows are few: the valid ones form long runs, which are sliced out of
    the table (no copy of the text) and converted one column at a time.
    """
    if valid is None:
        ints = {name: pc.cast(table.column(name), pa.uint64()).to_numpy() for name in INT_COLUMNS}
        texts: dict[str, pa.Array | pa.ChunkedArray] = {name: table.column(name)
                                                        for name in TEXT_COLUMNS}
        return Chunk(**ints, texts=texts, block=block, _spans=all_spans)
    rows = np.flatnonzero(valid)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], valid, [False]))))
    runs = list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
    if len(runs) > _MAX_RUNS:  # many masked rows: one gather is cheaper than many slices
        kept = {name: take_rows(table.column(name), rows) for name in INT_COLUMNS + TEXT_COLUMNS}
    else:
        needed = table.select(INT_COLUMNS + TEXT_COLUMNS)
        runs_table = pa.concat_tables([needed.slice(start, stop - start) for start, stop in runs]
                                      or [needed.slice(0, 0)])
        kept = {name: runs_table.column(name) for name in INT_COLUMNS + TEXT_COLUMNS}
    ints = {name: pc.cast(kept[name], pa.uint64()).to_numpy() for name in INT_COLUMNS}
    texts = {name: kept[name] for name in TEXT_COLUMNS}

    def spans() -> Spans:
        starts, ends = all_spans()
        return starts[rows], ends[rows]

    return Chunk(**ints, texts=texts, block=block, _spans=functools.cache(spans))


def _longest_values(lengths: dict[str, np.ndarray]) -> dict[str, int]:
    """Each column's longest value (0 for no rows)."""
    return {name: int(column.max()) if len(column) else 0 for name, column in lengths.items()}


def _row_widths(lengths: dict[str, np.ndarray]) -> np.ndarray:
    """Each row's width as a line: its fields' lengths plus the tabs between them."""
    widths = np.full(len(next(iter(lengths.values()))), len(lengths) - 1, dtype=np.int64)
    for column in lengths.values():
        widths += column
    return widths


def _spans_from_widths(widths: np.ndarray) -> Spans:
    """Line spans of a block whose lines (each ended by ``\\n``) have these widths."""
    ends = np.cumsum(widths + 1) - 1
    return ends - widths, ends


# ------------------------------------------------------------------- the exact lane

def split_fields(raw: bytes) -> list[bytes]:
    """The fields of a line: runs of whitespace separate them, except that a path
    field beginning with ``"`` runs to the line's first TAB after it."""
    stripped = raw.lstrip(_WHITESPACE)
    if not stripped.startswith(_QUOTE):
        return raw.split()
    tab = stripped.find(b"\t")
    if tab < 0:
        return [stripped]
    return [stripped[:tab]] + stripped[tab + 1:].split()


def parse_line(raw: bytes) -> list[bytes] | None:
    """The fields of a well-formed line (without its newline), or None when it is malformed."""
    if len(raw) > MAX_LINE_BYTES:
        return None
    fields = split_fields(raw)
    if len(fields) not in (11, 12):
        return None
    numeric = _NUMERIC_INDEXES + ((11,) if len(fields) == 12 else ())
    for index in numeric:
        field = fields[index]
        if not field.isdigit() or (len(field) > _SAFE_DIGITS and int(field) >= NUMBER_LIMIT):
            return None
    return fields


def _parse_exact(lines: Sequence[bytes], numbers: np.ndarray, block: bytes | bytearray,
                 line_spans: Callable[[], Spans]) -> tuple[np.ndarray, Chunk]:
    """The exact lane for ``lines`` (without their newlines), line ``numbers[i]`` of
    ``block``, whose lines lie where ``line_spans`` says: (line of each kept row, the rows)."""
    kept: list[int] = []
    columns: dict[str, list] = {name: [] for name in INT_COLUMNS + TEXT_COLUMNS}
    for number, raw in zip(numbers.tolist(), lines):
        fields = parse_line(raw)
        if fields is None:
            continue
        for name in INT_COLUMNS:
            columns[name].append(int(fields[_COLUMN_INDEXES[name]]))
        columns["path"].append(fields[0])
        columns["type"].append(fields[7])
        kept.append(number)
    rows = np.array(kept, dtype=np.int64)
    ints = {name: np.array(columns[name], dtype=np.uint64) for name in INT_COLUMNS}
    texts = {name: pa.array(columns[name], type=pa.binary()) for name in TEXT_COLUMNS}
    chunk = Chunk(**ints, texts=texts, block=block,
                  _spans=functools.cache(functools.partial(_spans_of_lines, line_spans, rows)))
    return rows, chunk


def empty_chunk() -> Chunk:
    """A chunk of no rows."""
    empty = np.zeros(0, dtype=np.int64)
    return Chunk(**{name: np.zeros(0, dtype=np.uint64) for name in INT_COLUMNS},
                 texts={name: pa.array([], type=pa.binary()) for name in TEXT_COLUMNS},
                 block=b"", _spans=lambda: (empty, empty))

