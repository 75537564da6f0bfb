"""local_etag: the ETag S3 gives a file, checked against hashlib computed here."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from utils.splitter.s3 import MAX_PARTS, MiB, local_etag, part_size_for


def _write(tmp_path: Path, size: int, seed: int = 7) -> tuple[str, bytes]:
    data = random.Random(seed).randbytes(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return str(path), data


def _multipart(data: bytes, part: int) -> str:
    digests = b"".join(hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part))
    return f"{hashlib.md5(digests).hexdigest()}-{-(-len(data) // part)}"


def test_below_threshold_is_plain_md5(tmp_path: Path) -> None:
    path, data = _write(tmp_path, 9_999)
    assert local_etag(path, chunksize=1_000, threshold=10_000) == hashlib.md5(data).hexdigest()


def test_known_plain_value(tmp_path: Path) -> None:
    path = tmp_path / "hello"
    path.write_bytes(b"hello\n")
    assert local_etag(str(path), 5 * MiB, 64 * MiB) == "b1946ac92492d2347c6235b4d2611184"


def test_empty_file_is_md5_of_nothing_even_with_zero_threshold(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert local_etag(str(path), 1_000, 0) == "d41d8cd98f00b204e9800998ecf8427e"


@pytest.mark.parametrize("size,part,parts", [
    (2_500, 1_000, 3),     # a short last part
    (3_000, 1_000, 3),     # an exact multiple: no empty fourth part
    (10_000, 20_000, 1),   # at the threshold but smaller than one part: "-1"
    (3 * MiB + 17, MiB, 4),  # larger than the 1 MiB read block
])
def test_multipart_form(tmp_path: Path, size: int, part: int, parts: int) -> None:
    path, data = _write(tmp_path, size)
    expected = _multipart(data, part)
    assert expected.endswith(f"-{parts}")
    assert local_etag(path, chunksize=part, threshold=size) == expected


def test_multipart_known_value(tmp_path: Path) -> None:
    path = tmp_path / "ab"
    path.write_bytes(b"a" * 4 + b"b" * 4)
    # md5(md5("aaaa") + md5("bbbb")) computed independently
    digests = hashlib.md5(b"aaaa").digest() + hashlib.md5(b"bbbb").digest()
    assert local_etag(str(path), 4, 1) == hashlib.md5(digests).hexdigest() + "-2"


def test_part_size_doubles_to_fit_the_part_limit() -> None:
    chunk = 5 * MiB
    assert part_size_for(MAX_PARTS * chunk, chunk) == chunk
    assert part_size_for(MAX_PARTS * chunk + 1, chunk) == 2 * chunk
    assert part_size_for(4 * MAX_PARTS * chunk + 1, chunk) == 8 * chunk
