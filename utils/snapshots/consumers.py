"""One read of a snapshot shared by the passes that consume its chunks.

A *consumer* turns each chunk into a small partial result in the reader's
parse threads and collects those results in file order; :func:`read_once`
hands every chunk to each of its consumers.  The report and the inspector
read through it alone, and ``manager.py both`` reads once for both.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from utils.snapshots.chunks import Chunk
from utils.snapshots.discovery import Snapshot
from utils.snapshots.reader import BLOCK_SIZE, ReadStats, map_chunks


class ChunkConsumer(Protocol):
    """A pass that takes its share of each chunk of a read."""

    def per_chunk(self, chunk: Chunk) -> Any:
        """This chunk's partial result (runs in the reader's parse threads)."""

    def collect(self, partial: Any) -> None:
        """Take one partial result (on the reading thread, in file order)."""


def read_once(snapshot: Snapshot, consumers: Sequence[ChunkConsumer], *, label: str,
              stats: ReadStats | None = None, block_size: int = BLOCK_SIZE) -> None:
    """Read ``snapshot`` once, handing every chunk to each consumer in turn."""
    def per_chunk(chunk: Chunk) -> list[Any]:
        return [consumer.per_chunk(chunk) for consumer in consumers]

    for partials in map_chunks(snapshot.path, per_chunk, label=label, stats=stats,
                               block_size=block_size,
                               max_malformed_fraction=snapshot.max_malformed_fraction):
        for consumer, partial in zip(consumers, partials):
            consumer.collect(partial)
