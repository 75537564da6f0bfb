"""Configuration faults: every script exits 2 with a message naming the key or the path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.faults.common import finish_process, make_config, start

SCRIPTS = {  # program -> arguments after --config
    "manager.py": ["both"],
    "report.py": ["2023-11-14", "/nowhere/20231114_118.dat.gz"],
    "project_inspector.py": [],
    "group_splitter.py": ["--no-upload"],
}

# case -> (sections merged into a valid configuration, the message after "<config>: ")
BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown key": ({"paths": {"colour": "blue"}}, "[paths] unknown key 'colour'"),
    "wrong type": ({"paths": {"workers": "two"}}, "[paths] workers must be an integer, got str 'two'"),
    "timeout not positive": ({"database": {"timeout": 0}}, "[database] timeout must be positive"),
    "splitter volume without [[volume]]": (
        {"splitter": {"volumes": [118, 999]}},
        "[splitter] volumes: volume 999 has no [[volume]] entry (no mount configured)"),
    "alias outside every mount": (
        {"inspector": {"aliases": {"/lustre/scratch118/pr": "/nowhere/projects"}}},
        "[inspector] aliases./lustre/scratch118/pr points at /nowhere/projects, which is on no "
        "configured mount"),
    "password with an unescaped /": (
        {"database": {"url": "mysql://lurge:pa/ss@db.example.org:3306/lurge"}},
        "[database] url 'mysql://***@db.example.org:3306/lurge' has no valid host and port "
        "(characters such as / ? # in a password must be percent-encoded)"),
}


def assert_every_script_exits_2(config: Path, message: str) -> None:
    """Run the four scripts at once with ``--config config``; each must print ``message``."""
    processes = {name: start(name, "--config", str(config), *args) for name, args in SCRIPTS.items()}
    for name, process in processes.items():
        status, out, err = finish_process(process, timeout=60)
        assert status == 2, (name, err)
        assert err.endswith(f"{name}: error: {message}\n"), (name, err)
        assert out == ""


@pytest.mark.parametrize("case", BAD_VALUES)
def test_bad_values_name_the_key(tmp_path: Path, case: str) -> None:
    sections, message = BAD_VALUES[case]
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", **sections)
    assert_every_script_exits_2(config, f"{config}: {message}")
    assert not (tmp_path / "lurge.db").exists()


def test_unusable_files_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    assert_every_script_exits_2(missing, f"configuration file {missing} does not exist")
    a_file = tmp_path / "plain-file"
    a_file.write_text("not a directory\n")
    below_a_file = a_file / "lurge.toml"  # unreadable even for root: its parent is a file
    assert_every_script_exits_2(
        below_a_file, f"configuration file {below_a_file} could not be read: Not a directory")
    assert_every_script_exits_2(tmp_path, f"configuration file {tmp_path} is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db")
    config.chmod(0)
    assert_every_script_exits_2(
        config, f"configuration file {config} is not readable (permission denied)")
