"""When does a regex only look at the end of a string?  (A speed-up for file types.)

A pattern such as ``\\.(bam|sam)(\\.gz)?$`` can only match within the last few
characters of a name: it ends with ``$`` at its top level, every match has a
bounded length, and nothing in it depends on what comes before the match
(``^``, ``\\b``, look-arounds, back-references).  For such patterns,
searching the name's last ``N`` characters gives the same answer as searching
the whole name, and names share endings far more often than they are equal.
"""

from __future__ import annotations

import re

try:  # the standard library's regex parser (private, but stable across 3.11+)
    from re import _constants as _c
    from re import _parser
except ImportError:  # pragma: no cover - another Python: no speed-up
    _parser = _c = None

_MAX_WIDTH = 1000
_REPEATS = () if _c is None else tuple(
    getattr(_c, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(_c, name))


def matching_suffix(pattern: str) -> int | None:
    """N such that searching a string's last N characters equals searching all of it.

    None when that cannot be shown for ``pattern`` (the caller then matches
    whole strings).  ``$`` may also match before a final newline, hence the +1.
    """
    if _parser is None:
        return None
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError):
        return None
    items = list(tree)
    if not items or items[-1] != (_c.AT, _c.AT_END) or _depends_on_context(items):
        return None
    _, widest = tree.getwidth()
    return widest + 1 if widest < _MAX_WIDTH else None


def _depends_on_context(items: list) -> bool:
    """Whether a parsed pattern looks outside its own match (anchors other than $,
    word boundaries, look-arounds, back-references)."""
    for op, value in items:
        if op in (_c.ASSERT, _c.ASSERT_NOT, _c.GROUPREF, _c.GROUPREF_EXISTS):
            return True
        if op is _c.AT and value is not _c.AT_END:
            return True
        if op is _c.SUBPATTERN and _depends_on_context(list(value[-1])):
            return True
        if op is _c.BRANCH and any(_depends_on_context(list(b)) for b in value[1]):
            return True
        if op in _REPEATS and _depends_on_context(list(value[2])):
            return True
        if op is getattr(_c, "ATOMIC_GROUP", None) and _depends_on_context(list(value)):
            return True
    return False
