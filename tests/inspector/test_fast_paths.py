"""The vectorised passes agree with the plain per-line reference implementations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.reference import inspect_reference, read_lines, usage_by_gid
from utils.common.config import DEFAULT_FILETYPES
from utils.inspector import aggregate as inspector
from utils.inspector.aggregate import inspect_snapshot, plan_for_roots
from utils.directory.ldap import DirectorySnapshot
from utils.snapshots.discovery import open_snapshot
from utils.report.rows import days_since
from utils.demo.synthetic import SyntheticOptions, synthetic_lines, write_snapshot
from utils.report.usage import aggregate_usage

MOUNT = "/lustre/scratch118"
ROOTS = [f"{MOUNT}/humgen/projects", f"{MOUNT}/realdata/mdt[0-9]/projects", f"{MOUNT}/users"]
NO_NAMES = DirectorySnapshot(humgen={}, pis={}, posix={})


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A generated snapshot with every kind of oddity, large enough for many chunks."""
    path = tmp_path_factory.mktemp("fast") / "20251124_118.dat.gz"
    options = SyntheticOptions(seed=21, lines=120_000, malformed_fraction=0.008,
                               bad_base64_fraction=0.01, unusual_fraction=0.01)
    write_snapshot(str(path), synthetic_lines(MOUNT, options), mtime=1_764_000_000.25)
    return str(path)


def test_usage_matches_reference(snapshot: str) -> None:
    found = aggregate_usage(open_snapshot(snapshot))
    expected = usage_by_gid(read_lines(snapshot), open_snapshot(snapshot).time)
    assert {gid: (g.used, g.last_mtime) for gid, g in found.items()} == expected


@pytest.mark.parametrize("decode", ["whole chunks", "prefix-selected rows"])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_inspector_matches_reference(snapshot: str, depth: int, decode: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspector, "_mostly_under_prefixes",
                        lambda encoded, plan: decode == "whole chunks")
    opened = open_snapshot(snapshot)
    plan = plan_for_roots(ROOTS, depth, DEFAULT_FILETYPES, opened.time)
    records = inspect_snapshot(opened, "scratch118", plan, NO_NAMES)
    found = {r.path: (r.size, r.num_files, list(r.filetype_sizes), r.gid, r.last_modified)
             for r in records}
    reference = inspect_reference(read_lines(snapshot), ROOTS, depth, DEFAULT_FILETYPES,
                                  opened.time)
    expected = {key: (v["size"], v["files"], v["types"], v["gid"],
                      days_since(opened.time, v["mtime"])) for key, v in reference.items()}
    assert found == expected
    assert [r.key for r in records] == sorted(b"/".join(key) for key in expected)


def test_custom_filetypes_first_match_wins(tmp_path: Path) -> None:
    """Overlapping patterns: a name counts toward the first type that matches it."""
    path = tmp_path / "20251124_118.dat.gz"
    write_snapshot(str(path), synthetic_lines(MOUNT, SyntheticOptions(seed=3, lines=20_000)),
                   mtime=1_764_000_000)
    filetypes = {"GZ": r"\.gz$", "VCF": r"\.vcf(\.gz)?$", "SAMPLE": r"^s[0-9]+-sample"}
    opened = open_snapshot(str(path), 118, dt.date(2025, 11, 24))
    plan = plan_for_roots(ROOTS[:1], 2, filetypes, opened.time)
    records = inspect_snapshot(opened, "scratch118", plan, NO_NAMES)
    reference = inspect_reference(read_lines(str(path)), ROOTS[:1], 2, filetypes, opened.time)
    assert {r.path: list(r.filetype_sizes) for r in records} == {
        key: value["types"] for key, value in reference.items()}
    assert any(r.filetype_sizes[2] for r in records)  # the third type is reached
