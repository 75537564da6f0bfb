"""Path fields of both encodings: Go unquoting (every escape, every malformed quoting),
the vectorised decoder against the per-field one, trailing slashes, prefix filters."""

from __future__ import annotations

import base64

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, strategies as st

from tests.hostile import HOSTILE, Domain, path_fields
from tests.reference import decode_path as reference_decode_path, unquote_go
from utils.demo.goquote import go_quote
from utils.snapshots.pathfields import (decode_path, decode_path_spans, decode_paths,
                                        prefix_candidates, unquote)


@pytest.mark.parametrize("field, path", [
    (b'"/a b"', b"/a b"),
    (b'""', b""),
    (b'"\\a\\b\\f\\n\\r\\t\\v\\\\\\""', b'\x07\x08\x0c\n\r\t\x0b\\"'),
    (b'"\\x00\\xff\\xFf\\x2Fa"', b"\x00\xff\xff/a"),
    (b'"\\000\\101\\377"', b"\x00A\xff"),
    (b'"\\u00e9\\u20AC"', "é€".encode()),
    (b'"\\U0001F600\\U0010FFFF"', "😀\U0010ffff".encode()),
    (b'"\\uD7FF\\uE000"', "\ud7ff\ue000".encode()),
    (b'"raw \xff\x00\r bytes"', b"raw \xff\x00\r bytes"),
    (b'"it\'s"', b"it's"),
])
def test_quoted_fields_unquote(field: bytes, path: bytes) -> None:
    assert unquote(field) == path
    assert reference_decode_path(field) == decode_path(field) == path


@pytest.mark.parametrize("field", [
    b'"/a',              # unterminated
    b'"',                # a lone quote
    b'"/a\\"',           # the closing quote is escaped: unterminated
    b"\"/a\\'\"",        # \' is not a Go string escape
    b'"/a\\q"',          # an unknown escape
    b'"/a\\x4"',         # \x with one digit
    b'"/a\\x4g"',        # \x with a digit that is not hex
    b'"/a\\400"',        # octal above 377
    b'"/a\\38"',         # octal with a digit that is not octal
    b'"/a\\12"',         # octal with two digits
    b'"/a\\u12"',        # \u with too few digits
    b'"/a\\ud800"',      # a surrogate
    b'"/a\\uDFFF"',      # a surrogate
    b'"/a\\U00110000"',  # above U+10FFFF
    b'"/a\\UFFFFFFFF"',  # far above
    b'"/a"b"',           # a raw quote inside
    b'"/a" x',           # text after the closing quote
    b'"/a\nb"',          # a raw newline
])
def test_malformed_quoting_does_not_unquote(field: bytes) -> None:
    assert unquote(field) is None
    assert decode_path(field) is None
    paths, valid = decode_paths(pa.array([b'"/ok"', field, b"L29r"], type=pa.binary()))
    assert valid.tolist() == [True, False, True]
    assert paths.to_pylist()[0::2] == [b"/ok", b"/ok"]


@HOSTILE
@given(st.lists(st.sampled_from([b"\\", b'"', b"\n", b"x", b"u", b"U", b"0", b"7", b"8", b"f",
                                 b"D", b"n", b"'", b"\xff", b"ab/"]), max_size=24))
def test_unquote_agrees_with_the_reference_on_any_escape_soup(pieces: list[bytes]) -> None:
    field = b'"' + b"".join(pieces) + b'"'
    assert unquote(field) == unquote_go(field)


@pytest.mark.parametrize("field", [b"L3g==", b"L3g=A", b"=L3g", b"L3g", b"L3g=QQ==",
                                   base64.b64encode(b"/lustre/a/") + b"="])
def test_base64_that_is_not_padded_standard_does_not_decode(field: bytes) -> None:
    paths, valid = decode_paths(pa.array([b"L29r", field], type=pa.binary()))
    assert valid.tolist() == [True, False]
    assert reference_decode_path(field) is None


def test_one_trailing_slash_is_removed_from_paths_longer_than_slash() -> None:
    fields = [b'"/a/b/"', b'"/"', b'"//"', base64.b64encode(b"/a/"), base64.b64encode(b"/"),
              b'"/a\\x2f"', b'"x/"']
    paths, valid = decode_paths(pa.array(fields, type=pa.binary()))
    assert valid.all()
    assert paths.to_pylist() == [b"/a/b", b"/", b"/", b"/a", b"/", b"/a", b"x"]


@HOSTILE
@given(st.lists(path_fields(Domain.AMENDED), max_size=30), st.integers(1, 4))
def test_vectorised_decoding_matches_the_reference(fields: list[bytes], pieces: int) -> None:
    cuts = sorted({0, len(fields)} | {len(fields) * k // pieces for k in range(pieces)})
    chunked = pa.chunked_array([pa.array(fields[a:b], type=pa.binary())
                                for a, b in zip(cuts, cuts[1:])], type=pa.binary())
    spans = decode_path_spans(chunked)
    expected = [reference_decode_path(field) for field in fields]
    assert spans.valid.tolist() == [path is not None for path in expected]
    assert spans.to_array().to_pylist() == [path or b"" for path in expected]


@HOSTILE
@given(st.lists(path_fields(Domain.AMENDED), max_size=30),
       st.sampled_from([b"/lustre/scratch118/vr/projects", b"/l", b"/lustre/scratch118/humgen/pr"]))
def test_prefix_candidates_keep_every_path_under_the_prefix(fields: list[bytes], prefix: bytes) -> None:
    candidates = prefix_candidates(pa.array(fields, type=pa.binary()), [prefix])
    for field, candidate in zip(fields, candidates.tolist()):
        path = reference_decode_path(field)
        if path is not None and path.startswith(prefix):
            assert candidate, field


def test_prefix_candidates_filter_both_encodings() -> None:
    inside, outside = b"/lustre/scratch118/vr/projects/x", b"/lustre/scratch118/other/x"
    fields = [base64.b64encode(inside), base64.b64encode(outside), go_quote(inside),
              go_quote(outside), b'"/lustre/scratch118/vr/proj\\x65cts/y"']
    found = prefix_candidates(pa.array(fields, type=pa.binary()), [b"/lustre/scratch118/vr/"])
    assert found.tolist() == [True, False, True, False, True]
    assert not prefix_candidates(pa.array(fields, type=pa.binary()), []).any()
    assert np.array_equal(prefix_candidates(pa.array(fields, type=pa.binary()), [b"/"]),
                          [True] * 5)
