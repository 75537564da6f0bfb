"""Go's ``%q`` quoting of byte strings, as wrstat 6 writes paths (for the generator).

The bytes are walked as UTF-8.  A byte that does not start a valid UTF-8
sequence (a stray continuation byte, an overlong form, an encoded surrogate,
a code point above U+10FFFF) is written ``\\xNN``.  Of the valid runes, ``"``
and ``\\`` are backslashed, printable runes (letters, marks, numbers,
punctuation, symbols and the ASCII space) are written as they are, and the
rest as ``\\a \\b \\f \\n \\r \\t \\v``, ``\\xNN`` (other ASCII controls and
DEL), ``\\uNNNN`` or ``\\UNNNNNNNN`` (lower-case hex).  Printability comes from
Python's Unicode database, which may lag Go's by a version for code points
assigned in between; the generator's names avoid those.
"""

from __future__ import annotations

import unicodedata

_NAMED_CONTROLS = {0x07: b"\\a", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r",
                   0x09: b"\\t", 0x0B: b"\\v"}
_PRINTABLE_CATEGORIES = frozenset("LMNPS")  # first letter of the general category


def go_quote(value: bytes) -> bytes:
    """``value`` quoted as Go's ``fmt.Sprintf("%q", string(value))`` does."""
    out = [b'"']
    index = 0
    while index < len(value):
        rune, width = _next_rune(value, index)
        if rune is None:
            out.append(b"\\x%02x" % value[index])
        else:
            out.append(_escaped(rune, value[index:index + width]))
        index += width
    out.append(b'"')
    return b"".join(out)


def _next_rune(value: bytes, index: int) -> tuple[int | None, int]:
    """The code point at ``index`` and its width; (None, 1) for a byte that is not valid UTF-8."""
    lead = value[index]
    width = 1 if lead < 0x80 else 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF \
        else 4 if 0xF0 <= lead <= 0xF4 else 0
    if width == 0:
        return None, 1
    try:  # Python's strict decoder refuses overlong forms, surrogates and > U+10FFFF, as Go does
        decoded = value[index:index + width].decode("utf-8")
    except UnicodeDecodeError:
        return None, 1
    return ord(decoded), width


def _escaped(rune: int, encoded: bytes) -> bytes:
    if rune in (0x22, 0x5C):
        return b"\\" + encoded
    if rune == 0x20 or unicodedata.category(chr(rune))[0] in _PRINTABLE_CATEGORIES:
        return encoded
    if rune in _NAMED_CONTROLS:
        return _NAMED_CONTROLS[rune]
    if rune < 0x20 or rune == 0x7F:
        return b"\\x%02x" % rune
    if rune < 0x10000:
        return b"\\u%04x" % rune
    return b"\\U%08x" % rune
