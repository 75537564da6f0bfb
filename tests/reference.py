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


def _glob_components(pattern: str) -> list[bytes]:
    return [part.encode() for part in pattern.split("/") if part]


def inspect_reference(lines: Iterable[bytes], roots: list[str], depth: int,
                      filetypes: dict[str, str], snapshot_time: float) -> dict[tuple, dict]:
    """Per-record values of SPEC §3, one line at a time.

    Returns {key components: {size, files, mtime, types, gid}} where gid is
    the record's group (directory entry, else majority bytes, else None).
    """
    import fnmatch
    import re

    patterns = [re.compile(p.encode(), re.IGNORECASE) for p in filetypes.values()]
    root_parts = [_glob_components(root) for root in roots]
    acc: dict[tuple, dict] = {}
    for record in records(lines):
        if record.kind not in (b"f", b"d"):
            continue
        path = record.path
        if path is None:
            continue
        parts = [part for part in path.split(b"/") if part]
        is_file = record.kind == b"f"
        used = record.size // record.nlink if is_file and record.nlink >= 1 else 0
        name = parts[-1] if parts else b""
        touched: set[tuple] = set()
        exact: set[tuple] = set()
        for root in root_parts:
            if len(parts) < len(root) or not all(
                    fnmatch.fnmatchcase(part.decode("latin-1"), pat.decode("latin-1"))
                    for part, pat in zip(parts, root)):
                continue
            relative = tuple(parts[len(root) - 1:])
            directory = relative[:-1] if is_file else relative
            if not directory:
                continue
            width = depth + 2 if len(directory) > 2 and directory[2].lower() == b"users" else depth + 1
            key = directory[:width]
            touched.update(key[:n] for n in range(1, len(key) + 1))
            if not is_file and key == directory:
                exact.add(key)
        for key in touched:
            entry = acc.setdefault(key, {"size": 0, "files": 0, "mtime": None,
                                         "types": [0] * len(patterns), "by_gid": {}, "dir_gid": None})
            if record.mtime <= snapshot_time and (entry["mtime"] is None or record.mtime > entry["mtime"]):
                entry["mtime"] = record.mtime
            if is_file:
                entry["size"] += used
                entry["files"] += 1
                entry["by_gid"][record.gid] = entry["by_gid"].get(record.gid, 0) + used
                for index, pattern in enumerate(patterns):
                    if pattern.search(name):
                        entry["types"][index] += used
                        break
        for key in exact:
            acc[key]["dir_gid"] = record.gid  # the last directory entry wins
    result = {}
    for key, entry in acc.items():
        gid = entry["dir_gid"]
        if gid is None and entry["by_gid"]:
            gid = min(entry["by_gid"], key=lambda g: (-entry["by_gid"][g], g))
        result[key] = {"size": entry["size"], "files": entry["files"], "mtime": entry["mtime"],
                       "types": entry["types"], "gid": gid}
    return result
