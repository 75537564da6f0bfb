"""Names and paths as text for sinks that only hold valid UTF-8 (the database, S3 keys).

Group, user and PI names come from the directory as ``str`` in which bytes
that are not UTF-8 are kept as surrogate escapes; paths come from snapshots
as ``bytes``.  The TSV files write those bytes unchanged.  The database and
S3 object keys need valid UTF-8, so there such a name is written with one
documented, reversible escape (see docs/database.md):

* a backslash is written as two backslashes (``\\\\``);
* a byte that is not part of valid UTF-8 is written as ``\\xNN`` (two
  lower-case hex digits).

Valid UTF-8 without backslashes is unchanged, and distinct names always stay
distinct: a directory named with the byte 0xff becomes ``\\xff`` while one
literally named ``\\xff`` becomes ``\\\\xff``.
"""

from __future__ import annotations

import re

_ESCAPED = re.compile(rb"\\\\|\\x([0-9a-f]{2})")


def escape_bytes(raw: bytes) -> str:
    """``raw`` as valid UTF-8 text with the escape described above."""
    return raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def escape_name(name: str) -> str:
    """A directory name (``str``, non-UTF-8 bytes as surrogate escapes) as escaped text."""
    return escape_bytes(name.encode("utf-8", "surrogateescape"))


def unescape_bytes(text: str) -> bytes:
    """The bytes :func:`escape_bytes` was given (its exact inverse)."""
    return _ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else b"\\",
                        text.encode("utf-8"))
