"""The group splitter (docs/splitter.md) on generated snapshots, an LDIF directory and a real moto S3.

Expected outputs come from an independent per-line filter built on
tests/reference.py; the written files are read back with the system's
``zcat`` and checked with ``gzip -t``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import unquote

import pytest

from tests.fixtures.s3 import (INJECTED_CAUSE, FaultyS3Proxy, S3Bucket, retry_warning,
                                retry_warnings)
from tests.reference import parse_line, read_lines
from utils.common.config import DEFAULT_ANY_GROUP_PREFIXES, load_config
from utils.common.errors import LurgeError
from utils.directory.ldap import load_directory
from utils.splitter.run import SplitOutcome, run_splitter
from utils.snapshots.discovery import choose_snapshots
from utils.demo.synthetic import SyntheticOptions, format_line, synthetic_lines, write_snapshot

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "group_splitter.py"
GROUP_BASE = "ou=group,dc=example,dc=org"
MOUNTS = {116: "/lustre/scratch116", 118: "/lustre/scratch118", 119: "/lustre/scratch119"}
SPLIT_VOLUMES = (118, 116)  # config order: 118 first
TODAY = dt.date.today()
HEADER = b"Group\tBuild time (sec)\tMemory use (bytes)\n"
S3_PREFIX = "mpistat/"
CLI_TIMEOUT = 120

# (gid, name, is humgen); 99999 and 3000 are unknown to the directory.
GROUPS = (
    (999, "nines", True), (1001, "hgi", True), (1002, "mueller-lab", True),
    (1003, "tanaka-lab", True), (1004, "emeritus-proj", True), (1005, "orphans", True),
    (2001, "ops", False), (2002, "shared-dev", False),
    (3001, "ops", False),  # a second gid with the same name: one file
)


# --------------------------------------------------------------------------- inputs


def ldif_text(groups: Iterable[tuple[int, str, bool]]) -> str:
    """An ``ldapsearch -LLL``-style export: one posixGroup per gid (names base64-encoded)."""
    records = [f"dn: {GROUP_BASE}\nobjectClass: organizationalUnit\nou: group\n"]
    for gid, name, humgen in groups:
        classes = "objectClass: posixGroup\n"
        if humgen:
            classes += "objectClass: sangerHumgenProjectGroup\n"
        encoded = base64.b64encode(name.encode("utf-8", "surrogateescape")).decode()
        cn = f"cn:: {encoded}\n" if name else "cn:\n"
        records.append(f"dn: gidNumber={gid},{GROUP_BASE}\n{classes}{cn}gidNumber: {gid}\n")
    return "\n".join(records)


def toml_string(value: str) -> str:
    return json.dumps(value)


def write_config(tmp_path: Path, *, groups: Iterable[tuple[int, str, bool]] = GROUPS,
                 volumes: Sequence[int] = SPLIT_VOLUMES, s3: dict[str, object] | None = None) -> Path:
    """A config with an ``ldif:`` directory, mpistat in tmp_path/mpistat, output in tmp_path/out/groups."""
    ldif = tmp_path / "directory.ldif"
    ldif.write_text(ldif_text(groups), encoding="utf-8")
    lines = [
        "[paths]",
        f"mpistat_dir = {toml_string(str(tmp_path / 'mpistat'))}",
        f"report_dir = {toml_string(str(tmp_path / 'report'))}",
        "max_days_ago = 3",
        "max_malformed_fraction = 0.05",  # the generated volumes hold 2% malformed lines
        "[database]",
        f"url = {toml_string('sqlite:///' + str(tmp_path / 'lurge.db'))}",
        "[ldap]",
        f"url = {toml_string('ldif:' + str(ldif))}",
        f"group_base = {toml_string(GROUP_BASE)}",
        'people_base = "ou=people,dc=example,dc=org"',
        "[splitter]",
        f"volumes = [{', '.join(map(str, volumes))}]",
        f"output_dir = {toml_string(str(tmp_path / 'out' / 'groups'))}",
    ]
    if s3 is not None:
        lines.append("[s3]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in s3.items()]
    for number, mount in MOUNTS.items():
        lines += ["[[volume]]", f"number = {number}", f"mount = {toml_string(mount)}"]
    path = tmp_path / "lurge.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "mpistat").mkdir(exist_ok=True)
    (tmp_path / "report").mkdir(exist_ok=True)  # a missing report folder is a configuration error
    return path


def line(path: bytes, gid: int, kind: str = "f", *, sep: str = "\t", end: str = "\n") -> bytes:
    return format_line(path, 1234, 501, gid, 1_700_000_000, 1_700_000_100, 1_700_000_200, kind,
                       777, 1, 64768, sep=sep, end=end)


VR = b"/lustre/scratch116/vr/projects"
# Lines of volume 116 exercising the special-prefix rule, each with why it is (not) kept.
ANY_GROUP_LINES = (
    line(VR + b"/alpha/f1.bam", 2001),                          # named gid under a prefix: kept
    line(VR, 2002, "d"),                                        # exactly the prefix: kept
    line(VR + b"X/f", 2001),                                    # plain byte prefix: kept
    line(b"/lustre/scratch116/vr/project", 2001),               # shorter than the prefix: not kept
    line(b"/lustre/scratch116/tol/projects/\xff\xfe/bin", 2002),  # non-UTF-8 path: kept
    line(b"/lustre/scratch116/humgen/projects/x", 99999),       # unknown gid: not kept
    line(b"/lustre/scratch116/humgen/projects/y", 3000),        # unknown gid: not kept
    line(b"/lustre/scratch116/other/x", 2001),                  # elsewhere: not kept
    # the base64 text starts like the prefix's but is not valid base64: not kept, counted
    base64.b64encode(VR) + b"*!" + line(b"/z", 2001)[line(b"/z", 2001).index(b"\t"):],
    line(VR + b"/h", 1001),                                     # humgen: kept anyway
    line(VR + b"/crlf", 2001, end="\r\n"),                      # CRLF: kept byte for byte
    line(VR + b"/spaced", 2002, "d", sep="  "),                 # space-separated: kept
    line(VR + b"/short", 2001).replace(b"\t64768", b""),        # malformed: not kept
    line(b"/lustre/scratch116/nines/a", 999, "d"),              # low humgen gid
    line(b"/lustre/scratch116/nines/a/b", 999),
    line(VR + b"/same-name", 3001),                             # named like 2001: into ops
)


def volume_lines(volume: int, seed: int, count: int) -> list[bytes]:
    options = SyntheticOptions(seed=seed, lines=count, malformed_fraction=0.02,
                               bad_base64_fraction=0.01, unusual_fraction=0.02)
    return list(synthetic_lines(MOUNTS[volume], options))


def interleave(base: list[bytes], extra: Sequence[bytes]) -> list[bytes]:
    """``extra`` spread through ``base`` (order of both kept)."""
    result = list(base)
    step = max(1, len(base) // (len(extra) + 1))
    for index, item in enumerate(extra):
        result.insert((index + 1) * step + index, item)
    return result


def snapshot_path(tmp_path: Path, volume: int, date: dt.date) -> Path:
    return tmp_path / "mpistat" / f"{date:%Y%m%d}_{volume}.dat.gz"


def write_volume(tmp_path: Path, volume: int, lines: Iterable[bytes], date: dt.date = TODAY,
                 **kwargs: int) -> Path:
    path = snapshot_path(tmp_path, volume, date)
    path.parent.mkdir(exist_ok=True)
    write_snapshot(str(path), lines, **kwargs)
    return path


@pytest.fixture
def snapshots(tmp_path: Path) -> list[Path]:
    """Volume 118 today (plain synthetic), volume 116 yesterday (with ANY_GROUP_LINES)."""
    first = write_volume(tmp_path, 118, volume_lines(118, seed=11, count=3000))
    second = write_volume(tmp_path, 116, interleave(volume_lines(116, seed=12, count=3000),
                                                    ANY_GROUP_LINES), TODAY - dt.timedelta(days=1))
    return [first, second]


# --------------------------------------------------------------------------- expectations


def expected_split(files: Sequence[Path], groups: Iterable[tuple[int, str, bool]], *,
                   by_gid: bool = False,
                   prefixes: Sequence[str] = DEFAULT_ANY_GROUP_PREFIXES) -> dict[str, bytes]:
    """label -> uncompressed content, by a plain per-line reading of the selection rule."""
    humgen = {gid: name for gid, name, is_humgen in groups if is_humgen and name}
    named = {gid: name for gid, name, _ in groups if name}
    wanted = [prefix.encode() for prefix in prefixes]
    result: dict[str, bytes] = {}
    for path in files:
        for raw in read_lines(str(path)):
            record = parse_line(raw)
            if record is None:
                continue
            decoded = record.path
            kept = record.gid in humgen or (
                record.gid in named and decoded is not None
                and any(decoded.startswith(prefix) for prefix in wanted))
            if kept:
                label = str(record.gid) if by_gid else named[record.gid]
                result[label] = result.get(label, b"") + raw + b"\n"
    return result


def expected_index(contents: dict[str, bytes], *, by_gid: bool = False) -> bytes:
    """index.txt computed from the expected contents with the default constants."""
    rows = [HEADER]
    for label in sorted(contents, key=int if by_gid else None):
        records = [parse_line(raw) for raw in contents[label].split(b"\n")[:-1]]
        total = len(records)
        dirs = sum(1 for record in records if record.kind == b"d")
        percent = dirs / total * 100
        per_node = (12000 if percent < 0.8 else 10000 if percent < 1.5 else 9000 if percent < 2
                    else 8500 if percent < 4 else 8000)
        rows.append(f"{label}\t{total / 11000 + 100}\t{(dirs * 2 + 50) * per_node}\n".encode())
    return b"".join(rows)


def zcat(path: Path) -> bytes:
    """The file decompressed by the system's gzip tool, after ``gzip -t`` accepts it."""
    subprocess.run(["gzip", "-t", str(path)], check=True, capture_output=True, timeout=60)
    return subprocess.run(["zcat", str(path)], check=True, capture_output=True, timeout=60).stdout


def getent(database: str) -> bytes:
    return subprocess.run(["getent", database], check=True, capture_output=True, timeout=60).stdout


def assert_split_set(out: Path, contents: dict[str, bytes], *, by_gid: bool = False) -> None:
    """``out`` holds exactly the expected group files, index, dumps and the set's marker."""
    expected_files = {f"{label}.dat.gz" for label in contents} | {"index.txt", "groupfile", "passwdfile",
                                                                   ".lurge-split-set"}
    assert {p.name for p in out.iterdir()} == expected_files
    assert (out / ".lurge-split-set").is_file() and not (out / ".lurge-split-set").is_symlink()
    for label, content in contents.items():
        assert zcat(out / f"{label}.dat.gz") == content, label
    assert (out / "index.txt").read_bytes() == expected_index(contents, by_gid=by_gid)
    assert (out / "groupfile").read_bytes() == getent("group")
    assert (out / "passwdfile").read_bytes() == getent("passwd")


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` -> file bytes (None for directories)."""
    found: dict[str, bytes | None] = {}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = None if path.is_dir() else path.read_bytes()
    return found


def split(config_path: Path, *, by_gid: bool = False, getent_command: str = "getent") -> SplitOutcome:
    """One in-process run (no upload)."""
    config = load_config(str(config_path))
    return run_splitter(config, load_directory(config.ldap), choose_snapshots(config),
                        config.splitter_output_dir, by_gid=by_gid, upload=False,
                        getent=getent_command)


def run_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--config", str(config_path), *args],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=config_path.parent,
                          env=dict(os.environ))


def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out" / "groups"


def work_dirs(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "out").iterdir() if ".new-" in p.name or ".old-" in p.name)


# --------------------------------------------------------------------------- content


def test_name_mode_matches_the_reference_filter(tmp_path: Path, snapshots: list[Path],
                                                caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("utils.splitter.split.MAX_OPEN_FILES", 2)  # files are closed and reopened
    caplog.set_level(logging.INFO)
    config = write_config(tmp_path)

    outcome = split(config)

    contents = expected_split(snapshots, GROUPS)
    assert set(contents) == {name for _, name, _ in GROUPS}  # every group has lines
    assert ANY_GROUP_LINES[-1] in contents["ops"]
    assert contents["ops"].count(b"\n") > 20  # synthetic files of ops under the 116 prefixes
    for kept in ANY_GROUP_LINES[:3] + ANY_GROUP_LINES[4:5] + ANY_GROUP_LINES[10:12]:
        assert kept in contents["ops"] + contents["shared-dev"]
    everything = b"".join(contents.values())
    for dropped in (ANY_GROUP_LINES[3], *ANY_GROUP_LINES[5:9], ANY_GROUP_LINES[12]):
        assert dropped not in everything
    assert outcome.out_dir == str(out_dir(tmp_path))
    assert {label: (c.lines, c.dirs) for label, c in outcome.groups.items()} == {
        label: (data.count(b"\n"), sum(parse_line(raw).kind == b"d" for raw in data.split(b"\n")[:-1]))
        for label, data in contents.items()}
    assert_split_set(out_dir(tmp_path), contents)
    assert work_dirs(tmp_path) == []
    messages = [r.getMessage() for r in caplog.records]
    assert any(r.levelno == logging.WARNING and "volume 116: the newest snapshot" in r.getMessage()
               and "not today's" in r.getMessage() for r in caplog.records)
    assert not any("volume 118: the newest snapshot" in m for m in messages)
    assert "gids 2001 and 3001 are both named 'ops'; their lines go to one file, ops.dat.gz" in messages
    assert any("1 lines of named non-humgen groups have a path field that starts like a special "
               "prefix but does not decode; not kept" in m for m in messages)
    assert any(m.startswith("skipped ") and "malformed lines of 3016 in" in m and "_116" in m
               for m in messages)


def test_id_mode_names_files_by_gid_and_sorts_the_index_numerically(
        tmp_path: Path, snapshots: list[Path]) -> None:
    config = write_config(tmp_path)

    split(config, by_gid=True)

    contents = expected_split(snapshots, GROUPS, by_gid=True)
    gids = ["999", "1001", "1002", "1003", "1004", "1005", "2001", "2002", "3001"]
    assert sorted(contents) == sorted(gids)
    assert_split_set(out_dir(tmp_path), contents, by_gid=True)
    index_rows = (out_dir(tmp_path) / "index.txt").read_bytes().split(b"\n")[1:-1]
    assert [row.split(b"\t")[0].decode() for row in index_rows] == gids  # numeric order


def test_index_bytes_per_node_follows_the_directory_share(tmp_path: Path) -> None:
    # gid -> directories among 1000 lines: 0.5 %, 1 %, 1.8 %, 3 %, 6 %
    dir_counts = {1001: 5, 1002: 10, 1003: 18, 1004: 30, 1005: 60}
    lines = [line(b"/lustre/scratch118/g%d/e%d" % (gid, n), gid, "d" if n < dirs else "f")
             for gid, dirs in dir_counts.items() for n in range(1000)]
    write_volume(tmp_path, 118, lines)
    config = write_config(tmp_path, volumes=(118,))

    split(config)

    assert (out_dir(tmp_path) / "index.txt").read_bytes() == HEADER + (
        b"emeritus-proj\t100.0909090909091\t935000\n"  # 3 % dirs: (30 x 2 + 50) x 8500
        b"hgi\t100.0909090909091\t720000\n"            # 0.5 %: (5 x 2 + 50) x 12000
        b"mueller-lab\t100.0909090909091\t700000\n"    # 1 %: (10 x 2 + 50) x 10000
        b"orphans\t100.0909090909091\t1360000\n"       # 6 %: (60 x 2 + 50) x 8000
        b"tanaka-lab\t100.0909090909091\t774000\n")    # 1.8 %: (18 x 2 + 50) x 9000


# --------------------------------------------------------------------------- hostile names

HOSTILE_GROUPS = (
    (1001, "a/b", True),
    (1002, "..", True),
    (1003, ".", True),
    (1004, "it's a \"group\"; with \\ back", True),
    (1005, "équipe-ü", True),
    (1006, "", True),  # no cn: the directory loader skips the entry
    (2001, "x" * 300, False),
    (2002, "../escape", False),
)


def test_hostile_group_names_never_escape_the_output_dir(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    lines = volume_lines(116, seed=21, count=3000) + [line(VR + b"/g1006", 1006)]
    snapshot = write_volume(tmp_path, 116, lines)
    config = write_config(tmp_path, groups=HOSTILE_GROUPS, volumes=(116,))
    before = set(tree(tmp_path))

    split(config)

    out = out_dir(tmp_path)
    created = set(tree(tmp_path)) - before
    inside = {str(p.relative_to(tmp_path)) for p in out.rglob("*")} | {"out", "out/groups"}
    assert created - inside == {"report/.lurge-splitter.lock"}  # report/ is made by write_config
    assert all(not p.is_dir() for p in out.iterdir())
    usable = [group for group in HOSTILE_GROUPS if group[0] in (1004, 1005)]
    contents = expected_split([snapshot], usable)
    assert set(contents) == {"it's a \"group\"; with \\ back", "équipe-ü"}
    assert_split_set(out, contents)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for gid, name in ((1001, "a/b"), (1002, ".."), (1003, "."), (2001, "x" * 300), (2002, "../escape")):
        assert any(f"group {name!r} (gid {gid}) is skipped" in w for w in warnings), name
    assert any("it has no cn" in w for w in warnings)


# --------------------------------------------------------------------------- build and swap


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-fallback"])
def test_swap_replaces_the_whole_set_and_removes_leftovers(tmp_path: Path, snapshots: list[Path],
                                                           exchange: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if not exchange:
        monkeypatch.setattr("utils.splitter.dirswap._renameat2", None)  # as on a system without it
    config = write_config(tmp_path)
    out = out_dir(tmp_path)
    out.mkdir(parents=True)
    (out / "gone.dat.gz").write_bytes(b"a group of an earlier day")
    (out / "index.txt").write_bytes(b"old index\n")
    (out / ".lurge-split-set").write_bytes(b"")  # a set lurge wrote
    for leftover in ("groups.new-424242", "groups.old-7"):
        (tmp_path / "out" / leftover / "deep").mkdir(parents=True)
        (tmp_path / "out" / leftover / "deep" / "junk.dat.gz").write_bytes(b"junk")
    (tmp_path / "out" / "groups.newer").mkdir()  # not a leftover name: left alone

    split(config)

    assert_split_set(out, expected_split(snapshots, GROUPS))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["groups", "groups.newer"]


@pytest.mark.parametrize("command, message", [
    ("{tmp}/no-such-getent", "`{tmp}/no-such-getent group` could not be run"),
    ("false", "`false group` failed with exit status 1"),
])
def test_getent_failure_keeps_the_previous_set(tmp_path: Path, snapshots: list[Path], command: str,
                                               message: str) -> None:
    config = write_config(tmp_path)
    split(config)
    previous = tree(out_dir(tmp_path))

    with pytest.raises(LurgeError, match=message.format(tmp=tmp_path).replace("`", ".")):
        split(config, getent_command=command.format(tmp=tmp_path))

    assert tree(out_dir(tmp_path)) == previous
    assert work_dirs(tmp_path) == []


def test_failed_snapshot_exits_1_and_keeps_the_previous_set(tmp_path: Path, snapshots: list[Path]) -> None:
    config = write_config(tmp_path)
    split(config)
    previous = tree(out_dir(tmp_path))
    bad = write_volume(tmp_path, 116, volume_lines(116, seed=5, count=3000),
                       TODAY - dt.timedelta(days=1), truncate_bytes=200)

    finished = run_cli(config, "--no-upload")

    assert finished.returncode == 1, finished.stderr
    assert f"failed snapshot {bad}" in finished.stderr
    assert tree(out_dir(tmp_path)) == previous
    assert work_dirs(tmp_path) == []


def test_volume_without_snapshot_exits_1_and_swaps_nothing(tmp_path: Path, snapshots: list[Path]) -> None:
    config = write_config(tmp_path, volumes=(118, 116, 119))

    finished = run_cli(config, "--no-upload")

    assert finished.returncode == 1
    assert "no snapshot within the last 3 days" in finished.stderr and "volume(s) 119" in finished.stderr
    assert not (tmp_path / "out").exists()


def test_upload_without_a_bucket_is_a_usage_error(tmp_path: Path, snapshots: list[Path]) -> None:
    finished = run_cli(write_config(tmp_path))

    assert finished.returncode == 2
    assert "[s3] bucket is empty" in finished.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- S3


def s3_settings(bucket: S3Bucket, proxy: FaultyS3Proxy) -> dict[str, object]:
    return {"bucket": bucket.bucket, "prefix": S3_PREFIX, "endpoint_url": proxy.endpoint_url,
            "region": "us-east-1"}


def retry_lines(stderr: str) -> list[str]:
    """The retry warnings a run wrote (without the log prefix), sorted, with the wait written ``W``."""
    return sorted(retry_warnings(line.split(": ", 1)[1] for line in stderr.splitlines()
                                 if " WARNING " in line))


def assert_bucket_matches(bucket: S3Bucket, out: Path) -> None:
    local = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert bucket.keys() == [S3_PREFIX + name for name in local]
    for name in local:
        assert bucket.read(S3_PREFIX + name) == (out / name).read_bytes(), name


@pytest.mark.s3
def test_upload_sends_only_what_changed(tmp_path: Path, snapshots: list[Path], s3_bucket: S3Bucket,
                                        faulty_s3_proxy: FaultyS3Proxy) -> None:
    config = write_config(tmp_path, s3=s3_settings(s3_bucket, faulty_s3_proxy))
    out = out_dir(tmp_path)

    first = run_cli(config)
    assert first.returncode == 0, first.stderr
    assert_bucket_matches(s3_bucket, out)
    assert faulty_s3_proxy.count("PUT") == len(list(out.glob("[!.]*"))) == 11  # 8 groups + 3

    second = run_cli(config)
    assert second.returncode == 0, second.stderr
    assert faulty_s3_proxy.count("PUT") == 11  # nothing re-sent
    assert "0 uploaded (0 bytes), 11 skipped as unchanged" in second.stderr

    lines = read_lines(str(snapshots[0])) + [line(b"/lustre/scratch118/new", 1003)]
    write_volume(tmp_path, 118, [raw + b"\n" for raw in lines])
    third = run_cli(config)
    assert third.returncode == 0, third.stderr
    assert faulty_s3_proxy.count("PUT") == 13
    assert faulty_s3_proxy.count("PUT", "tanaka-lab.dat.gz") == 2
    assert faulty_s3_proxy.count("PUT", "index.txt") == 2
    assert_bucket_matches(s3_bucket, out)


@pytest.mark.s3
def test_upload_retries_failed_puts(tmp_path: Path, snapshots: list[Path], s3_bucket: S3Bucket,
                                    faulty_s3_proxy: FaultyS3Proxy) -> None:
    config = write_config(tmp_path, s3=s3_settings(s3_bucket, faulty_s3_proxy))
    faulty_s3_proxy.fail_next(2, "PUT")

    finished = run_cli(config)

    assert finished.returncode == 0, finished.stderr
    assert faulty_s3_proxy.count("PUT", outcome="failed") == 2
    assert faulty_s3_proxy.count("PUT") == 11 + 2  # every file once, and the two failed PUTs again
    assert_bucket_matches(s3_bucket, out_dir(tmp_path))
    # One warning per retry, numbered per object (two failures may hit the same one).
    seen: Counter[str] = Counter()
    expected = []
    for request in faulty_s3_proxy.requests:
        if request.outcome == "failed":
            seen[request.path] += 1
            put = f"PutObject of s3:/{unquote(request.path)}"
            expected.append(retry_warning(put, seen[request.path], 5))
    assert retry_lines(finished.stderr) == sorted(expected)
    assert " ERROR " not in finished.stderr


@pytest.mark.s3
def test_upload_that_keeps_failing_exits_1_and_keeps_the_local_set(
        tmp_path: Path, snapshots: list[Path], s3_bucket: S3Bucket,
        faulty_s3_proxy: FaultyS3Proxy) -> None:
    config = write_config(tmp_path, s3=s3_settings(s3_bucket, faulty_s3_proxy))
    faulty_s3_proxy.fail_always("PUT", path_contains="mueller-lab.dat.gz")

    finished = run_cli(config)

    assert finished.returncode == 1
    assert f"failed for: {S3_PREFIX}mueller-lab.dat.gz;" in finished.stderr
    assert faulty_s3_proxy.count("PUT", "mueller-lab.dat.gz") == 5  # every attempt
    put = f"PutObject of s3://{s3_bucket.bucket}/{S3_PREFIX}mueller-lab.dat.gz"
    assert retry_lines(finished.stderr) == [retry_warning(put, n, 5) for n in range(1, 5)]
    assert (f"giving up on {S3_PREFIX}mueller-lab.dat.gz after 5 attempts: {INJECTED_CAUSE}\n"
            in finished.stderr)
    assert_split_set(out_dir(tmp_path), expected_split(snapshots, GROUPS))
    assert S3_PREFIX + "mueller-lab.dat.gz" not in s3_bucket.keys()


@pytest.mark.s3
def test_delete_removed_deletes_objects_the_set_no_longer_has(
        tmp_path: Path, snapshots: list[Path], s3_bucket: S3Bucket,
        faulty_s3_proxy: FaultyS3Proxy) -> None:
    config = write_config(tmp_path, s3=s3_settings(s3_bucket, faulty_s3_proxy))
    s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key=S3_PREFIX + "gone.dat.gz", Body=b"old")
    s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key="elsewhere/keep.txt", Body=b"other")

    kept = run_cli(config)
    assert kept.returncode == 0, kept.stderr
    assert S3_PREFIX + "gone.dat.gz" in s3_bucket.keys()

    deleted = run_cli(config, "--delete-removed")
    assert deleted.returncode == 0, deleted.stderr
    keys = s3_bucket.keys()
    assert S3_PREFIX + "gone.dat.gz" not in keys
    assert "elsewhere/keep.txt" in keys
    assert faulty_s3_proxy.count("DELETE") == 1


@pytest.mark.s3
def test_a_group_name_that_is_not_utf8_is_written_as_bytes_and_uploaded_under_an_escaped_key(
        tmp_path: Path, s3_bucket: S3Bucket, faulty_s3_proxy: FaultyS3Proxy) -> None:
    groups = ((1001, "hgi", True), (1007, "caf\udcff", True), (1008, "caf\\xff", True))
    lines = [line(b"/lustre/scratch118/a/%d" % n, gid) for n, gid in enumerate((1001, 1007, 1008, 1007))]
    write_volume(tmp_path, 118, lines)
    config = write_config(tmp_path, groups=groups, volumes=(118,),
                          s3=s3_settings(s3_bucket, faulty_s3_proxy))
    out = out_dir(tmp_path)

    first = run_cli(config)

    assert first.returncode == 0, first.stderr
    assert sorted(os.listdir(bytes(out))) == [b".lurge-split-set", b"caf\\xff.dat.gz", b"caf\xff.dat.gz",
                                              b"groupfile", b"hgi.dat.gz", b"index.txt", b"passwdfile"]
    assert zcat(Path(os.fsdecode(bytes(out) + b"/caf\xff.dat.gz"))) == lines[1] + lines[3]
    index_rows = (out / "index.txt").read_bytes().split(b"\n")[1:-1]
    assert [row.split(b"\t")[0] for row in index_rows] == [b"caf\\xff", b"caf\xff", b"hgi"]  # as they are
    keys = {S3_PREFIX + "caf\\xff.dat.gz": b"caf\xff.dat.gz",  # the byte 0xff, escaped
            S3_PREFIX + "caf\\\\xff.dat.gz": b"caf\\xff.dat.gz"}  # a literal backslash, doubled
    for key, name in keys.items():
        assert s3_bucket.read(key) == Path(os.fsdecode(bytes(out) + b"/" + name)).read_bytes(), key
    assert len(s3_bucket.keys()) == 6

    second = run_cli(config, "--delete-removed")
    assert second.returncode == 0, second.stderr
    assert "0 uploaded (0 bytes), 6 skipped as unchanged" in second.stderr
    assert faulty_s3_proxy.count("DELETE") == 0


def test_delete_removed_with_no_upload_is_refused(tmp_path: Path, snapshots: list[Path]) -> None:
    finished = run_cli(write_config(tmp_path), "--no-upload", "--delete-removed")

    assert finished.returncode == 2
    assert ("group_splitter.py: error: --delete-removed deletes objects in S3 that the new set no "
            "longer has; with --no-upload nothing is synced, so it cannot apply") in finished.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.s3
def test_an_empty_set_never_deletes_objects(tmp_path: Path, s3_bucket: S3Bucket,
                                            faulty_s3_proxy: FaultyS3Proxy) -> None:
    """No group kept (every line's gid is unknown): the bucket's group files stay."""
    for name in ("hgi.dat.gz", "mueller-lab.dat.gz"):
        s3_bucket.client.put_object(Bucket=s3_bucket.bucket, Key=S3_PREFIX + name, Body=b"yesterday")
    write_volume(tmp_path, 118, [line(b"/lustre/scratch118/x/%d" % n, 99999) for n in range(50)])
    config = write_config(tmp_path, volumes=(118,), s3=s3_settings(s3_bucket, faulty_s3_proxy))

    finished = run_cli(config, "--delete-removed")

    assert finished.returncode == 0, finished.stderr
    assert "the new set holds no group file: not deleting anything from S3" in finished.stderr
    assert sorted(p.name for p in out_dir(tmp_path).iterdir()) == [".lurge-split-set", "groupfile",
                                                                  "index.txt", "passwdfile"]
    assert s3_bucket.keys() == [S3_PREFIX + name for name in ("groupfile", "hgi.dat.gz", "index.txt",
                                                               "mueller-lab.dat.gz", "passwdfile")]
    assert s3_bucket.read(S3_PREFIX + "hgi.dat.gz") == b"yesterday"
    assert faulty_s3_proxy.count("DELETE") == 0


def test_the_lock_is_kept_in_the_report_folder(tmp_path: Path, snapshots: list[Path]) -> None:
    """Not in the output folder's parent, which need not be lurge's to write in."""
    finished = run_cli(write_config(tmp_path), "--no-upload")

    assert finished.returncode == 0, finished.stderr
    assert (tmp_path / "report" / ".lurge-splitter.lock").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["groups"]


def test_a_link_planted_at_the_lock_is_refused_and_not_followed(tmp_path: Path,
                                                               snapshots: list[Path]) -> None:
    config = write_config(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"not a pid\n")
    (tmp_path / "report" / ".lurge-splitter.lock").symlink_to(victim)

    finished = run_cli(config, "--no-upload")

    assert finished.returncode == 1
    assert (f"group_splitter.py: failed: {tmp_path}/report/.lurge-splitter.lock is a symbolic link; "
            "lurge does not follow a link at its lock file's name") in finished.stderr
    assert victim.read_bytes() == b"not a pid\n"
    assert not (tmp_path / "out").exists()
