"""What every script shares: dates, one line per error, help texts, the Python check, configuration."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import CONTRACT_MARKS, REPO, run_script
from utils.common.cli import make_parser, parse_date
from utils.common.cli import run_script as run_body
from utils.common.errors import LurgeError, UsageError
from utils.common.pyversion import version_problem

SCRIPTS = ("manager.py", "report.py", "project_inspector.py", "group_splitter.py")


# ------------------------------------------------------------------ dates

@pytest.mark.parametrize("text", ["20240229", "2024-02-29", " 20240229 "])
def test_dates_in_both_forms(text: str) -> None:
    assert parse_date(text) == dt.date(2024, 2, 29)


@pytest.mark.parametrize("text, message", [
    ("20261301", "invalid date '20261301': month must be in 1..12"),
    ("2023-02-29", "invalid date '2023-02-29': day is out of range for month"),
    ("2024-0229", "not a date: '2024-0229' (write YYYYMMDD or YYYY-MM-DD)"),
    ("yesterday", "not a date: 'yesterday' (write YYYYMMDD or YYYY-MM-DD)"),
    ("202401011", "not a date: '202401011' (write YYYYMMDD or YYYY-MM-DD)"),
])
def test_bad_dates_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        parse_date(text)
    assert str(raised.value) == message


# ------------------------------------------------------------------ one line per outcome

def body_raising(exc: BaseException):
    def body(args: argparse.Namespace) -> int:
        raise exc
    return body


def parser() -> argparse.ArgumentParser:
    made = make_parser("tool.py", "A tool.", "example:\n  tool.py")
    made.add_argument("-v", "--verbose", action="store_true")
    return made


@pytest.mark.parametrize("exc, status, line", [
    (LurgeError("the disk is on fire"), 1, "tool.py: failed: the disk is on fire\n"),
    (UsageError("bad knob"), 2, "tool.py: error: bad knob\n"),
    (PermissionError(13, "Permission denied", "/x/y"), 1, "tool.py: failed: /x/y: Permission denied\n"),
    (ValueError("oops"), 1,
     "tool.py: failed: unexpected error: ValueError: oops (run with -v for the traceback)\n"),
])
def test_every_outcome_prints_one_line(capsys: pytest.CaptureFixture, exc: BaseException,
                                       status: int, line: str) -> None:
    assert run_body(parser(), body_raising(exc), []) == status
    captured = capsys.readouterr()
    assert captured.err == line and captured.out == ""


def test_a_traceback_only_with_verbose_and_never_with_a_secret() -> None:
    program = "\n".join([
        "import sys",
        "from utils.common.cli import make_parser, run_script",
        "from utils.common.logs import register_secret",
        "register_secret('s3cr3t-in-a-message')",
        "parser = make_parser('tool.py', 'A tool.', 'example:')",
        "parser.add_argument('-v', '--verbose', action='store_true')",
        "def body(args):",
        "    raise RuntimeError('driver: s3cr3t-in-a-message')",
        "sys.exit(run_script(parser, body))",
    ])
    for verbose in ([], ["-v"]):
        result = subprocess.run([sys.executable, "-c", program, *verbose], cwd=REPO,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert "s3cr3t-in-a-message" not in result.stderr
        if verbose:
            assert "DEBUG lurge[" in result.stderr and "Traceback (most recent call" in result.stderr
            assert result.stderr.endswith(
                "tool.py: failed: unexpected error: RuntimeError: driver: ***\n")
        else:
            assert result.stderr == ("tool.py: failed: unexpected error: RuntimeError: driver: *** "
                                     "(run with -v for the traceback)\n")


def test_help_gives_an_example_the_outputs_and_the_exit_statuses() -> None:
    for script in SCRIPTS:
        text = run_script(script, "--help", check=0).stdout
        assert "example" in text and "outputs:" in text, script
        for status in ("0 ", "1 ", "2 ", "143"):
            assert f"  {status}" in text, (script, status)
        assert "docs/" in text and not re.search(CONTRACT_MARKS, text), script


# ------------------------------------------------------------------ Python version

def test_the_version_check_names_the_need() -> None:
    assert version_problem((3, 11, 0, "final", 0)) is None
    assert version_problem((3, 13, 1, "final", 0)) is None
    problem = version_problem((3, 9, 18, "final", 0))
    assert problem is not None
    assert problem.startswith("lurge needs Python 3.11 or newer (it reads its configuration with "
                              "tomllib), but ")
    assert problem.endswith(" is Python 3.9.18; see README.md")


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_old_python_gets_one_line_not_a_traceback(script: str) -> None:
    """The scripts run under a Python that reports itself as 3.9 (none is installed here)."""
    pretend = ("import runpy, sys; sys.version_info = (3, 9, 18, 'final', 0); "
               f"sys.argv = [{script!r}, '--help']; runpy.run_path({script!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", pretend], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{script}: error: lurge needs Python 3.11 or newer")
    assert result.stderr.count("\n") == 1


# ------------------------------------------------------------------ configuration not found

def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "LURGE_CONFIG"}
    env.update(extra)
    return env


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_configuration_says_where_it_looked(tmp_path: Path, script: str) -> None:
    args = {"manager.py": ["both"], "report.py": ["20240101", "x"]}.get(script, [])
    result = subprocess.run([sys.executable, str(REPO / script), *args], cwd=tmp_path,
                            env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == (
        f"{script}: error: no configuration file: --config was not given, $LURGE_CONFIG is not "
        f"set and there is no ./lurge.toml in {tmp_path}; copy {REPO}/lurge.example.toml to "
        "lurge.toml and edit it (see docs/configuration.md)\n")
    from_env = subprocess.run([sys.executable, str(REPO / script), *args], cwd=tmp_path,
                              env=clean_env(LURGE_CONFIG=str(tmp_path / "x.toml")),
                              capture_output=True, text=True, timeout=60)
    assert from_env.returncode == 2
    assert from_env.stderr == (
        f"{script}: error: configuration file {tmp_path}/x.toml (from $LURGE_CONFIG) does not "
        f"exist; start from {REPO}/lurge.example.toml (see docs/configuration.md)\n")


def test_a_clean_up_that_hangs_after_a_stop_ends_anyway() -> None:
    """The grace period after SIGTERM: a clean-up that never finishes does not keep the job."""
    program = "\n".join([
        "import os, signal, sys, threading",
        "import utils.common.cli as cli",
        "cli.STOP_GRACE_SECONDS = 1",
        "parser = cli.make_parser('tool.py', 'A tool.', 'example:')",
        "def body(args):",
        "    try:",
        "        os.kill(os.getpid(), signal.SIGTERM)",
        "        threading.Event().wait(60)",
        "    finally:",
        "        threading.Event().wait(60)  # a clean-up that hangs",
        "sys.argv[0] = 'tool.py'",
        "sys.exit(cli.run_script(parser, body, []))",
    ])
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 143
    assert result.stderr == ("tool.py: stopped by SIGTERM; the clean-up took longer than 1 s, so "
                             "it ends now (the next run removes what is left, see "
                             "docs/recovery.md)\n")
