"""Decoding a chunk's base64 path fields at once, against base64.b64decode field by field."""

from __future__ import annotations

import base64
import binascii
import random

import pyarrow as pa
import pytest

from utils.snapshots import b64paths
from utils.snapshots.b64paths import decode_path_spans, decode_paths, encoded_prefix
from utils.snapshots.byteviews import VIEW_SLACK

ODD_FIELDS = [
    b"QQ==", b"QUI=", b"QUJD", b"QR==", b"QUJ=",  # padding, and non-canonical padding bits
    b"Q===", b"QQ=", b"QQ", b"Q", b"QQ==QUJD", b"QU=D", b"=QUJ",  # invalid
    b"not*base64", b"L2E=", b"////", b"+/+/", b"QUJDRA==",
]


def reference(field: bytes) -> tuple[bytes, bool]:
    try:
        return base64.b64decode(field, validate=True), True
    except (binascii.Error, ValueError):
        return b"", False


@pytest.fixture(params=["simd", "binascii"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the SIMD decoder and with the stdlib fallback."""
    if request.param == "binascii":
        monkeypatch.setattr(b64paths, "_decode_whole",
                            lambda text: binascii.a2b_base64(text, strict_mode=True))
    return request.param


def check(fields: list[bytes]) -> None:
    decoded, valid = decode_paths(pa.array(fields, type=pa.binary()))
    assert list(zip(decoded.to_pylist(), valid.tolist())) == [reference(f) for f in fields]


@pytest.mark.parametrize("odd", ODD_FIELDS)
def test_one_odd_field_among_good_ones(decoder: str, odd: bytes) -> None:
    check([b"L2x1c3RyZQ==", odd, b"L3gveS56", b"L2E="])


def test_random_paths_round_trip(decoder: str) -> None:
    rng = random.Random(4)
    paths = [bytes(rng.randrange(0, 256) for _ in range(rng.randrange(1, 90))) for _ in range(3000)]
    paths[:3] = [b"ends in NUL\0", b"\0\0", b"\0"]  # spans, not trimming: NULs survive
    fields = [base64.b64encode(path) for path in paths]
    decoded, valid = decode_paths(pa.array(fields, type=pa.binary()))
    assert decoded.to_pylist() == paths and valid.all()


def test_chunked_input_decodes_to_spans_of_one_buffer(decoder: str) -> None:
    paths = [b"/lustre/a", b"/b", b"/lustre/scratch118/p/x.bam"]
    encoded = pa.chunked_array([pa.array([base64.b64encode(p) for p in paths[:1]], pa.binary()),
                                pa.array([], pa.binary()),
                                pa.array([base64.b64encode(p) for p in paths[1:]], pa.binary())])
    spans = decode_path_spans(encoded)
    assert [bytes(spans.data[s:e]) for s, e in zip(spans.starts, spans.ends)] == paths
    assert len(spans.data) >= int(spans.starts.max()) + VIEW_SLACK
    assert spans.valid.all() and len(spans) == 3


def test_sliced_input_and_empty(decoder: str) -> None:
    array = pa.array([b"QQ==", b"QUJD", b"QUI="], type=pa.binary()).slice(1, 2)
    assert decode_paths(array)[0].to_pylist() == [b"ABC", b"AB"]
    assert len(decode_paths(pa.array([], type=pa.binary()))[0]) == 0


def test_encoded_prefix_is_shared_by_every_continuation() -> None:
    prefix = b"/lustre/scratch116/vr/projects"
    shared = encoded_prefix(prefix)
    for tail in (b"", b"/", b"/x", b"/p1/file.bam", b"\xff\xfe"):
        assert base64.b64encode(prefix + tail).startswith(shared)
    assert encoded_prefix(b"/a") == b""  # fewer than 3 bytes: no usable prefix
