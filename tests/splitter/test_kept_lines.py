"""Joining a chunk's kept lines: the Arrow lane (with or without gaps between the rows)
and the slice lane give the same bytes."""

from __future__ import annotations

import random

import numpy as np
import pytest

from utils.snapshots.chunks import parse_block
from utils.splitter.split import _KeptLines
from utils.demo.synthetic import SyntheticOptions, synthetic_lines


@pytest.mark.parametrize("malformed", [0.0, 0.05], ids=["consecutive lines", "masked lines"])
def test_selections_join_to_the_raw_lines(malformed: float) -> None:
    lines = list(synthetic_lines("/lustre/scratch118", SyntheticOptions(
        seed=9, lines=4000, malformed_fraction=malformed)))
    chunk = parse_block(b"".join(lines)).chunk
    kept = chunk.lines()
    joined = _KeptLines(chunk)
    assert joined.array is not None
    assert joined.step == (1 if malformed == 0 else 2)  # gaps around malformed lines
    rng = random.Random(1)
    for _ in range(20):
        rows = np.array(sorted(rng.sample(range(len(kept)), rng.randrange(1, 300))))
        assert bytes(joined.joined(rows)) == b"".join(kept[row] + b"\n" for row in rows)


def test_a_last_line_without_newline_gets_one() -> None:
    lines = list(synthetic_lines("/lustre/scratch118", SyntheticOptions(seed=2, lines=50)))
    block = b"".join(lines)[:-1]
    chunk = parse_block(block).chunk
    joined = _KeptLines(chunk)
    assert joined.array is None  # the last value would lack its newline
    rows = np.array([0, len(lines) - 2, len(lines) - 1])
    assert bytes(joined.joined(rows)) == lines[0] + lines[-2] + lines[-1]
