"""Inspection roots and record keys, for one directory path at a time.

A root is an absolute path whose components may be globs
(``/lustre/scratch119/realdata/mdt[0-9]/projects``).  Paths relative to the
root's parent start with the root's last component; a directory's record key
is its first ``depth + 1`` components (``depth + 2`` under a ``users``
directory), and it counts toward that key and every ancestor prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from utils.snapshots.b64paths import encoded_prefix

Components = tuple[bytes, ...]
_GLOB_CHARS = re.compile(rb"[*?\[]")


def split_path(path: bytes) -> Components:
    """Components of an absolute path (``/a/b`` -> ``(b"a", b"b")``)."""
    parts = path.split(b"/")
    if b"" in parts[1:]:  # "//" or a trailing "/": not canonical, drop empty parts
        return tuple(part for part in parts if part)
    return tuple(parts[1:])


def _component_regex(pattern: bytes) -> bytes:
    """A regex for one path component: fnmatch-style ``*``, ``?`` and ``[...]``, never ``/``."""
    out: list[bytes] = []
    index = 0
    while index < len(pattern):
        char = pattern[index:index + 1]
        if char == b"*":
            out.append(b"[^/]*")
        elif char == b"?":
            out.append(b"[^/]")
        elif char == b"[" and (end := _class_end(pattern, index)) > 0:
            body = pattern[index + 1:end]
            negate = body.startswith(b"!")
            body = body[1:] if negate else body
            body = body.replace(b"\\", b"\\\\").replace(b"[", b"\\[").replace(b"]", b"\\]")
            if body.startswith(b"^"):
                body = b"\\" + body
            out.append(b"[" + (b"^/" if negate else b"") + body + b"]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return b"".join(out)


def _class_end(pattern: bytes, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 (then ``[`` is literal)."""
    first = start + 1
    if pattern[first:first + 1] == b"!":
        first += 1
    if pattern[first:first + 1] == b"]":
        first += 1
    return pattern.find(b"]", first)


@dataclass(frozen=True)
class InspectRoot:
    """One configured root (globs allowed per component)."""

    pattern: str

    @property
    def components(self) -> Components:
        return split_path(self.pattern.encode())

    @property
    def literal_prefix(self) -> bytes:
        """The part of the pattern before its first glob character."""
        raw = self.pattern.encode()
        match = _GLOB_CHARS.search(raw)
        return raw if match is None else raw[: match.start()]

    @property
    def encoded_prefix(self) -> bytes:
        """A base64 prefix shared by every path under this root."""
        return encoded_prefix(self.literal_prefix)

    def matcher(self) -> "RootMatcher":
        return RootMatcher(self.components)


class RootMatcher:
    """Tells whether a path is the root or lies under it."""

    def __init__(self, components: Components) -> None:
        self.depth = len(components)
        body = b"".join(b"/" + _component_regex(part) for part in components)
        # The same pattern for RE2 (Arrow, Latin-1 on binary data): bytes >= 0x80 as \xHH.
        self.pattern = "".join(chr(byte) if byte < 0x80 else f"\\x{byte:02x}"
                               for byte in b"^" + body + b"(?:/|$)")
        self._regex = re.compile(body + rb"(?:/|\Z)", re.DOTALL)

    def matches(self, path: bytes) -> bool:
        """Whether ``path`` (absolute) is the root or lies under it."""
        return self.depth > 0 and self._regex.match(path) is not None


def record_key(directory: Components, depth: int) -> Components:
    """The record a directory (relative components) counts toward, before ancestors."""
    width = depth + 1
    if len(directory) > 2 and directory[2].lower() == b"users":
        width = depth + 2
    return directory[:width]


def with_ancestors(key: Components) -> tuple[Components, ...]:
    """Every ancestor prefix of the key, outermost first, and the key itself."""
    return tuple(key[:length] for length in range(1, len(key) + 1))


@dataclass(frozen=True)
class DirClass:
    """What an entry in a given directory counts toward.

    ``records`` are the record paths (keys and ancestors, over every root
    the directory is under); ``exact`` are the records whose path is the
    directory itself (a directory entry there sets that record's group).
    """

    records: tuple[Components, ...]
    exact: tuple[Components, ...]


OUTSIDE_ROOTS = DirClass((), ())


def classify(directory: bytes, matchers: Sequence[RootMatcher], depth: int) -> DirClass:
    """The DirClass of an absolute directory path, over every root it is under.

    The inspector computes keys with Arrow; this general form serves the rare
    directory under several roots or with a non-canonical path, and the tests.
    """
    records: dict[Components, None] = {}
    exact: dict[Components, None] = {}
    path = split_path(directory)
    for matcher in matchers:
        if not matcher.matches(directory):
            continue
        relative = path[matcher.depth - 1:]
        key = record_key(relative, depth)
        records.update(dict.fromkeys(with_ancestors(key)))
        if key == relative:
            exact[key] = None
    return DirClass(tuple(records), tuple(exact)) if records else OUTSIDE_ROOTS
