"""Database URLs: parsing, the password from the environment, redaction."""

from __future__ import annotations

import pytest

from db.connection import ENGINE_DRIVER, PASSWORD_ENV, connect, parse_url, safe_redact_url
from utils.common.errors import DatabaseError

SECRET = "s3cr3t-pw"


def parts(url: str, environ: dict[str, str] | None = None) -> tuple:
    target = parse_url(url, environ={} if environ is None else environ)
    u = target.url
    return (u.drivername, u.host, u.port, u.username, u.password, u.database)


def test_full_mysql_url() -> None:
    target = parse_url(f"mysql://lurge:{SECRET}@db.example.org:3307/lustre_usage", environ={})
    assert parts(f"mysql://lurge:{SECRET}@db.example.org:3307/lustre_usage") == (
        ENGINE_DRIVER, "db.example.org", 3307, "lurge", SECRET, "lustre_usage")
    assert target.dialect == "mysql"
    assert target.shown == "mysql://lurge:***@db.example.org:3307/lustre_usage"
    assert target.secrets == (SECRET,)


def test_mysql_connector_url_is_the_same_target() -> None:
    long_form = parse_url(f"mysql+mysqlconnector://lurge:{SECRET}@db.example.org:3307/lustre_usage",
                          environ={})
    assert parts(f"mysql+mysqlconnector://lurge:{SECRET}@db.example.org:3307/lustre_usage") == parts(
        f"mysql://lurge:{SECRET}@db.example.org:3307/lustre_usage")
    assert long_form.shown == "mysql+mysqlconnector://lurge:***@db.example.org:3307/lustre_usage"


def test_mysql_defaults_port_and_allows_no_database() -> None:
    assert parts("mysql://root@127.0.0.1/")[1:] == ("127.0.0.1", 3306, "root", None, None)
    assert parse_url("mysql://root@127.0.0.1", environ={}).url.database is None


def test_percent_encoded_user_password_and_database() -> None:
    target = parse_url("mysql://us%40er:p%40ss%3Aw%2Fd%25@host/db%2Dx", environ={})
    assert (target.url.username, target.url.password, target.url.database) == ("us@er", "p@ss:w/d%", "db-x")
    assert target.scrub("p@ss:w/d% and p%40ss%3Aw%2Fd%25") == "*** and ***"


def test_unencoded_at_and_colon_in_password() -> None:
    assert parts("mysql://lurge:a:b@c@host:3306/db")[1:5] == ("host", 3306, "lurge", "a:b@c")


def test_password_from_environment_when_missing() -> None:
    target = parse_url("mysql://lurge@host/db", environ={PASSWORD_ENV: SECRET})
    assert target.url.password == SECRET
    assert target.scrub(f"x {SECRET} y") == "x *** y"
    assert target.shown == "mysql://lurge@host/db"


def test_password_in_url_wins_over_environment() -> None:
    assert parse_url("mysql://lurge:inurl@host/db", environ={PASSWORD_ENV: SECRET}).url.password == "inurl"


def test_explicit_empty_password_does_not_use_environment() -> None:
    assert parse_url("mysql://lurge:@host/db", environ={PASSWORD_ENV: SECRET}).url.password == ""


def test_real_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    assert parse_url("mysql://lurge@host/db").url.password == SECRET
    monkeypatch.delenv(PASSWORD_ENV)
    assert parse_url("mysql://lurge@host/db").url.password is None


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
    assert (target.dialect, target.url.database, target.url.host, target.url.password) == (
        "sqlite", path, None, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u:s3cr3t-pw@host/db", "postgres://u:***@host/db: unsupported database URL"),
        ("mysql+pymysql://u:s3cr3t-pw@host/db", "mysql+pymysql://u:***@host/db: unsupported database URL"),
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


def test_sqlite_connection_repr_and_dialect(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/lurge.db"
    with connect(url) as db:
        assert (db.dialect, db.url, repr(db)) == ("sqlite", url, f"Database('{url}', open)")
    assert repr(db) == f"Database('{url}', closed)"
