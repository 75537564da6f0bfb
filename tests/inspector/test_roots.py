"""Inspection roots: glob components, record keys, the users rule, several roots."""

from __future__ import annotations

import fnmatch
import re

import pytest

from utils.inspector.regex_width import matching_suffix
from utils.inspector.roots import InspectRoot, OUTSIDE_ROOTS, _component_regex, classify, record_key

GLOBS = [b"mdt[0-9]", b"proj*", b"a?c", b"x[!0-9]y", b"lit.eral", b"*", b"[]a]", b"[!]a]z",
         b"[^a]", b"[a", b"a[[]b", b"back\\slash", b"\xe9t\xe9"]
NAMES = [b"mdt0", b"mdtx", b"projects", b"abc", b"a/c", b"x5y", b"xay", b"lit.eral", b"litXeral",
         b"]", b"a", b"bz", b"]z", b"^", b"b", b"[a", b"a[b", b"back\\slash", b"", b"\xe9t\xe9"]


@pytest.mark.parametrize("glob", GLOBS)
def test_component_globs_match_like_fnmatch_within_one_component(glob: bytes) -> None:
    regex = re.compile(b"(?:" + _component_regex(glob) + rb")\Z", re.DOTALL)
    for name in NAMES:
        expected = b"/" not in name and fnmatch.fnmatchcase(name.decode("latin-1"),
                                                            glob.decode("latin-1"))
        assert (regex.match(name) is not None) == expected, (glob, name)


def test_root_prefixes() -> None:
    root = InspectRoot("/lustre/scratch119/realdata/mdt[0-9]/projects")
    assert root.literal_prefix == b"/lustre/scratch119/realdata/mdt"
    assert root.encoded_prefix == b"L2x1c3RyZS9zY3JhdGNoMTE5L3JlYWxkYXRhL21k"
    matcher = root.matcher()
    assert matcher.matches(b"/lustre/scratch119/realdata/mdt3/projects")
    assert matcher.matches(b"/lustre/scratch119/realdata/mdt3/projects/p1/x")
    assert not matcher.matches(b"/lustre/scratch119/realdata/mdt3/projectsX")
    assert not matcher.matches(b"/lustre/scratch119/realdata/mdtX/projects/p1")
    assert matcher.pattern == "^/lustre/scratch119/realdata/mdt[0-9]/projects(?:/|$)"


@pytest.mark.parametrize("directory, depth, key", [
    ((b"projects", b"p1", b"sub", b"deep"), 2, (b"projects", b"p1", b"sub")),
    ((b"projects", b"p1"), 2, (b"projects", b"p1")),
    ((b"projects", b"p1", b"users", b"bob", b"x"), 2, (b"projects", b"p1", b"users", b"bob")),
    ((b"projects", b"p1", b"USERS", b"bob", b"x"), 2, (b"projects", b"p1", b"USERS", b"bob")),
    ((b"projects", b"p1", b"users"), 2, (b"projects", b"p1", b"users")),
    ((b"projects", b"p1", b"users", b"bob"), 1, (b"projects", b"p1", b"users")),
    ((b"projects", b"p1", b"users", b"bob"), 0, (b"projects", b"p1")),
    ((b"projects", b"users", b"p1"), 2, (b"projects", b"users", b"p1")),  # users is c1 here
])
def test_record_key(directory, depth, key) -> None:
    assert record_key(directory, depth) == key


def test_classify_over_several_roots() -> None:
    roots = [InspectRoot("/v/mdt[0-9]/projects").matcher(), InspectRoot("/v/*/projects").matcher()]
    found = classify(b"/v/mdt0/projects/p1/sub/deep", roots, 2)
    assert found.records == ((b"projects",), (b"projects", b"p1"), (b"projects", b"p1", b"sub"))
    assert found.exact == ()
    exact = classify(b"/v/mdt1/projects/p1", roots, 2)
    assert exact.exact == ((b"projects", b"p1"),)
    assert classify(b"/v/other/place", roots, 2) is OUTSIDE_ROOTS


@pytest.mark.parametrize("pattern, width", [
    (r"\.(bam|sam)(\.gz)?$", 8), (r"\.cram(\.gz)?$", 9), (r"[a-z]{2,5}\.txt$", 10),
    (r"^s[0-9]+-sample", None), (r"a|b$", None), (r"(?<=x)\.bam$", None), (r"\bfoo$", None),
    (r".*\.bam$", None), (r"(x|\bq)$", None), (r"(a)\1$", None), (r"(?:ab)+$", None),
])
def test_which_patterns_only_look_at_a_bounded_ending(pattern: str, width) -> None:
    assert matching_suffix(pattern) == width
