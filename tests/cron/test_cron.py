"""cron.sh and group_splitter_cron.sh with the fake ``bsub``, without it, and locally.

The scripts and utils/common/lsf.sh are copied into a scratch repository under
tmp_path, so the repository-relative defaults (``.venv``, ``logs/``) are
under the test's control.  The local runs point LURGE_PYTHON at a stub that
records its arguments: a harness for the shell logic, not a fake cluster tool.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.fakes import FAKES_DIR, FakeBsub

REPO = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "/bin/bash"
TIMEOUT = 30


@dataclass(frozen=True)
class CronJob:
    script: str
    job: str
    memory: str
    cores: str
    command: tuple[str, ...]  # the script and its arguments, relative to the repository


REPORT = CronJob("cron.sh", "lurge-report", "16000", "5", ("manager.py", "both"))
SPLITTER = CronJob("group_splitter_cron.sh", "lurge-splitter", "8000", "2", ("group_splitter.py",))
JOBS = pytest.mark.parametrize("cron", [REPORT, SPLITTER], ids=lambda job: job.script)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch copy of the cron scripts and their library."""
    root = tmp_path / "repo"
    (root / "utils" / "common").mkdir(parents=True)
    for name in (REPORT.script, SPLITTER.script, "utils/common/lsf.sh"):
        shutil.copy2(REPO / name, root / name)
    return root


def clean_env(path: str, **extra: str) -> dict[str, str]:
    """The environment without any LURGE_* setting, no LSF profile, and ``path`` as PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LURGE_")}
    env["PATH"] = path
    env["LURGE_LSF_PROFILE"] = "/nonexistent/profile.lsf"
    env.update(extra)
    return env


def run(repo: Path, cron: CronJob, env: dict[str, str],
        *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(repo / cron.script), *args], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=repo.parent)


def path_with_fakes() -> str:
    return f"{FAKES_DIR}{os.pathsep}{os.environ['PATH']}"


def path_without_bsub(tmp_path: Path) -> str:
    """A PATH holding only the tools the scripts need besides bash builtins."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    for name in ("date", "mkdir"):
        (tools / name).symlink_to(shutil.which(name))
    return str(tools)


def submission(cron: CronJob, *, queue: str = "normal", group: str = "hgi", cores: str | None = None,
               memory: str | None = None, log_dir: Path, python: str, repo: Path, stamp: str,
               extra: tuple[str, ...] = ()) -> list[str]:
    """The argv bsub should receive."""
    memory = memory or cron.memory
    return ["-J", cron.job, "-q", queue, "-G", group, "-n", cores or cron.cores, "-M", memory,
            "-R", f"select[mem>{memory}] rusage[mem={memory}] span[hosts=1]",
            "-o", f"{log_dir}/{cron.job}-{stamp}.out", "-e", f"{log_dir}/{cron.job}-{stamp}.err",
            python, f"{repo}/{cron.command[0]}", *cron.command[1:], *extra]


def stamps(before: dt.date) -> set[str]:
    """The log-name dates a run that started on ``before`` may use (midnight-safe)."""
    return {f"{before:%Y%m%d}", f"{dt.date.today():%Y%m%d}"}


def assert_submitted(fake_bsub: FakeBsub, expected_for_stamp, before: dt.date) -> None:
    calls = fake_bsub.calls()
    assert len(calls) == 1
    assert calls[0] in [expected_for_stamp(stamp) for stamp in stamps(before)]


# --------------------------------------------------------------------------- bsub


@JOBS
@pytest.mark.parametrize("venv", [False, True], ids=["python3", "repo-venv"])
def test_submits_with_defaults(repo: Path, fake_bsub: FakeBsub, cron: CronJob, venv: bool) -> None:
    python = "python3"
    if venv:
        venv_python = repo / ".venv" / "bin" / "python"
        venv_python.parent.mkdir(parents=True)
        venv_python.write_text("#!/bin/sh\n")
        venv_python.chmod(0o755)
        python = str(venv_python)
    today = dt.date.today()

    finished = run(repo, cron, clean_env(path_with_fakes()))

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "Job <12345> is submitted to queue <normal>.\n"
    assert_submitted(fake_bsub, lambda stamp: submission(cron, log_dir=repo / "logs", python=python,
                                                         repo=repo, stamp=stamp), today)
    assert (repo / "logs").is_dir()


@JOBS
def test_environment_overrides_every_default(repo: Path, tmp_path: Path, fake_bsub: FakeBsub,
                                             cron: CronJob) -> None:
    env = clean_env(path_with_fakes(), LURGE_QUEUE="long", LURGE_LSF_GROUP="team 42",
                    LURGE_CORES="3", LURGE_MEMORY_MB="1234",
                    LURGE_LOG_DIR=str(tmp_path / "my logs"), LURGE_PYTHON="/opt/py 3/bin/python",
                    LURGE_CONFIG=str(tmp_path / "conf dir" / "lurge.toml"),
                    LURGE_REPORT_DIR=str(tmp_path / "ignored"))
    today = dt.date.today()

    finished = run(repo, cron, env)

    assert finished.returncode == 0, finished.stderr
    assert_submitted(fake_bsub, lambda stamp: submission(
        cron, queue="long", group="team 42", cores="3", memory="1234", log_dir=tmp_path / "my logs",
        python="/opt/py 3/bin/python", repo=repo, stamp=stamp,
        extra=("--config", str(tmp_path / "conf dir" / "lurge.toml"))), today)
    assert (tmp_path / "my logs").is_dir() and not (tmp_path / "ignored").exists()


def test_log_dir_defaults_to_the_report_dir(repo: Path, tmp_path: Path, fake_bsub: FakeBsub) -> None:
    env = clean_env(path_with_fakes(), LURGE_REPORT_DIR=str(tmp_path / "report"))
    today = dt.date.today()

    finished = run(repo, REPORT, env)

    assert finished.returncode == 0, finished.stderr
    assert_submitted(fake_bsub, lambda stamp: submission(
        REPORT, log_dir=tmp_path / "report" / "logs", python="python3", repo=repo, stamp=stamp), today)
    assert (tmp_path / "report" / "logs").is_dir() and not (repo / "logs").exists()


def test_bsub_failure_is_passed_on(repo: Path, fake_bsub: FakeBsub) -> None:
    fake_bsub.fail(255)

    finished = run(repo, SPLITTER, clean_env(path_with_fakes(), LURGE_QUEUE="nosuch"))

    assert finished.returncode == 255
    assert "nosuch: No such queue. Job not submitted." in finished.stderr
    assert "lurge: bsub failed to submit lurge-splitter (exit status 255)" in finished.stderr


@pytest.mark.parametrize("name, value", [("LURGE_MEMORY_MB", "16G"), ("LURGE_CORES", "0")])
def test_bad_numbers_are_usage_errors(repo: Path, fake_bsub: FakeBsub, name: str, value: str) -> None:
    finished = run(repo, REPORT, clean_env(path_with_fakes(), **{name: value}))

    assert finished.returncode == 2
    assert finished.stderr == f"lurge: {name} must be a positive integer (got '{value}')\n"
    assert fake_bsub.calls() == []


# --------------------------------------------------------------------------- no bsub


@JOBS
def test_without_bsub_fails_clearly(repo: Path, tmp_path: Path, cron: CronJob) -> None:
    finished = run(repo, cron, clean_env(path_without_bsub(tmp_path)))

    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr == (
        f"lurge: cannot submit {cron.job}: bsub is not on PATH (LSF profile: /nonexistent/profile.lsf); "
        "set LURGE_LOCAL=1 to run it here instead\n")
    assert not (repo / "logs").exists()


def test_lsf_profile_is_sourced(repo: Path, tmp_path: Path, fake_bsub: FakeBsub) -> None:
    profile = tmp_path / "profile.lsf"
    # Like a real profile: extends PATH, reads variables that may be unset, ends with a failure.
    # (The fake bsub needs a python3 on PATH too.)
    python_dir = tmp_path / "python"
    python_dir.mkdir()
    (python_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    profile.write_text(f'PATH="{FAKES_DIR}:{python_dir}:$PATH"\n'
                       'export LSF_ENVDIR="$LSF_SERVERDIR/etc"\nfalse\n')
    env = clean_env(path_without_bsub(tmp_path), LURGE_LSF_PROFILE=str(profile))
    today = dt.date.today()

    finished = run(repo, REPORT, env)

    assert finished.returncode == 0, finished.stderr
    assert_submitted(fake_bsub, lambda stamp: submission(REPORT, log_dir=repo / "logs", python="python3",
                                                         repo=repo, stamp=stamp), today)


# --------------------------------------------------------------------------- local


@pytest.fixture
def python_stub(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for python that records its arguments (one a line) and exits 7."""
    record = tmp_path / "stub-argv.txt"
    stub = tmp_path / "stub python"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{record}'\necho 'job output'\nexit 7\n")
    stub.chmod(0o755)
    return stub, record


@JOBS
def test_local_runs_the_job_in_the_foreground(repo: Path, tmp_path: Path, fake_bsub: FakeBsub,
                                              python_stub: tuple[Path, Path], cron: CronJob) -> None:
    stub, record = python_stub
    config = tmp_path / "my config.toml"
    env = clean_env(path_with_fakes(), LURGE_LOCAL="1", LURGE_PYTHON=str(stub), LURGE_CONFIG=str(config))

    finished = run(repo, cron, env)

    assert finished.returncode == 7  # the job's own status
    assert finished.stdout == "job output\n"
    assert record.read_text().splitlines() == [str(repo / cron.command[0]), *cron.command[1:],
                                               "--config", str(config)]
    assert fake_bsub.calls() == []
    assert not (repo / "logs").exists()


def test_local_needs_no_bsub(repo: Path, tmp_path: Path, python_stub: tuple[Path, Path]) -> None:
    stub, record = python_stub
    env = clean_env(path_without_bsub(tmp_path), LURGE_LOCAL="1", LURGE_PYTHON=str(stub))

    finished = run(repo, SPLITTER, env)

    assert finished.returncode == 7
    assert record.read_text().splitlines() == [str(repo / "group_splitter.py")]


def test_scripts_are_executable() -> None:
    for name in (REPORT.script, SPLITTER.script):
        assert os.access(REPO / name, os.X_OK), name


# --------------------------------------------------------------------------- --help and arguments


@JOBS
def test_help_lists_the_variables_and_submits_nothing(repo: Path, fake_bsub: FakeBsub,
                                                      cron: CronJob) -> None:
    for option in ("--help", "-h"):
        finished = run(repo, cron, clean_env(path_with_fakes(), LURGE_QUEUE="long"), option)

        assert finished.returncode == 0, finished.stderr
        text = finished.stdout
        assert text.startswith(f"usage: {cron.script} [--help] [--] [ARGUMENT...]\n")
        assert f'as job "{cron.job}"' in text
        for name, default in (("LURGE_QUEUE", "normal"), ("LURGE_LSF_GROUP", "hgi"),
                              ("LURGE_CORES", cron.cores), ("LURGE_MEMORY_MB", cron.memory),
                              ("LURGE_LOCAL", "unset"), ("LURGE_CONFIG", "unset"),
                              ("LURGE_PYTHON", "python3"), ("LURGE_LOG_DIR", "logs"),
                              ("LURGE_LSF_PROFILE", "profile.lsf")):
            assert f"  {name} " in text and "default: " in text
            block = text[text.index(f"  {name} "):]
            assert default in block.split("\n")[1], (name, block)
        assert "[now: long]" in text  # the value set in the environment is shown too
    assert fake_bsub.calls() == []
    assert not (repo / "logs").exists()


@pytest.fixture
def runnable_repo(repo: Path) -> Path:
    """The scratch repository with the real scripts (links), so arguments can be checked."""
    for cron in (REPORT, SPLITTER):
        (repo / cron.command[0]).symlink_to(REPO / cron.command[0])
    return repo


@pytest.mark.parametrize("cron, extra", [(REPORT, ("--date", "20240105", "-v")),
                                         (SPLITTER, ("--no-upload", "--date", "2024-01-05")),
                                         (SPLITTER, ("--", "--id"))],
                         ids=["report", "splitter", "after --"])
def test_further_arguments_pass_through_to_the_script(runnable_repo: Path, tmp_path: Path,
                                                      fake_bsub: FakeBsub, cron: CronJob,
                                                      extra: tuple[str, ...]) -> None:
    config = tmp_path / "lurge.toml"
    env = clean_env(path_with_fakes(), LURGE_PYTHON=sys.executable, LURGE_CONFIG=str(config))
    today = dt.date.today()

    finished = run(runnable_repo, cron, env, *extra)

    assert finished.returncode == 0, finished.stderr
    passed = tuple(arg for arg in extra if arg != "--")
    assert_submitted(fake_bsub, lambda stamp: submission(
        cron, log_dir=runnable_repo / "logs", python=sys.executable, repo=runnable_repo,
        stamp=stamp, extra=("--config", str(config), *passed)), today)


@JOBS
def test_unknown_options_are_refused_before_submitting(runnable_repo: Path, fake_bsub: FakeBsub,
                                                       cron: CronJob) -> None:
    env = clean_env(path_with_fakes(), LURGE_PYTHON=sys.executable)

    finished = run(runnable_repo, cron, env, "--no-such-option")

    assert finished.returncode == 2
    assert "error: unrecognized arguments: --no-such-option" in finished.stderr
    assert finished.stderr.endswith(f"lurge: nothing submitted: {cron.command[0]} does not accept "
                                    "these arguments (see above)\n")
    assert fake_bsub.calls() == []
    bad_date = run(runnable_repo, cron, env, "--date", "20241305")
    assert bad_date.returncode == 2
    assert "invalid date '20241305': month must be in 1..12" in bad_date.stderr
    assert fake_bsub.calls() == []


def test_local_arguments_reach_the_job(repo: Path, tmp_path: Path,
                                       python_stub: tuple[Path, Path]) -> None:
    stub, record = python_stub
    env = clean_env(path_without_bsub(tmp_path), LURGE_LOCAL="1", LURGE_PYTHON=str(stub))

    finished = run(repo, REPORT, env, "--date", "20240105", "--force")

    assert finished.returncode == 7
    assert record.read_text().splitlines() == [str(repo / "manager.py"), "both", "--date",
                                               "20240105", "--force"]


def test_local_split_without_a_bucket_runs_with_no_upload(tmp_path: Path) -> None:
    """The real splitter, run here by the wrapper, with [s3] bucket empty (its default)."""
    from tests.faults.common import ENTRIES, make_config, write_snapshots
    out = tmp_path / "groups"
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db",
                         splitter={"output_dir": str(out)})
    write_snapshots(tmp_path / "mpistat", ENTRIES, dt.date.today(), int(time.time()) - 60)
    env = clean_env(os.environ["PATH"], LURGE_LOCAL="1", LURGE_PYTHON=sys.executable,
                    LURGE_CONFIG=str(config))

    without = subprocess.run([BASH, str(REPO / SPLITTER.script)], env=env, capture_output=True,
                             text=True, timeout=120, cwd=tmp_path)
    assert without.returncode == 2
    assert "[s3] bucket is empty; set it, or pass --no-upload" in without.stderr

    finished = subprocess.run([BASH, str(REPO / SPLITTER.script), "--no-upload"], env=env,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert {"hgi.dat.gz", "index.txt", "groupfile", "passwdfile"} <= {p.name for p in out.iterdir()}
