"""Plain, line-at-a-time reference implementations of SPEC rules, for tests.

They are written independently of the vectorised code on purpose: tests
compare the fast passes against these on generated data.
"""

from __future__ import annotations

import base64
import binascii
import gzip
from dataclasses import dataclass
from typing import Iterable, Iterator

NUMERIC_INDEXES = (1, 2, 3, 4, 5, 6, 8, 9)


@dataclass(frozen=True)
class Record:
    """A well-formed snapshot line (SPEC §1.1)."""

    raw: bytes
    path_b64: bytes
    size: int
    uid: int
    gid: int
    mtime: int
    kind: bytes
    nlink: int

    @property
    def path(self) -> bytes | None:
        """The decoded path, or None when the field is not valid base64."""
        try:
            return base64.b64decode(self.path_b64, validate=True)
        except (binascii.Error, ValueError):
            return None


def parse_line(raw: bytes) -> Record | None:
    """The line as a Record, or None when it is malformed."""
    fields = raw.split()
    if len(fields) != 11:
        return None
    if not all(fields[i].isdigit() for i in NUMERIC_INDEXES):
        return None
    return Record(raw, fields[0], int(fields[1]), int(fields[2]), int(fields[3]),
                  int(fields[5]), fields[7], int(fields[9]))


def read_lines(path: str) -> list[bytes]:
    """The lines of a gzip'd snapshot (without line ends), with stdlib gzip."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def records(lines: Iterable[bytes]) -> Iterator[Record]:
    for raw in lines:
        record = parse_line(raw)
        if record is not None:
            yield record


def usage_by_gid(lines: Iterable[bytes], snapshot_time: float) -> dict[int, tuple[int, int | None]]:
    """gid -> (used, last_mtime) per SPEC §2, before dropping empty groups."""
    result: dict[int, list] = {}
    for record in records(lines):
        entry = result.setdefault(record.gid, [0, None])
        if record.nlink >= 1:
            entry[0] += record.size // record.nlink
        if record.mtime <= snapshot_time and (entry[1] is None or record.mtime > entry[1]):
            entry[1] = record.mtime
    return {gid: (used, mtime) for gid, (used, mtime) in result.items()}
