"""Configuration: defaults, every kind of error names the file and key, secrets stay hidden."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.configs import to_toml
from utils.common.config import DEFAULT_FILETYPES, find_config_path, load_config, redact_url
from utils.common.errors import ConfigError

MINIMAL = {
    "paths": {"mpistat_dir": "/m", "report_dir": "/r"},
    "database": {"url": "sqlite:///x.db"},
    "ldap": {"url": "ldif:/d.ldif", "group_base": "ou=g", "people_base": "ou=p"},
    "volume": [{"number": 118, "mount": "/lustre/scratch118"}],
}


def write(tmp_path: Path, sections: dict) -> str:
    path = tmp_path / "lurge.toml"
    path.write_text(to_toml(sections))
    return str(path)


def with_change(section: str, key: str, value) -> dict:
    sections = {name: (dict(body) if isinstance(body, dict) else [dict(t) for t in body])
                for name, body in MINIMAL.items()}
    if section == "volume":
        sections["volume"][0][key] = value
    else:
        sections.setdefault(section, {})[key] = value
    return sections


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.paths.max_days_ago == 10 and config.paths.workers == 5
    assert config.ldap.humgen_filter == "(objectClass=sangerHumgenProjectGroup)"
    assert config.ldap.pi_attribute == "sangerProjectPI"
    assert config.quota.lfs == "lfs" and config.quota.timeout == 30.0
    assert dict(config.inspector.filetypes) == DEFAULT_FILETYPES
    assert list(config.inspector.filetypes) == ["BAM", "CRAM", "VCF", "PEDBED"]
    assert config.inspector.depth == 2
    assert config.splitter_volumes == config.volumes
    assert config.splitter_output_dir == "/r/groups"
    assert config.volumes[0].name == "scratch118"
    assert config.s3.max_attempts == 5


@pytest.mark.parametrize("section, key, value, message", [
    ("paths", "colour", "blue", "[paths] unknown key 'colour'"),
    ("paths", "workers", "5", "[paths] workers must be an integer, got str '5'"),
    ("paths", "workers", True, "[paths] workers must be an integer, got bool True"),
    ("paths", "max_days_ago", 0, "[paths] max_days_ago must be at least 1"),
    ("quota", "timeout", "30", "[quota] timeout must be a number, got str '30'"),
    ("quota", "lfs", ["lfs"], "[quota] lfs must be a string, got list"),
    ("volume", "archive_roots", "/a", "[[volume]] #1 archive_roots must be a list, got str '/a'"),
    ("volume", "archive_roots", [1], "[[volume]] #1 archive_roots[0] must be a string, got int 1"),
    ("volume", "mount", "relative/path", "[[volume]] 118 mount must be an absolute path"),
    ("inspector", "filetypes", {"BAM": "(unclosed"}, "[inspector] filetypes.BAM is not a valid"),
    ("inspector", "aliases", {"/a": "/nowhere/x"}, "aliases./a points at /nowhere/x, which is on no"),
    ("splitter", "volumes", [118, 999], "[splitter] volumes: volume 999 has no [[volume]] entry"),
    ("database", "url", "postgres://x/y", "[database] url must start with mysql:// or sqlite://"),
    ("ldap", "url", "http://x", "[ldap] url must start with ldap://, ldaps:// or ldif:"),
])
def test_errors_name_the_file_and_key(tmp_path: Path, section: str, key: str, value,
                                      message: str) -> None:
    path = write(tmp_path, with_change(section, key, value))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_an_old_file_with_backoff_seconds_loads_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sections = with_change("s3", "backoff_seconds", 0.5)
    sections["s3"]["max_attempts"] = 3
    path = write(tmp_path, sections)

    config = load_config(path)

    assert config.s3.max_attempts == 3
    assert not hasattr(config.s3, "backoff_seconds")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, f"{path}: [s3] backoff_seconds is no longer used and is ignored: botocore's "
                          "standard retry mode chooses the waits between attempts (see docs/splitter.md)")]
    with pytest.raises(ConfigError, match=r"\[splitter\] unknown key 'backoff_seconds'"):
        load_config(write(tmp_path, with_change("splitter", "backoff_seconds", 0.5)))


def test_missing_required_key_and_section(tmp_path: Path) -> None:
    sections = dict(MINIMAL, ldap={"url": "ldif:/d.ldif", "group_base": "ou=g"})
    with pytest.raises(ConfigError, match=r"\[ldap\] missing required key 'people_base'"):
        load_config(write(tmp_path, sections))
    without_db = {k: v for k, v in MINIMAL.items() if k != "database"}
    with pytest.raises(ConfigError, match=r"missing required section \[database\]"):
        load_config(write(tmp_path, without_db))
    without_volumes = {k: v for k, v in MINIMAL.items() if k != "volume"}
    with pytest.raises(ConfigError, match=r"at least one \[\[volume\]\] table is required"):
        load_config(write(tmp_path, without_volumes))
    with pytest.raises(ConfigError, match=r"unknown section or key \[extra\]"):
        load_config(write(tmp_path, dict(MINIMAL, extra={"a": 1})))


def test_duplicate_volume(tmp_path: Path) -> None:
    sections = dict(MINIMAL, volume=[{"number": 1, "mount": "/a"}, {"number": 1, "mount": "/b"}])
    with pytest.raises(ConfigError, match="volume.. number 1 is configured twice"):
        load_config(write(tmp_path, sections))


def test_file_problems(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=f"configuration file {missing} does not exist"):
        load_config(missing)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(tmp_path))
    broken = tmp_path / "broken.toml"
    broken.write_text("[paths\n")
    with pytest.raises(ConfigError, match=f"{broken}: invalid TOML"):
        load_config(str(broken))
    if os.geteuid() != 0:  # root reads anything
        unreadable = tmp_path / "secret.toml"
        unreadable.write_text(to_toml(MINIMAL))
        unreadable.chmod(0)
        with pytest.raises(ConfigError, match="not readable"):
            load_config(str(unreadable))


def test_config_path_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LURGE_CONFIG", raising=False)
    assert find_config_path(None) == "lurge.toml"
    monkeypatch.setenv("LURGE_CONFIG", "/etc/lurge.toml")
    assert find_config_path(None) == "/etc/lurge.toml"
    assert find_config_path("/explicit.toml") == "/explicit.toml"


def test_password_never_in_repr_or_errors(tmp_path: Path) -> None:
    url = "mysql://lurge:s3cr3t-pw@db.example.org:3306/lustre"
    assert redact_url(url) == "mysql://lurge:***@db.example.org:3306/lustre"
    config = load_config(write(tmp_path, with_change("database", "url", url)))
    assert "s3cr3t-pw" not in repr(config) and "s3cr3t-pw" not in str(config.database)
    assert config.database.url == url
    bad = with_change("database", "url", "mongodb://u:s3cr3t-pw@h/db")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, bad))
    assert "s3cr3t-pw" not in str(caught.value)
