"""utils/common/secrets.py (children's environment) and the log scrubber's rules in utils/common/logs.py."""

from __future__ import annotations

import pytest

from utils.common.logs import MIN_SECRET_LENGTH, register_secret, scrub
from utils.common.secrets import SECRET_VARIABLES, child_environment, secret_values

ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/lurge",
    "LURGE_CONFIG": "/etc/lurge.toml",
    "LURGE_DB_PASSWORD": "db-pass",
    "LURGE_LDAP_PASSWORD": "ldap-pass",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE01",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "session-token-value",
    "AWS_SECURITY_TOKEN": "security-token-value",
    "AWS_PROFILE": "lurge",
}


def test_child_environment_drops_exactly_the_secrets() -> None:
    assert child_environment(ENVIRONMENT) == {
        "PATH": "/usr/bin:/bin", "HOME": "/home/lurge", "LURGE_CONFIG": "/etc/lurge.toml", "AWS_PROFILE": "lurge"}
    assert set(SECRET_VARIABLES) == set(ENVIRONMENT) - set(child_environment(ENVIRONMENT))


def test_child_environment_defaults_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LURGE_LDAP_PASSWORD", "from-this-process")
    monkeypatch.setenv("LURGE_TEST_MARKER", "kept")
    environment = child_environment()
    assert "LURGE_LDAP_PASSWORD" not in environment
    assert environment["LURGE_TEST_MARKER"] == "kept"


def test_secret_values_skip_empty_variables() -> None:
    assert secret_values({"LURGE_DB_PASSWORD": "", "AWS_SESSION_TOKEN": "t", "PATH": "/bin"}) == ["t"]


@pytest.fixture
def short_password(monkeypatch: pytest.MonkeyPatch) -> str:
    """A database password shorter than MIN_SECRET_LENGTH that is also an everyday word."""
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LURGE_DB_PASSWORD", "report")
    assert len("report") < MIN_SECRET_LENGTH
    return "report"


@pytest.mark.parametrize("text", [
    "INFO utils.report.run[12]: wrote /data/reports/report-output-files/report-20250101.tsv",
    "report.py: failed: cannot connect (using password: YES)",
    "the report has 3 volumes",
])
def test_a_short_secret_leaves_ordinary_text_alone(short_password: str, text: str) -> None:
    assert scrub(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("cannot connect to mysql://lurge:report@db:3306/lurge",
     "cannot connect to mysql://lurge:***@db:3306/lurge"),
    ("Connection(host='db', password='report', user='lurge')",
     "Connection(host='db', password='***', user='lurge')"),
    ('{"user": "lurge", "password": "report"}', '{"user": "lurge", "password": "***"}'),
    ("LURGE_DB_PASSWORD=report ./cron.sh", "LURGE_DB_PASSWORD=*** ./cron.sh"),
    ("https://s3.example.org/b/k?X-Amz-Security-Token=report&X-Amz-Date=1",
     "https://s3.example.org/b/k?X-Amz-Security-Token=***&X-Amz-Date=1"),
])
def test_credentials_are_hidden_where_they_stand(short_password: str, text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_url_passwords_with_unescaped_characters_are_hidden() -> None:
    text = "ldap://cn=reader,dc=example,dc=org:p@ss/w#rd@ldap.example.org:389 and mysql://u:x@h/db"
    assert scrub(text) == "ldap://cn=reader,dc=example,dc=org:***@ldap.example.org:389 and mysql://u:***@h/db"


def test_long_secrets_are_hidden_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])
    monkeypatch.setenv("LURGE_LDAP_PASSWORD", "Ldap-Pass-2024")
    register_secret("registered-long-secret")
    text = ("signature built with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY; bind said Ldap-Pass-2024 "
            "is wrong; driver echoed registered-long-secret")
    assert scrub(text) == "signature built with ***; bind said *** is wrong; driver echoed ***"


def test_short_registered_secrets_are_not_hidden_in_ordinary_text() -> None:
    register_secret("run")
    assert scrub("utils.report.run: done") == "utils.report.run: done"
    assert scrub("mysql://lurge:run@db/lurge") == "mysql://lurge:***@db/lurge"
