"""Database URLs: parsing, the password from the environment, redaction."""

from __future__ import annotations

import datetime

import pytest

from db.connection import (
    PASSWORD_ENV,
    ConnectionTarget,
    as_date,
    connect,
    parse_url,
    safe_redact_url,
)
from utils.common.errors import DatabaseError

SECRET = "s3cr3t-pw"


def test_full_mysql_url() -> None:
    target = parse_url(f"mysql://lurge:{SECRET}@db.example.org:3307/lustre_usage", environ={})
    assert target == ConnectionTarget(
        engine="mysql",
        url=f"mysql://lurge:{SECRET}@db.example.org:3307/lustre_usage",
        host="db.example.org",
        port=3307,
        user="lurge",
        password=SECRET,
        database="lustre_usage",
        secrets=(SECRET,),
    )
    assert target.redacted_url == "mysql://lurge:***@db.example.org:3307/lustre_usage"


def test_mysql_defaults_port_and_allows_no_database() -> None:
    target = parse_url("mysql://root@127.0.0.1/", environ={})
    assert (target.host, target.port, target.user, target.password, target.database) == (
        "127.0.0.1", 3306, "root", None, None)
    assert parse_url("mysql://root@127.0.0.1", environ={}).database is None


def test_percent_encoded_user_password_and_database() -> None:
    target = parse_url("mysql://us%40er:p%40ss%3Aw%2Fd%25@host/db%2Dx", environ={})
    assert (target.user, target.password, target.database) == ("us@er", "p@ss:w/d%", "db-x")
    assert target.scrub("p@ss:w/d% and p%40ss%3Aw%2Fd%25") == "*** and ***"


def test_unencoded_at_and_colon_in_password() -> None:
    target = parse_url("mysql://lurge:a:b@c@host:3306/db", environ={})
    assert (target.user, target.password, target.host) == ("lurge", "a:b@c", "host")


def test_password_from_environment_when_missing() -> None:
    target = parse_url("mysql://lurge@host/db", environ={PASSWORD_ENV: SECRET})
    assert target.password == SECRET
    assert target.scrub(f"x {SECRET} y") == "x *** y"
    assert target.redacted_url == "mysql://lurge@host/db"


def test_password_in_url_wins_over_environment() -> None:
    target = parse_url("mysql://lurge:inurl@host/db", environ={PASSWORD_ENV: SECRET})
    assert target.password == "inurl"


def test_explicit_empty_password_does_not_use_environment() -> None:
    target = parse_url("mysql://lurge:@host/db", environ={PASSWORD_ENV: SECRET})
    assert target.password == ""


def test_real_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    assert parse_url("mysql://lurge@host/db").password == SECRET
    monkeypatch.delenv(PASSWORD_ENV)
    assert parse_url("mysql://lurge@host/db").password is None


def test_repr_never_shows_the_password() -> None:
    target = parse_url(f"mysql://lurge:{SECRET}@host/db", environ={})
    assert SECRET not in repr(target)
    assert SECRET not in str(target)
    env_target = parse_url("mysql://lurge@host/db", environ={PASSWORD_ENV: SECRET})
    assert SECRET not in repr(env_target)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////abs/dir/lurge.db", "/abs/dir/lurge.db"),
        ("sqlite:///rel/lurge.db", "rel/lurge.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:///with space%20and?query#x.db", "with space%20and?query#x.db"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    target = parse_url(url, environ={})
    assert (target.engine, target.path, target.host, target.password) == ("sqlite", path, None, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u:s3cr3t-pw@host/db", "postgres://u:***@host/db: unsupported database URL"),
        ("sqlite://host/lurge.db", "sqlite://host/lurge.db: SQLite URLs look like"),
        ("sqlite:///", "sqlite:///: no SQLite file path"),
        ("mysql://u:s3cr3t-pw@host:notaport/db", "mysql://***@host:notaport/db: invalid port"),
        ("mysql://u:s3cr3t-pw@:3306/db", "mysql://u:***@:3306/db: no host"),
        ("mysql://u:s3cr3t-pw@host/db?ssl=1", "mysql://u:***@host/db?ssl=1: database URL options"),
        ("mysql://u:s3cr3t-pw@host/db/extra", "mysql://u:***@host/db/extra: database name must be"),
    ],
)
def test_bad_urls_are_rejected_without_the_password(url: str, message: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        parse_url(url, environ={})
    assert str(caught.value).startswith(message)
    assert SECRET not in str(caught.value)


def test_safe_redact_url() -> None:
    assert safe_redact_url("mysql://u:pw@host:1/db") == "mysql://u:***@host:1/db"
    assert safe_redact_url("mysql://u:pw@host:bad/db") == "mysql://***@host:bad/db"
    assert safe_redact_url("sqlite:////x.db") == "sqlite:////x.db"


def test_sqlite_file_that_cannot_be_opened(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/missing-dir/lurge.db"
    with pytest.raises(DatabaseError) as caught:
        connect(url)
    assert str(caught.value) == f"cannot open {url}: unable to open database file"


def test_sqlite_connection_repr_and_engine(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/lurge.db"
    with connect(url) as db:
        assert (db.engine, db.url, repr(db)) == ("sqlite", url, f"Database('{url}', open)")
    assert repr(db) == f"Database('{url}', closed)"


def test_as_date() -> None:
    day = datetime.date(2024, 2, 29)
    assert as_date(day) is day
    assert as_date("2024-02-29") == day
    assert as_date(b"2024-02-29") == day
    assert as_date(datetime.datetime(2024, 2, 29, 13, 0)) == day
    assert as_date(None) is None
    with pytest.raises(TypeError):
        as_date(20240229)
