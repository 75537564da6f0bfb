"""File types of names: the cached 64-bit-key lane and the general lane against re.search."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from utils.snapshots.byteviews import VIEW_SLACK
from utils.common.config import DEFAULT_FILETYPES
from utils.inspector import filetypes
from utils.inspector.filetypes import NO_TYPE, FileTypeMatcher

EXTENSIONS = ["bam", "BAM", "sam.gz", "cram", "Cram.GZ", "vcf", "vcf.gz", "gvcf.gz", "bcf",
              "ped", "bed.gz", "bed.gzx", "txt", "gz", "tbi", "vcf.gz.tbi", ""]


def reference(names: list[bytes], filetypes: dict[str, str]) -> list[int]:
    patterns = [re.compile(p.encode(), re.IGNORECASE) for p in filetypes.values()]
    return [next((i for i, p in enumerate(patterns) if p.search(name)), NO_TYPE) for name in names]


def random_names(rng: random.Random, count: int) -> list[bytes]:
    names = []
    for _ in range(count):
        stem = bytes(rng.choice(b"abcXYZ019-_.\xe9\xff") for _ in range(rng.randrange(0, 12)))
        extension = rng.choice(EXTENSIONS)
        names.append(stem + (b"." + extension.encode() if extension else b""))
    return names


def laid_out(names: list[bytes], lead: bytes = b"/some/dir/") -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """Names as spans of one buffer (each after a directory prefix), with slack."""
    text = bytearray()
    starts, ends = [], []
    for name in names:
        text += lead
        starts.append(len(text))
        text += name
        ends.append(len(text))
    data = np.frombuffer(bytes(text) + bytes(VIEW_SLACK), dtype=np.uint8)
    return data, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def test_default_types_take_the_key_lane_and_match_re() -> None:
    rng = random.Random(11)
    matcher = FileTypeMatcher(DEFAULT_FILETYPES)
    for _ in range(3):  # later calls answer from the cache
        names = random_names(rng, 3000)
        data, starts, ends = laid_out(names)
        assert matcher._ending_keys(data, starts, ends) is not None
        assert matcher.types_of(data, starts, ends).tolist() == reference(names, DEFAULT_FILETYPES)
    assert len(matcher._known[0]) > 0


def test_the_remembered_endings_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filetypes, "_CACHE_LIMIT", 10)
    rng = random.Random(12)
    matcher = FileTypeMatcher(DEFAULT_FILETYPES)
    for _ in range(3):
        names = random_names(rng, 500)
        data, starts, ends = laid_out(names)
        assert matcher.types_of(data, starts, ends).tolist() == reference(names, DEFAULT_FILETYPES)
    assert len(matcher._known[0]) == len(matcher._known[1]) == 10


@pytest.mark.parametrize("odd", [b"nul\0in.bam", b"x.bam\n"], ids=["nul", "final-newline"])
def test_names_a_key_cannot_hold_take_the_general_lane(odd: bytes) -> None:
    names = [b"a.bam", odd, b"b.vcf.gz", b"c.txt"]
    data, starts, ends = laid_out(names)
    matcher = FileTypeMatcher(DEFAULT_FILETYPES)
    assert matcher._ending_keys(data, starts, ends) is None
    # RE2's $ only matches at the very end, so "x.bam\n" has no type.
    expected = [0, 0 if odd.startswith(b"nul") else NO_TYPE, 2, NO_TYPE]
    assert matcher.types_of(data, starts, ends).tolist() == expected


def test_a_name_at_the_start_of_the_buffer() -> None:
    names = [b"a.bam", b"b.cram"]
    data, starts, ends = laid_out(names, lead=b"")
    assert FileTypeMatcher(DEFAULT_FILETYPES).types_of(data, starts, ends).tolist() == [0, 1]


def test_unbounded_patterns_match_whole_names_first_match_wins() -> None:
    filetypes = {"GZ": r"\.gz$", "SAMPLE": r"^s[0-9]+-sample", "ANY_BAM": r"bam"}
    matcher = FileTypeMatcher(filetypes)
    assert matcher.suffix_length is None
    names = [b"s1-sample2.vcf.gz", b"s1-sample2.vcf", b"my.bam.bai", b"S12-SAMPLE", b"other", b""]
    data, starts, ends = laid_out(names)
    assert matcher.types_of(data, starts, ends).tolist() == reference(names, filetypes)


def test_no_patterns() -> None:
    data, starts, ends = laid_out([b"a.bam"])
    assert FileTypeMatcher({}).types_of(data, starts, ends).tolist() == [NO_TYPE]
