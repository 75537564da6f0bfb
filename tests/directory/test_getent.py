"""utils/directory/getent.py with the fake getent in tests/fakes (a real child process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.fakes import FAKES_DIR
from utils.common.errors import LurgeError
from utils.common.secrets import SECRET_VARIABLES
from utils.directory.getent import dump_getent

FAKE_GETENT = str(FAKES_DIR / "getent")


def test_dump_writes_the_database_and_runs_without_the_secrets(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "env.jsonl"
    monkeypatch.setenv("FAKE_GETENT_ENV", str(dump))
    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, f"secret-{name.lower()}")
    out = tmp_path / "groupfile"
    size = dump_getent("group", str(out), command=FAKE_GETENT)
    assert out.read_bytes() == b"hgi:x:1001:jd1\nops:x:2001:\n"
    assert size == len(out.read_bytes())
    (environment,) = [json.loads(line) for line in dump.read_text().splitlines()]
    assert set(environment) & set(SECRET_VARIABLES) == set()
    assert environment["FAKE_GETENT_ENV"] == str(dump)


def test_a_failing_getent_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(LurgeError, match=rf"^`{FAKE_GETENT} shadow` failed with exit status 1: Unknown database: shadow$"):
        dump_getent("shadow", str(tmp_path / "out"), command=FAKE_GETENT)


def test_a_missing_getent_names_the_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-getent")
    with pytest.raises(LurgeError, match=f"could not be run: {missing} not found"):
        dump_getent("group", str(tmp_path / "out"), command=missing)
