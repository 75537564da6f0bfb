"""Secrets: passwords never show in logs, tracebacks, messages or --dry-run output, nor reach children.

The failures are real: MariaDB refuses a wrong password, and the report
directory is a file.  (Tracebacks of unexpected errors: tests/common/test_cli.py.)
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path

import pytest

from tests.faults.common import ENTRIES, make_config, run, write_snapshots
from utils.common.logs import ScrubbingFormatter, register_secret

TODAY = dt.date.today()
# The password as written in the URL (percent-encoded) and as sent to the server.
ENCODED = "Sec1%2FRet2%23Pw3%40x"
DECODED = "Sec1/Ret2#Pw3@x"
PIECES = ("Sec1", "Ret2", "Pw3")


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in (*secrets, *PIECES):
        assert secret not in text, secret


def commands(config: Path, files: list[str]) -> dict[str, list[str]]:
    """Every script that touches the database, verbose."""
    return {
        "report.py": ["report.py", "-v", "--config", str(config), TODAY.isoformat(), *files],
        "manager.py": ["manager.py", "report", "-v", "--config", str(config)],
        "project_inspector.py": ["project_inspector.py", "-v", "--config", str(config), "--tosql"],
    }


def setup(tmp_path: Path, url: str) -> tuple[Path, list[str]]:
    config = make_config(tmp_path, url, database={"timeout": 5})
    files = write_snapshots(tmp_path / "mpistat", ENTRIES, TODAY, int(time.time()) - 60)
    return config, [str(path) for path in files.values()]


@pytest.mark.mysql
def test_wrong_password_in_the_url_is_never_shown(tmp_path: Path) -> None:
    url = f"mysql://root:{ENCODED}@127.0.0.1:3306/lurge_never_created"
    config, files = setup(tmp_path, url)
    shown = "mysql://root:***@127.0.0.1:3306/lurge_never_created"
    for name, command in commands(config, files).items():
        result, _ = run(*command)
        assert result.returncode == 1, (name, result.stderr)
        assert (f"{name}: failed: cannot connect to {shown}: 1045 (28000): Access denied for user "
                "'root'@'127.0.0.1' (using password: YES)\n") in result.stderr, name
        assert_hidden(result.stdout + result.stderr, ENCODED, DECODED)
    dry, _ = run("manager.py", "report", "--dry-run", "-v", "--config", str(config))
    assert dry.returncode == 0, dry.stderr
    assert f"would load database rows for {TODAY} into {shown} (unless already loaded)" in dry.stdout
    assert_hidden(dry.stdout + dry.stderr, ENCODED, DECODED)


@pytest.mark.mysql
def test_wrong_password_from_the_environment_is_never_shown(tmp_path: Path) -> None:
    url = "mysql://root@127.0.0.1:3306/lurge_never_created"
    config, files = setup(tmp_path, url)
    env = {"LURGE_DB_PASSWORD": DECODED}
    for name, command in commands(config, files).items():
        result, _ = run(*command, env=env)
        assert result.returncode == 1, (name, result.stderr)
        assert (f"{name}: failed: cannot connect to {url}: 1045 (28000): Access denied for user "
                "'root'@'127.0.0.1' (using password: YES)\n") in result.stderr, name
        assert_hidden(result.stdout + result.stderr, DECODED)
    dry, _ = run("manager.py", "report", "--dry-run", "-v", "--config", str(config), env=env)
    assert dry.returncode == 0 and f"into {url} (unless already loaded)" in dry.stdout
    assert_hidden(dry.stdout + dry.stderr, DECODED)


def test_unescaped_password_is_hidden_even_though_the_url_is_invalid(tmp_path: Path) -> None:
    url = f"mysql://lurge:{DECODED}@db.invalid:3306/lurge"  # / # @ not percent-encoded
    config, _ = setup(tmp_path, url)
    result, _ = run("manager.py", "report", "--dry-run", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert (f"{config}: [database] url 'mysql://***@db.invalid:3306/lurge' has no valid host and "
            "port") in result.stderr
    assert_hidden(result.stdout + result.stderr, DECODED)


def test_report_folder_that_is_a_file_is_named_and_never_shows_the_password(tmp_path: Path) -> None:
    """Once an unexpected error with a traceback; now a configuration error named in one line."""
    url = f"mysql://root:{ENCODED}@127.0.0.1:3306/lurge_never_created"
    config, files = setup(tmp_path, url)
    reports = tmp_path / "reports"
    reports.rmdir()
    reports.write_text("a file where the report directory should be\n")
    for name, command in commands(config, files).items():
        if name == "project_inspector.py":
            continue  # it does not use the report directory
        result, _ = run(*command, env={"LURGE_DB_PASSWORD": "Pw3-from-the-environment"})
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.endswith(
            f"{name}: error: {config}: [paths] report_dir {reports} is not a folder\n"), name
        assert "Traceback" not in result.stderr
        assert_hidden(result.stdout + result.stderr, ENCODED, DECODED, "Pw3-from-the-environment")


def test_log_records_and_tracebacks_are_scrubbed() -> None:
    """The safety net itself: any formatted record holding a registered secret is redacted."""
    register_secret("t0p-s3cret-value")
    formatter = ScrubbingFormatter("%(levelname)s %(message)s")
    try:
        raise RuntimeError("driver said: bad password t0p-s3cret-value")
    except RuntimeError:
        record = logging.LogRecord("lurge", logging.ERROR, __file__, 1, "connecting with %s",
                                   ("t0p-s3cret-value",), exc_info=sys.exc_info())
    text = formatter.format(record)
    assert text.startswith("ERROR connecting with ***\nTraceback (most recent call last):")
    assert text.endswith("RuntimeError: driver said: bad password ***")
    assert "t0p-s3cret-value" not in text


# ------------------------------------------------------------------ redaction where secrets stand

SECRET_ENVIRONMENT = {
    "LURGE_DB_PASSWORD": "report",  # short, and a word every log line of the report holds
    "LURGE_LDAP_PASSWORD": "Ldap-Secret-17",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE01",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "Session-Token-Value-9",
    "AWS_SECURITY_TOKEN": "Security-Token-Value-9",
}


def test_a_short_password_does_not_mangle_the_logs(tmp_path: Path) -> None:
    config, files = setup(tmp_path, f"sqlite:///{tmp_path}/lurge.db")
    result, _ = run("report.py", "-v", "--config", str(config), TODAY.isoformat(), *files,
                    env={"LURGE_DB_PASSWORD": "report"})
    assert result.returncode == 0, result.stderr
    assert " utils.report.run[" in result.stderr
    assert f"/reports/report-output-files/report-{TODAY:%Y%m%d}.tsv" in result.stderr
    assert "***" not in result.stderr


@pytest.mark.parametrize("password", ["Ld4p-in-the-URL", "pw"])
def test_credentials_in_the_ldap_url_are_refused(tmp_path: Path, password: str) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db",
                         f"ldap://cn=reader,dc=example,dc=org:{password}@ldap.example.org:389")
    for command in (["manager.py", "report", "--dry-run"], ["group_splitter.py", "--no-upload"]):
        result, _ = run(command[0], "--config", str(config), *command[1:])
        assert result.returncode == 2, result.stderr
        assert (f"{config}: [ldap] url 'ldap://***@ldap.example.org:389' holds credentials, which lurge never "
                "reads from the URL: set the bind DN as [ldap] bind_dn and the password in "
                "$LURGE_LDAP_PASSWORD (see docs/directory.md)") in result.stderr
        assert f":{password}@" not in result.stdout + result.stderr


def test_lfs_runs_without_the_secrets(tmp_path: Path, fake_lfs) -> None:
    fake_lfs.default(used=1, soft=0, hard=2)
    config = make_config(tmp_path, f"sqlite:///{tmp_path}/lurge.db", quota={"lfs": fake_lfs.command})
    files = write_snapshots(tmp_path / "mpistat", ENTRIES, TODAY, int(time.time()) - 60)
    result, _ = run("report.py", "--config", str(config), TODAY.isoformat(), *map(str, files.values()),
                    env=SECRET_ENVIRONMENT)
    assert result.returncode == 0, result.stderr
    environments = fake_lfs.environments()
    assert len(environments) == len(fake_lfs.calls()) > 0
    for environment in environments:
        assert set(environment) & set(SECRET_ENVIRONMENT) == set()
        assert environment["FAKE_LFS_DATA"] == str(fake_lfs.data_path)  # the rest is passed on
    long_values = [value for value in SECRET_ENVIRONMENT.values() if value != "report"]
    assert_hidden(result.stdout + result.stderr, *long_values)
