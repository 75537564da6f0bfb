"""Arrow binary_view arrays over byte spans, against plain slicing."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from utils.snapshots.byteviews import VIEW_SLACK, binary_views, equal_ignoring_case, spans_of


def buffer_of(values: list[bytes], gap: bytes = b"") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values laid out one after another (with ``gap`` between), plus slack."""
    text = bytearray()
    starts, ends = [], []
    for value in values:
        starts.append(len(text))
        text += value
        ends.append(len(text))
        text += gap
    data = np.frombuffer(bytes(text) + bytes(VIEW_SLACK), dtype=np.uint8)
    return data, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def test_views_equal_the_slices_at_every_length() -> None:
    values = [b"", b"a", b"abcd", b"abcde", b"x" * 12, b"y" * 13, b"/lustre/scratch118/p", b"\0\xff\n"]
    data, starts, ends = buffer_of(values, gap=b"\x01\x02")
    views = binary_views(data, starts, ends)
    views.validate(full=True)
    assert views.type == pa.binary_view()
    assert views.to_pylist() == values
    assert views.cast(pa.binary()).to_pylist() == values


def test_random_spans_inside_one_buffer() -> None:
    rng = random.Random(7)
    text = bytes(rng.randrange(256) for _ in range(5000))
    data = np.frombuffer(text + bytes(VIEW_SLACK), dtype=np.uint8)
    starts = np.array([rng.randrange(len(text)) for _ in range(2000)], dtype=np.int64)
    ends = np.minimum(starts + [rng.randrange(40) for _ in range(2000)], len(text))
    views = binary_views(data, starts, ends)
    assert views.to_pylist() == [text[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
    # Arrow compares inline bytes and prefixes: equal values must encode as equal.
    encoded = pc.dictionary_encode(views)
    assert encoded.dictionary.to_pylist() == list(dict.fromkeys(views.to_pylist()))


def test_a_buffer_without_slack_is_refused() -> None:
    data = np.frombuffer(b"abcdef", dtype=np.uint8)
    with pytest.raises(ValueError, match="slack"):
        binary_views(data, np.array([0]), np.array([3]))


def test_spans_of_a_sliced_binary_array() -> None:
    array = pa.array([b"zero", b"one", b"", b"three"], type=pa.binary()).slice(1)
    data, starts, ends = spans_of(array)
    assert [bytes(data[s:e]) for s, e in zip(starts, ends)] == [b"one", b"", b"three"]
    assert len(data) >= int(starts.max()) + VIEW_SLACK


def test_equal_ignoring_case() -> None:
    values = [b"users", b"USERS", b"Users", b"user", b"usersx", b"u5ers", b"", b"UsErS"]
    data, starts, ends = buffer_of(values)
    assert equal_ignoring_case(data, starts, ends, b"users").tolist() == [
        True, True, True, False, False, False, False, True]
