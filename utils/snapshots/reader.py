"""Reading a snapshot: line-aligned blocks, parsed into chunks on a thread pool."""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
from fractions import Fraction
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeVar

from utils.common.config import DEFAULT_MAX_MALFORMED_FRACTION
from utils.common.errors import SnapshotError
from utils.common.logs import Progress
from utils.snapshots.buffers import keep_freed_memory, uninitialized_bytearray
from utils.snapshots.chunks import MAX_LINE_BYTES, BlockResult, Chunk, parse_block
from utils.snapshots.compression import GZIP_READ_ERRORS, open_gzip_reader

log = logging.getLogger(__name__)

BLOCK_SIZE = 8 * 1024 * 1024  # decompressed bytes per block
# For the passes that hold more per block in flight (the inspector's views and
# sums, the splitter's kept text and gzip members): as fast as 8 MiB, with a
# peak RSS about 50 MB lower (measured: inspector ~300 MB instead of ~350).
LEAN_BLOCK_SIZE = 6 * 1024 * 1024
PARSE_THREADS = 2
T = TypeVar("T")


class FilePosition:
    """How much of a compressed file has been read, for progress lines."""

    def __init__(self) -> None:
        self._file: BinaryIO | None = None
        self._size = 0

    def follow(self, file: BinaryIO) -> None:
        """Report the position of ``file`` (just opened) from now on."""
        self._file, self._size = file, os.fstat(file.fileno()).st_size

    def fraction(self) -> float:
        """The share of the file read so far (0 before it is opened, 1 once closed)."""
        if self._file is None or not self._size:
            return 0.0
        try:
            return self._file.tell() / self._size
        except (OSError, ValueError):  # closed: read to its end
            return 1.0


def read_blocks(path: str, block_size: int = BLOCK_SIZE, *, fast: bool = True,
                position: FilePosition | None = None) -> Iterator[bytearray]:
    """Line-aligned blocks of decompressed text; a snapshot that cannot be read raises
    SnapshotError.

    Each block is a fresh ``bytearray`` filled by ``readinto`` (no extra copy, and
    not zeroed first: see :mod:`utils.snapshots.buffers`); only the partial line at
    its end is carried over to the next block.  Every block ends with a newline:
    a file whose last line lacks one gets it added.

    Memory stays bounded whatever the lines: a partial line is carried only
    while it could still be well-formed (at most MAX_LINE_BYTES).  A longer
    line is dropped as it is read, up to its newline, and stands in the text
    as an empty line, so it is still counted as one malformed line.
    """
    keep_freed_memory()
    try:
        compressed = open(path, "rb")  # noqa: SIM115 - closed below, after the stream
    except OSError as exc:
        raise SnapshotError(f"failed snapshot {path}: cannot open: {exc}") from None
    try:
        # Decompressed straight into each block on this thread (ISA-L lets go of the GIL
        # meanwhile): a background decompression thread would hand its output over
        # with a copy made while holding the GIL, stalling the parse threads.
        stream = open_gzip_reader(compressed, threaded=False, fast=fast)
    except OSError as exc:
        compressed.close()
        raise SnapshotError(f"failed snapshot {path}: cannot open: {exc}") from None
    if position is not None:
        position.follow(compressed)
    carry = b""
    dropping = False  # inside a line too long to be well-formed
    try:
        with compressed, stream:
            while True:
                block = uninitialized_bytearray(len(carry) + block_size)
                block[: len(carry)] = carry
                count = stream.readinto(memoryview(block)[len(carry):])
                if not count:
                    break
                end = len(carry) + count
                first = 0
                if dropping:  # carry is empty: skip to the long line's newline
                    first = block.find(b"\n", 0, end)
                    if first < 0:
                        continue
                    dropping = False  # that newline stays: the line becomes empty
                cut = block.rfind(b"\n", first, end)
                if end - cut - 1 > MAX_LINE_BYTES:  # the partial line is already too long
                    dropping, carry = True, b""
                    if cut < first:
                        continue
                else:
                    carry = bytes(block[cut + 1: end])
                del block[cut + 1:]
                if first:
                    del block[:first]
                if block:
                    yield block
    except GZIP_READ_ERRORS as exc:
        raise SnapshotError(f"failed snapshot {path}: {_describe_read_error(exc)}") from None
    if dropping:
        yield bytearray(b"\n")
    elif carry:  # the last line lacks its newline: give it one, like every other line
        yield bytearray(carry + b"\n")


def _describe_read_error(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated (compressed data ended before the end of the stream)"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class ReadStats:
    """Line counts of one snapshot file, filled in while it is read."""

    path: str
    lines: int = 0
    malformed: int = 0


def map_chunks(path: str, func: Callable[[Chunk], T], *, threads: int = PARSE_THREADS,
               label: str | None = None, stats: ReadStats | None = None,
               block_size: int = BLOCK_SIZE,
               max_malformed_fraction: float = DEFAULT_MAX_MALFORMED_FRACTION) -> Iterator[T]:
    """``func`` applied to each chunk of the snapshot at ``path``, results in file order.

    Decompression runs on the calling thread; parsing and ``func`` run on a pool
    of ``threads`` threads (Arrow and NumPy release the GIL), with a bounded
    number of blocks in flight so memory stays flat whatever the file size.
    Logs progress, and at the end the ``skipped N malformed lines of M in
    FILE`` line (a warning when N > 0).  Pass ``stats`` to get the counts
    back; ``block_size`` is the decompressed size of each block read.

    After the last result, a failed snapshot (no well-formed line, or more
    malformed lines than ``max_malformed_fraction`` of its lines) raises
    SnapshotError: a caller publishes nothing before the iteration ends.
    """
    stats = stats if stats is not None else ReadStats(path)
    position = FilePosition()
    progress = Progress(log, label or f"reading {path}", position=position.fraction)

    def work(block: bytearray) -> tuple[BlockResult, T]:
        result = parse_block(block, use_threads=False)
        return result, func(result.chunk)

    in_flight: collections.deque[concurrent.futures.Future] = collections.deque()

    def finished() -> T:
        result, value = in_flight.popleft().result()
        stats.lines += result.lines
        stats.malformed += result.malformed
        progress.advance(result.lines)
        return value

    with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="parse") as pool:
        try:
            for block in read_blocks(path, block_size, position=position):
                in_flight.append(pool.submit(work, block))
                while len(in_flight) > threads + 1:
                    yield finished()
            while in_flight:
                yield finished()
        finally:
            for future in in_flight:
                future.cancel()
    progress.finish()
    log.log(logging.WARNING if stats.malformed else logging.INFO,
            "skipped %d malformed lines of %d in %s", stats.malformed, stats.lines, path)
    check_line_counts(stats, max_malformed_fraction)


def check_line_counts(stats: ReadStats, max_malformed_fraction: float) -> None:
    """Raise SnapshotError when the counts make ``stats.path`` a failed snapshot.

    The fraction is taken as the decimal written in the configuration (0.01
    is exactly 1/100), so the comparison has no rounding.
    """
    if stats.lines == stats.malformed:
        what = "no lines" if not stats.lines else f"no well-formed line among {stats.lines}"
        raise SnapshotError(f"failed snapshot {stats.path}: {what}")
    if stats.malformed > Fraction(str(max_malformed_fraction)) * stats.lines:
        raise SnapshotError(
            f"failed snapshot {stats.path}: {stats.malformed} of its {stats.lines} lines are "
            f"malformed, more than [paths] max_malformed_fraction = {max_malformed_fraction}")


def read_chunks(path: str, **kwargs: Any) -> Iterator[Chunk]:
    """The chunks of the snapshot at ``path`` in order (see :func:`map_chunks`)."""
    return map_chunks(path, lambda chunk: chunk, **kwargs)


def iter_rows(chunks: Iterable[Chunk]) -> Iterator[tuple[bytes, int, int, int, int, bytes]]:
    """Rows as (path, size, gid, mtime, nlink, type) tuples (for tests and tools)."""
    for chunk in chunks:
        yield from zip(chunk.path.to_pylist(), chunk.size.tolist(),
                       chunk.gid.tolist(), chunk.mtime.tolist(), chunk.nlink.tolist(),
                       chunk.type.to_pylist())
