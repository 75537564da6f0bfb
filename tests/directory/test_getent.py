"""utils/directory/getent.py with the system's own getent (a real child process)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from utils.common.errors import LurgeError
from utils.common.secrets import SECRET_VARIABLES
from utils.directory.getent import dump_getent

GETENT = shutil.which("getent") or "getent"
# Runs the real getent after recording the environment it was given.
RECORDING_GETENT = f"""#!/usr/bin/env python3
import json, os, sys
with open({{record!r}}, "a", encoding="utf-8") as handle:
    handle.write(json.dumps(dict(os.environ)) + "\\n")
os.execv({GETENT!r}, [{GETENT!r}, *sys.argv[1:]])
"""


def real_getent(database: str) -> bytes:
    return subprocess.run([GETENT, database], check=True, capture_output=True, timeout=60).stdout


@pytest.mark.parametrize("database", ["group", "passwd"])
def test_dump_writes_what_getent_prints(tmp_path: Path, database: str) -> None:
    out = tmp_path / database
    size = dump_getent(database, str(out), command=GETENT)
    assert out.read_bytes() == real_getent(database)
    assert size == len(out.read_bytes()) > 0


def test_getent_runs_without_the_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "env.jsonl"
    wrapper = tmp_path / "getent"
    wrapper.write_text(RECORDING_GETENT.format(record=str(record)))
    wrapper.chmod(0o755)
    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, f"secret-{name.lower()}")
    monkeypatch.setenv("LURGE_TEST_KEPT", "kept")
    out = tmp_path / "groupfile"
    dump_getent("group", str(out), command=str(wrapper))
    assert out.read_bytes() == real_getent("group")
    (environment,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert set(environment) & set(SECRET_VARIABLES) == set()
    assert environment["LURGE_TEST_KEPT"] == "kept"


def test_a_failing_getent_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(LurgeError, match=rf"^`{GETENT} nosuchdb` failed with exit status 1: "
                                         r"Unknown database: nosuchdb"):
        dump_getent("nosuchdb", str(tmp_path / "out"), command=GETENT)


def test_a_missing_getent_names_the_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-getent")
    with pytest.raises(LurgeError, match=f"could not be run: {missing} not found"):
        dump_getent("group", str(tmp_path / "out"), command=missing)
