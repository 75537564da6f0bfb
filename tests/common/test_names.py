"""The escape that keeps names valid UTF-8 and distinct in the database and S3 keys."""

from __future__ import annotations

import itertools

import pytest

from utils.common.names import escape_bytes, escape_name, unescape_bytes

CASES = [
    (b"plain", "plain"),
    (b"caf\xc3\xa9", "caf\u00e9"),
    (b"\xff", "\\xff"),
    (b"\\xff", "\\\\xff"),
    (b"a\\b", "a\\\\b"),
    (b"bad\xff\xfeutf8", "bad\\xff\\xfeutf8"),
    (b"\xf0\x9f\x98\x80", "\U0001F600"),
    (b"\xed\xa0\x80", "\\xed\\xa0\\x80"),  # an encoded surrogate is not valid UTF-8
    (b"", ""),
]


@pytest.mark.parametrize("raw, text", CASES)
def test_escape_is_exact_and_reversible(raw: bytes, text: str) -> None:
    assert escape_bytes(raw) == text
    assert unescape_bytes(text) == raw


def test_name_with_surrogate_escapes_is_escaped_like_its_bytes() -> None:
    assert escape_name(b"bad\xffname".decode("utf-8", "surrogateescape")) == "bad\\xffname"


def test_distinct_byte_strings_stay_distinct() -> None:
    alphabet = [b"\\", b"x", b"f", b"\xff", b"\xc3", b"\xa9", b"a"]
    seen: dict[str, bytes] = {}
    for length in range(5):
        for parts in itertools.product(alphabet, repeat=length):
            raw = b"".join(parts)
            text = escape_bytes(raw)
            assert seen.setdefault(text, raw) == raw
            text.encode("utf-8")  # always valid UTF-8
