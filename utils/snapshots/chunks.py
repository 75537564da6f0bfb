"""Parsing blocks of snapshot text into columns (:class:`Chunk`).

Each line-aligned block of decompressed text is parsed into a :class:`Chunk`:
the block's well-formed lines as columns (NumPy / Arrow arrays), so the
passes aggregate whole chunks at once instead of handling one Python object
per line.

Parsing has two lanes that give identical results:

* the fast lane hands the block to Arrow's CSV tokenizer (tab-separated,
  unsigned 64-bit integers) — valid only when the block contains no
  whitespace other than tabs and line ends, every row has 11 fields and every
  numeric field holds only digits;
* the exact lane splits lines on runs of whitespace in Python.  A block the
  fast lane refuses is cut into smaller pieces that are retried, so a few odd
  lines only slow down a small piece of the file.

A line is well-formed when it has exactly 11 fields and fields 1–6, 8, 9 are
non-negative decimal integers (ASCII digits).  Values are held as unsigned
64-bit integers; the rare line with a number of 2**64 or more in one of those
fields cannot come from mpistat and is treated as malformed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from utils.snapshots.byteviews import pieces_of, value_offsets

FIELD_NAMES = ("path", "size", "uid", "gid", "atime", "mtime", "ctime", "type", "inode", "nlink",
               "dev")
NUMERIC_FIELDS = ("size", "uid", "gid", "atime", "mtime", "ctime", "inode", "nlink")
# The columns a Chunk carries; the other numeric fields are only validated.
INT_COLUMNS = ("size", "uid", "gid", "mtime", "nlink")
TEXT_COLUMNS = ("path", "type")
TEXT_FIELDS = ("path", "type", "dev")
_NUMERIC_INDEXES = tuple(FIELD_NAMES.index(name) for name in NUMERIC_FIELDS)
_COLUMN_INDEXES = {name: FIELD_NAMES.index(name) for name in FIELD_NAMES}
_UINT64_LIMIT = 1 << 64

_MIN_FAST_PIECE = 256 * 1024  # below this a refused piece goes to the exact lane
_PIECES_PER_SPLIT = 8
_NON_TAB_WHITESPACE = (b" ", b"\x0b", b"\x0c")
_SPACE = 0x20
_NEWLINE = 0x0A

# ------------------------------------------------------------------- chunks

Spans = tuple[np.ndarray, np.ndarray]


@dataclass
class Chunk:
    """The well-formed lines of one block, as columns (row i = i-th such line).

    Integer columns are ``uint64`` NumPy arrays; ``path`` (the base64 text) and
    ``type`` are Arrow binary arrays.  ``block`` is the text the rows come
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
        """The base64 path fields."""
        return self._text("path")

    @property
    def path_pieces(self) -> pa.Array | pa.ChunkedArray:
        """The base64 path fields as parsed (possibly several pieces: no copy)."""
        return self.texts["path"]

    def take_paths(self, rows: np.ndarray) -> pa.Array:
        """The base64 path fields of ``rows`` (ascending), taken piece by piece
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
# Every field is read as text: numeric fields are checked to be ASCII digits
# (Arrow's integer parser would also take "0x1f"), then the ones a Chunk
# carries are converted.
_CONVERT_OPTIONS = pa_csv.ConvertOptions(
    column_types={**{name: pa.string() for name in NUMERIC_FIELDS},
                  **{name: pa.binary() for name in TEXT_FIELDS}},
    null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
    check_utf8=False,
)
_ARROW_BLOCK = 4 * 1024 * 1024  # with threads, Arrow tokenizes a block in pieces of this size
_ARROW_SERIAL_BLOCK = 1024 * 1024  # without threads, this size is fastest (cache-friendly)


class _Refused(Exception):
    """The fast lane cannot take this block."""


def parse_block(block: bytes | bytearray, *, use_threads: bool = True) -> BlockResult:
    """Parse a line-aligned block of snapshot text (the last line may lack ``\\n``)."""
    try:
        return _parse_fast(block, use_threads)
    except _Refused:
        pass
    if len(block) < _MIN_FAST_PIECE:
        return _parse_exact(block)
    offsets = _piece_offsets(block)
    results = [parse_block(block[start:end], use_threads=use_threads)
               for start, end in zip(offsets, offsets[1:] + [len(block)])]
    return BlockResult(Chunk.concat([r.chunk for r in results], offsets, block),
                       sum(r.lines for r in results), sum(r.malformed for r in results))


def _piece_offsets(block: bytes | bytearray) -> list[int]:
    """Where to cut a block into about _PIECES_PER_SPLIT pieces at line boundaries."""
    offsets = [0]
    step = max(len(block) // _PIECES_PER_SPLIT, 1)
    while True:
        cut = block.find(b"\n", offsets[-1] + step)
        if cut < 0 or cut + 1 >= len(block):
            return offsets
        offsets.append(cut + 1)


def _parse_fast(block: bytes | bytearray, use_threads: bool) -> BlockResult:
    """Arrow's tokenizer, when its tab splitting provably equals whitespace splitting.

    That holds when the block has no whitespace but tabs and line ends (``\\n``
    or ``\\r\\n``; Arrow would also end a row at a lone ``\\r``, which is
    refused), every row has 11 tab-separated fields and none of them is empty.
    """
    if not block:
        return BlockResult(_empty_chunk(), 0, 0)
    arrow_block = _ARROW_BLOCK if use_threads else _ARROW_SERIAL_BLOCK
    read_options = pa_csv.ReadOptions(column_names=FIELD_NAMES, use_threads=use_threads,
                                      block_size=arrow_block)
    try:
        table = pa_csv.read_csv(pa.py_buffer(block), read_options=read_options,
                                parse_options=_PARSE_OPTIONS, convert_options=_CONVERT_OPTIONS)
    except pa.ArrowInvalid:
        raise _Refused from None
    line_end = _line_ends(block, table.num_rows)
    if line_end is None:
        raise _Refused
    for name in FIELD_NAMES:
        for array in table.column(name).chunks:
            if _has_empty(array):
                raise _Refused  # adjacent tabs: fewer whitespace-separated fields
            if name in NUMERIC_FIELDS and not _all_digits(array):
                raise _Refused
    try:
        ints = {name: pc.cast(table.column(name), pa.uint64()).to_numpy() for name in INT_COLUMNS}
    except pa.ArrowInvalid:  # a number of 2**64 or more
        raise _Refused from None
    texts = {name: table.column(name) for name in TEXT_COLUMNS}

    if line_end == b"\n":  # each line is its fields and tabs: spans without a search
        lengths = [[value_offsets(array) for array in table.column(name).chunks]
                   for name in FIELD_NAMES]
        spans = functools.partial(_spans_from_fields, lengths)
    else:
        spans = functools.partial(_line_spans, block)
    chunk = Chunk(**ints, texts=texts, block=block, _spans=spans)
    return BlockResult(chunk, table.num_rows, 0)


def _line_ends(block: bytes | bytearray, rows: int) -> bytes | None:
    """How the lines of a block Arrow read as ``rows`` rows of 11 tab-separated
    fields end: ``b"\\n"``, ``b"\\r\\n"`` (some lines end so), or None when
    splitting on whitespace would give other fields than Arrow's tabs.

    They agree when the only whitespace is the tabs and the line ends.  Usually
    that is settled by counting the bytes below 0x21 (NumPy, without the GIL):
    then every such byte is a tab or a row end, and a row end must not be a
    lone ``\\r`` (Arrow ends a row there; whitespace splitting does not end a
    line).  Other control bytes are fine inside fields, and so are ``\\r\\n``
    line ends; spaces, vertical tabs, form feeds and lone ``\\r`` are not.
    """
    low_bytes = int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) <= _SPACE))
    newlines = rows if block.endswith(b"\n") else rows - 1
    if low_bytes == rows * (len(FIELD_NAMES) - 1) + newlines:
        return None if b"\r" in block else b"\n"
    if any(char in block for char in _NON_TAB_WHITESPACE):
        return None
    returns = block.count(b"\r")
    if returns != block.count(b"\r\n"):
        return None
    return b"\r\n" if returns else b"\n"


def _spans_from_fields(offsets: list[list[np.ndarray]]) -> Spans:
    """Line spans of a block whose lines are their 11 fields joined by single tabs
    and ended by ``\\n``, from the fields' offsets (no pass over the text)."""
    widths = np.full(sum(len(piece) - 1 for piece in offsets[0]), len(FIELD_NAMES) - 1,
                     dtype=np.int64)
    for pieces in offsets:
        widths += np.concatenate([np.diff(piece) for piece in pieces])
    ends = np.cumsum(widths + 1) - 1
    return ends - widths, ends


def _line_spans(block: bytes | bytearray) -> Spans:
    """(starts, ends) of every line of a block (ends exclude the newline)."""
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == _NEWLINE)
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(block))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    return starts, ends


def _has_empty(array: pa.Array) -> bool:
    """Whether any value of a string/binary array is empty."""
    offsets = value_offsets(array)
    return bool((offsets[1:] == offsets[:-1]).any())


def _all_digits(array: pa.Array) -> bool:
    """Whether every byte of every value is an ASCII decimal digit."""
    offsets = value_offsets(array)
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return not len(data) or (int(data.min()) >= 0x30 and int(data.max()) <= 0x39)


def _parse_exact(block: bytes | bytearray) -> BlockResult:
    """The exact lane: split on runs of whitespace, one line at a time."""
    raw_lines = bytes(block).split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    kept: list[tuple[int, int]] = []
    columns: dict[str, list] = {name: [] for name in INT_COLUMNS + TEXT_COLUMNS}
    malformed = 0
    end = -1
    for raw in raw_lines:
        start, end = end + 1, end + 1 + len(raw)
        fields = raw.split()
        if len(fields) != 11 or not all(fields[i].isdigit() for i in _NUMERIC_INDEXES):
            malformed += 1
            continue
        values = [int(fields[_COLUMN_INDEXES[name]]) for name in INT_COLUMNS]
        if any(value >= _UINT64_LIMIT for value in values):
            malformed += 1
            continue
        for name, value in zip(INT_COLUMNS, values):
            columns[name].append(value)
        columns["path"].append(fields[0])
        columns["type"].append(fields[7])
        kept.append((start, end))
    ints = {name: np.array(columns[name], dtype=np.uint64) for name in INT_COLUMNS}
    texts = {name: pa.array(columns[name], type=pa.binary()) for name in TEXT_COLUMNS}
    spans = np.array(kept, dtype=np.int64).reshape(-1, 2)
    chunk = Chunk(**ints, texts=texts, block=block, _spans=lambda: (spans[:, 0], spans[:, 1]))
    return BlockResult(chunk, len(raw_lines), malformed)


def _empty_chunk() -> Chunk:
    empty = np.zeros(0, dtype=np.int64)
    return Chunk(**{name: np.zeros(0, dtype=np.uint64) for name in INT_COLUMNS},
                 texts={name: pa.array([], type=pa.binary()) for name in TEXT_COLUMNS},
                 block=b"", _spans=lambda: (empty, empty))
