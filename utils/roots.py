"""Inspection roots and record keys (SPEC §3), for one directory path at a time.

A root is an absolute path whose components may be globs
(``/lustre/scratch119/realdata/mdt[0-9]/projects``).  Paths relative to the
root's parent start with the root's last component; a directory's record key
is its first ``depth + 1`` components (``depth + 2`` under a ``users``
directory), and it counts toward that key and every ancestor prefix.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from utils.b64paths import encoded_prefix

Components = tuple[bytes, ...]
_GLOB_CHARS = re.compile(rb"[*?\[]")


def split_path(path: bytes) -> Components:
    """Components of an absolute path (``/a/b`` -> ``(b"a", b"b")``)."""
    return tuple(part for part in path.split(b"/") if part)


def _component_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """Equality for a literal component, an fnmatch-style glob otherwise."""
    if not _GLOB_CHARS.search(pattern):
        return pattern.__eq__
    regex = re.compile(fnmatch.translate(pattern.decode("latin-1")).encode("latin-1"), re.DOTALL)
    return lambda component: regex.match(component) is not None


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
    """Tells whether a path is the root or under it, and its relative components."""

    def __init__(self, components: Components) -> None:
        self.matchers = [_component_matcher(part) for part in components]

    def relative(self, path: Components) -> Components | None:
        """``path`` relative to the root's parent, or None when not under the root."""
        depth = len(self.matchers)
        if depth == 0 or len(path) < depth:
            return None
        if all(match(part) for match, part in zip(self.matchers, path)):
            return path[depth - 1:]
        return None


def record_key(directory: Components, depth: int) -> Components:
    """The record a directory (relative components) counts toward, before ancestors."""
    width = depth + 1
    if len(directory) > 2 and directory[2].lower() == b"users":
        width = depth + 2
    return directory[:width]


def with_ancestors(key: Components) -> list[Components]:
    """The key and every ancestor prefix down to its first component."""
    return [key[:length] for length in range(1, len(key) + 1)]


@dataclass(frozen=True)
class DirClass:
    """What an entry in a given directory counts toward.

    ``records`` are the record paths (keys and ancestors, over every root
    the directory is under); ``exact`` are the records whose path is the
    directory itself (a directory entry there sets that record's group).
    """

    records: tuple[Components, ...]
    exact: tuple[Components, ...]


NOT_INSPECTED = DirClass((), ())


def classify(directory: bytes, matchers: Sequence[RootMatcher], depth: int) -> DirClass:
    """The DirClass of an absolute directory path."""
    path = split_path(directory)
    records: dict[Components, None] = {}
    exact: dict[Components, None] = {}
    for matcher in matchers:
        relative = matcher.relative(path)
        if relative is None:
            continue
        key = record_key(relative, depth)
        records.update(dict.fromkeys(with_ancestors(key)))
        if key == relative:
            exact[key] = None
    if not records:
        return NOT_INSPECTED
    return DirClass(tuple(records), tuple(exact))
