"""The split set replaces only a folder that is lurge's own; anything else is refused, untouched.

Every case runs ``group_splitter.py`` as a real process inside the test's own
temporary folder, and compares the whole folder (bytes, modes and mtimes of
everything, folders included) before and after.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.faults.common import ENTRIES, make_config, write_snapshots
from tests.scripts import REPO

MARKER = ".lurge-split-set"
CLI_TIMEOUT = 120


def state(root: Path) -> dict[str, tuple]:
    """Everything under ``root`` (itself included): kind, mode, mtime and content or link target."""
    found: dict[str, tuple] = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            content: bytes | str | None = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            content = path.read_bytes()
        else:
            content = None
        found[str(path.relative_to(root))] = (stat.S_IFMT(info.st_mode), info.st_mode, info.st_mtime_ns,
                                              content)
    return found


def splitter(config: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "group_splitter.py"), "--config", str(config),
                           "--no-upload", *args], cwd=cwd, capture_output=True, text=True,
                          errors="surrogateescape", timeout=CLI_TIMEOUT, env=dict(os.environ))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Volume 118 only (volume 119's snapshot sits beside it), output under out/."""
    path = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,),
                       splitter={"volumes": [118], "output_dir": str(tmp_path / "out" / "groups")})
    snapshot_time = int(time.time()) - 60
    write_snapshots(tmp_path / "mpistat", ENTRIES, dt.date.fromtimestamp(snapshot_time), snapshot_time)
    return path


def _folder_with_content(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_bytes(b"my notes\n")
    (folder / "sub" / "x.dat.gz").write_bytes(b"not a split file")
    return folder


def _regular_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_bytes(b"precious\n")
    return path


def _link_to_snapshots(tmp_path: Path) -> Path:
    (tmp_path / "link").symlink_to(tmp_path / "mpistat")
    return tmp_path / "link"


# name -> (the -o argument, relative to the test folder; the reason the message gives)
REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "snapshot folder": (lambda tmp: tmp / "mpistat", "it is the snapshot folder ([paths] mpistat_dir)"),
    "report folder": (lambda tmp: tmp / "reports", "it is the report folder ([paths] report_dir)"),
    "above both": (lambda tmp: tmp, "it holds the snapshot folder ([paths] mpistat_dir), {tmp}/mpistat"),
    "a regular file": (_regular_file, "it is not a folder"),
    "other content": (_folder_with_content,
                      f"it holds other things (notes.txt, sub) and no {MARKER} marker"),
    "link to the snapshots": (_link_to_snapshots, "it is the snapshot folder ([paths] mpistat_dir)"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_folder_that_is_not_lurges_own_is_refused_and_left_untouched(tmp_path: Path, config: Path,
                                                                       case: str) -> None:
    make_target, reason = REFUSED[case]
    target = make_target(tmp_path)
    before = state(tmp_path)

    result = splitter(config, "-o", str(target))

    assert result.returncode == 2, result.stderr
    assert f"group_splitter.py: error: refusing to write the split set to {target}" in result.stderr
    assert reason.format(tmp=tmp_path) in result.stderr
    assert "it is left untouched" in result.stderr
    assert state(tmp_path) == before


def test_the_current_folder_is_refused_and_left_untouched(tmp_path: Path, config: Path) -> None:
    work = _folder_with_content(tmp_path)
    (work / MARKER).write_bytes(b"")  # even a marked set: `-o .` would pull the folder from under us
    before = state(tmp_path)

    result = splitter(config, "-o", ".", cwd=work)

    assert result.returncode == 2, result.stderr
    assert (f"refusing to write the split set to . (that is, {work}): it is the current folder"
            in result.stderr)
    assert state(tmp_path) == before


def test_the_root_folder_is_refused(tmp_path: Path, config: Path) -> None:
    result = splitter(config, "-o", "/")
    assert result.returncode == 2, result.stderr
    assert "refusing to write the split set to /: it holds the current folder" in result.stderr


def _assert_a_set(out: Path) -> None:
    names = sorted(p.name for p in out.iterdir())
    assert names == [MARKER, "groupfile", "hgi.dat.gz", "index.txt", "mueller-lab.dat.gz",
                     "passwdfile", "tanaka-lab.dat.gz"]
    assert gzip.decompress((out / "hgi.dat.gz").read_bytes()).count(b"\n") == 1


@pytest.mark.parametrize("kind", ["new", "empty", "marked set"])
def test_a_new_an_empty_or_a_marked_folder_is_replaced(tmp_path: Path, config: Path, kind: str) -> None:
    out = tmp_path / "elsewhere" / "groups"
    if kind != "new":
        out.mkdir(parents=True)
    if kind == "marked set":
        (out / MARKER).write_bytes(b"")
        (out / "old-group.dat.gz").write_bytes(b"gone after the run")

    result = splitter(config, "-o", str(out))

    assert result.returncode == 0, result.stderr
    _assert_a_set(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["groups"]  # no lock, no leftovers


def test_a_link_to_a_set_replaces_the_set_and_keeps_the_link(tmp_path: Path, config: Path) -> None:
    real = tmp_path / "store" / "groups-real"
    real.mkdir(parents=True)
    (real / MARKER).write_bytes(b"")
    (real / "old-group.dat.gz").write_bytes(b"gone after the run")
    link = tmp_path / "groups"
    link.symlink_to(real)

    result = splitter(config, "-o", str(link))

    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    _assert_a_set(real)


def test_the_next_run_replaces_the_set_it_wrote(tmp_path: Path, config: Path) -> None:
    first = splitter(config)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out" / "groups"
    (out / "stray.dat.gz").write_bytes(b"removed by the next run")

    second = splitter(config)

    assert second.returncode == 0, second.stderr
    _assert_a_set(out)


def test_a_link_to_nothing_is_refused(tmp_path: Path, config: Path) -> None:
    link = tmp_path / "groups"
    link.symlink_to(tmp_path / "store" / "groups")
    before = state(tmp_path)

    result = splitter(config, "-o", str(link))

    assert result.returncode == 2, result.stderr
    assert "it is a symbolic link to nothing" in result.stderr
    assert state(tmp_path) == before
