"""Modes of a split set: private while it is built, the admin's umask once published.

The splitter runs as a real process under a given umask.  A probe placed
first on PATH as ``getent`` (it runs while the set is being built) records the
modes in the build folder, then runs the real ``getent``, whose output the set
keeps.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
import time
from pathlib import Path

import pytest

from tests.faults.common import ENTRIES, make_config, run, write_snapshots

PROBE = """#!/bin/sh
for entry in "$LURGE_TEST_OUT".new-*/ "$LURGE_TEST_OUT".new-*/* "$LURGE_TEST_OUT".new-*/.[!.]*; do
  stat -c '%a %n' "$entry" >> "$LURGE_TEST_RECORD"
done
exec "$LURGE_TEST_GETENT" "$@"
"""


def _modes(root: Path) -> dict[str, int]:
    """Relative path ('' for the root) -> permission bits, for everything under ``root``."""
    found = {"": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o027, 0o077], ids=lambda m: f"umask{m:03o}")
def test_the_build_is_private_and_the_published_set_follows_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "out" / "groups"
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", volumes=(118,),
                         splitter={"volumes": [118], "output_dir": str(out)})
    snapshot_time = int(time.time()) - 60
    write_snapshots(tmp_path / "mpistat", ENTRIES, dt.date.fromtimestamp(snapshot_time), snapshot_time)
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    (probe_dir / "getent").write_text(PROBE)
    (probe_dir / "getent").chmod(0o755)
    record = tmp_path / "modes-while-building.txt"
    env = {"PATH": f"{probe_dir}{os.pathsep}{os.environ['PATH']}", "LURGE_TEST_OUT": str(out),
           "LURGE_TEST_RECORD": str(record), "LURGE_TEST_GETENT": shutil.which("getent") or "getent"}

    result, _ = run("group_splitter.py", "--config", str(config), "--no-upload", env=env,
                    preexec_fn=lambda: os.umask(umask))

    assert result.returncode == 0, result.stderr
    seen = {}
    for line in record.read_text().splitlines():
        mode, path = line.split(" ", 1)
        seen[path.rstrip("/")] = int(mode, 8)
    build = next(path for path in seen if re.fullmatch(re.escape(str(out)) + r"\.new-[0-9]+", path))
    files = {path[len(build) + 1:]: mode for path, mode in seen.items() if path != build}
    assert seen[build] == 0o700
    assert {".lurge-split-set", "hgi.dat.gz", "index.txt", "groupfile"} <= set(files)
    assert set(files.values()) == {0o600}, files
    published = _modes(out)
    assert published.pop("") == 0o755 & ~umask
    assert sorted(published) == [".lurge-split-set", "groupfile", "hgi.dat.gz", "index.txt",
                                 "mueller-lab.dat.gz", "passwdfile", "tanaka-lab.dat.gz"]
    assert set(published.values()) == {0o644 & ~umask}
