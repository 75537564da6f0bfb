"""Small vectorised helpers of the inspector, against Arrow's string kernels."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from utils.snapshots.byteviews import spans_of
from utils.inspector.aggregate import _non_canonical


def test_non_canonical_directories_are_found_like_arrow_finds_them() -> None:
    rng = random.Random(5)
    for _ in range(300):
        values = [bytes(rng.choice(b"/ab") for _ in range(rng.randrange(0, 8)))
                  for _ in range(rng.randrange(1, 12))]
        array = pa.array(values, pa.binary())
        if rng.random() < 0.3:
            array = array.slice(1)
        data, starts, ends = spans_of(array)
        found = _non_canonical(data, np.flatnonzero(data == ord("/")), starts, ends)
        expected = (pc.match_substring(array, "//").to_numpy(zero_copy_only=False)
                    | pc.ends_with(array, "/").to_numpy(zero_copy_only=False))
        assert found.tolist() == expected.tolist(), array.to_pylist()
