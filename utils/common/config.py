"""Typed, validated configuration (docs/configuration.md lists every key).

The TOML file is read with :mod:`tomllib`.  Every section maps onto a frozen
dataclass; the dataclass fields *are* the schema: a key that is not a field is
rejected, a field without a default is required, and each value is checked
against the field's type.  Every error names the file, the section and the key.
A key that lurge no longer uses (:data:`_IGNORED_KEYS`) is read past with one
warning, so an old file still loads.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import logging
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from utils.common.errors import ConfigError
from utils.common.logs import register_secret

log = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "lurge.toml"
CONFIG_ENV = "LURGE_CONFIG"
# The documented example shipped at the top of the repository.
EXAMPLE_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "lurge.example.toml")

DEFAULT_FILETYPES: dict[str, str] = {
    "BAM": r"\.(bam|sam)(\.gz)?$",
    "CRAM": r"\.cram(\.gz)?$",
    "VCF": r"\.(vcf|bcf|gvcf)(\.gz)?$",
    "PEDBED": r"\.(ped|bed)(\.gz)?$",
}
DEFAULT_ANY_GROUP_PREFIXES = (
    "/lustre/scratch116/vr/projects",
    "/lustre/scratch116/humgen/projects",
    "/lustre/scratch116/tol/projects",
)


# More malformed lines than this fraction of a snapshot's lines: a failed snapshot.
DEFAULT_MAX_MALFORMED_FRACTION = 0.01


@dataclass(frozen=True)
class PathsConfig:
    """Where snapshots are read from and reports are written to."""

    mpistat_dir: str
    report_dir: str
    max_days_ago: int = 10
    workers: int = 5
    # A volume's snapshot file for a date: {date} is YYYYMMDD, {volume} the
    # volume number, the rest a glob (wrstat: "{date}_scratch{volume}.*.*.stats.gz").
    snapshot_pattern: str = "{date}_{volume}.dat.gz"
    # More malformed lines than this fraction of a file's lines: a failed snapshot.
    max_malformed_fraction: float = DEFAULT_MAX_MALFORMED_FRACTION


@dataclass(frozen=True)
class DatabaseConfig:
    """Database URL; ``repr`` and ``redacted_url`` never show a password."""

    url: str = field(repr=False)
    timeout: float = 10.0  # seconds to connect (statements themselves are not limited)

    @property
    def redacted_url(self) -> str:
        try:
            return redact_url(self.url)
        except ValueError:  # an invalid port: hide everything before the host
            return _redact_unparsed(self.url, always=True)

    def __repr__(self) -> str:
        return f"DatabaseConfig(url={self.redacted_url!r}, timeout={self.timeout!r})"


@dataclass(frozen=True)
class LdapConfig:
    """The directory: an ``ldap://`` server or an offline ``ldif:/path`` export."""

    url: str
    group_base: str
    people_base: str
    humgen_filter: str = "(objectClass=sangerHumgenProjectGroup)"
    pi_attribute: str = "sangerProjectPI"
    bind_dn: str = ""  # the password comes from $LURGE_LDAP_PASSWORD, never from the URL
    timeout: float = 10.0  # seconds, for connecting and for each operation


@dataclass(frozen=True)
class QuotaConfig:
    """How ``lfs quota`` is run; an empty ``lfs`` disables quotas."""

    lfs: str = "lfs"
    timeout: float = 30.0
    concurrency: int = 8


WarningRule = tuple[float, float]  # (days ahead, fraction of the quota)


@dataclass(frozen=True)
class WarningsConfig:
    """How each group's status is decided from its projected usage."""

    history_days: int = 14  # database days (before today) the slope is fitted over
    not_ok: tuple[WarningRule, ...] = ((3.0, 0.85), (7.0, 0.95))
    kinda_ok: tuple[WarningRule, ...] = ((3.0, 0.80), (7.0, 0.85))


@dataclass(frozen=True)
class VolumeConfig:
    """One Lustre volume: its number (in snapshot names) and its mount."""

    number: int
    mount: str
    archive_roots: tuple[str, ...] = ()
    inspect_roots: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The volume as shown in reports: the mount's basename (``scratch118``)."""
        return os.path.basename(self.mount.rstrip("/"))


@dataclass(frozen=True)
class InspectorConfig:
    """Project inspector settings."""

    depth: int = 2
    aliases: Mapping[str, str] = field(default_factory=dict)
    filetypes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FILETYPES))


@dataclass(frozen=True)
class SplitterConfig:
    """Group splitter settings, including the index.txt constants."""

    volumes: tuple[int, ...] | None = None  # None: every configured volume
    output_dir: str = ""  # "": <report_dir>/groups
    special_prefixes: tuple[str, ...] = DEFAULT_ANY_GROUP_PREFIXES
    compress_level: int = 1
    lines_per_second: float = 11000.0
    base_seconds: float = 100.0
    dir_percent_thresholds: tuple[float, ...] = (0.8, 1.5, 2.0, 4.0)
    bytes_per_node: tuple[int, ...] = (12000, 10000, 9000, 8500, 8000)
    nodes_per_dir: int = 2
    base_nodes: int = 50


@dataclass(frozen=True)
class S3Config:
    """Where the split set is synced; credentials come from boto3's chain."""

    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 64 * 1024 * 1024
    max_attempts: int = 5  # per request, by botocore's standard retry mode
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    concurrency: int = 4


@dataclass(frozen=True)
class Config:
    """The whole configuration, as read from ``source``."""

    source: str
    paths: PathsConfig
    database: DatabaseConfig
    ldap: LdapConfig
    volumes: tuple[VolumeConfig, ...]
    quota: QuotaConfig = QuotaConfig()
    warnings: WarningsConfig = WarningsConfig()
    inspector: InspectorConfig = InspectorConfig()
    splitter: SplitterConfig = SplitterConfig()
    s3: S3Config = S3Config()

    def volume(self, number: int) -> VolumeConfig:
        """The configured volume with this number."""
        for volume in self.volumes:
            if volume.number == number:
                return volume
        raise KeyError(number)

    @property
    def splitter_volumes(self) -> tuple[VolumeConfig, ...]:
        numbers = self.splitter.volumes
        if numbers is None:
            return self.volumes
        return tuple(self.volume(n) for n in numbers)

    @property
    def splitter_output_dir(self) -> str:
        return self.splitter.output_dir or os.path.join(self.paths.report_dir, "groups")


_SECTIONS: dict[str, type] = {
    "paths": PathsConfig,
    "database": DatabaseConfig,
    "ldap": LdapConfig,
    "quota": QuotaConfig,
    "warnings": WarningsConfig,
    "inspector": InspectorConfig,
    "splitter": SplitterConfig,
    "s3": S3Config,
}
_REQUIRED_SECTIONS = ("paths", "database", "ldap")
# Keys of older versions that a file may still set: (section class, key) -> why it is ignored.
_IGNORED_KEYS: dict[tuple[type, str], str] = {
    (S3Config, "backoff_seconds"): "botocore's standard retry mode chooses the waits between "
                                   "attempts (see docs/splitter.md)",
}


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``.

    Raises ValueError when the URL has a password and an invalid port.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return _redact_unparsed(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _split_credentials(url: str) -> tuple[str, str, str] | None:
    """(scheme, credentials, host and the rest) split at ``://`` and the last ``@``, or None.

    Unlike :func:`urlsplit` this also finds a password holding an unescaped
    ``/``, ``?`` or ``#``, which would otherwise end the authority early.
    """
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or rest.startswith("/"):
        return None
    return scheme, credentials, host


def _redact_unparsed(url: str, *, always: bool = False) -> str:
    """Hide credentials :func:`urlsplit` cannot isolate (``always``: even without a ``:``)."""
    split = _split_credentials(url)
    if split is None or not (always or ":" in split[1]):
        return url
    return f"{split[0]}://***@{split[2]}"


def url_password(url: str) -> str | None:
    """The password written in ``url`` (percent-escapes kept), if any."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password is None:
        split = _split_credentials(url)
        if split is not None and ":" in split[1]:
            password = split[1].partition(":")[2]
    return password or None


def find_config_path(explicit: str | None) -> str:
    """``--config``, else ``$LURGE_CONFIG``, else ``./lurge.toml``."""
    if explicit:
        return explicit
    return os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME


def _missing_config_message(explicit: str | None, source: str) -> str:
    """What was looked for, and where to start from."""
    if explicit:
        return f"configuration file {source} does not exist"
    if os.environ.get(CONFIG_ENV):
        return (f"configuration file {source} (from ${CONFIG_ENV}) does not exist; "
                f"start from {EXAMPLE_CONFIG} (see docs/configuration.md)")
    return (f"no configuration file: --config was not given, ${CONFIG_ENV} is not set and "
            f"there is no ./{DEFAULT_CONFIG_NAME} in {os.getcwd()}; copy {EXAMPLE_CONFIG} to "
            f"{DEFAULT_CONFIG_NAME} and edit it (see docs/configuration.md)")


def load_config(path: str | None = None) -> Config:
    """Read and validate the configuration file (see :func:`find_config_path`)."""
    source = find_config_path(path)
    try:
        with open(source, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(_missing_config_message(path, source)) from None
    except PermissionError:
        raise ConfigError(f"configuration file {source} is not readable (permission denied)") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration file {source} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"configuration file {source} could not be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    return parse_config(raw, source)


def parse_config(raw: Mapping[str, Any], source: str = "<config>") -> Config:
    """Validate an already-parsed TOML document."""
    known = set(_SECTIONS) | {"volume"}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{source}: unknown section or key [{key}]")
    for name in _REQUIRED_SECTIONS:
        if name not in raw:
            raise ConfigError(f"{source}: missing required section [{name}]")
    sections = {
        name: _build(cls, raw[name], f"[{name}]", source)
        for name, cls in _SECTIONS.items()
        if name in raw
    }
    volumes_raw = raw.get("volume")
    if not isinstance(volumes_raw, list) or not volumes_raw:
        raise ConfigError(f"{source}: at least one [[volume]] table is required")
    volumes = tuple(
        _build(VolumeConfig, table, f"[[volume]] #{index + 1}", source)
        for index, table in enumerate(volumes_raw)
    )
    config = Config(source=source, volumes=volumes, **sections)
    for url in (config.database.url, config.ldap.url):
        password = url_password(url)
        if password:  # never shown in logs or messages, escaped or not
            register_secret(password)
            register_secret(unquote(password))
    _check_consistency(config)
    return config


def _build(cls: type, raw: Any, where: str, source: str) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, checking keys and types."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {where} must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key in fields:
            continue
        ignored = _IGNORED_KEYS.get((cls, key))
        if ignored is None:
            raise ConfigError(f"{source}: {where} unknown key '{key}'")
        log.warning("%s: %s %s is no longer used and is ignored: %s", source, where, key, ignored)
    values = {}
    for name, spec in fields.items():
        if name in raw:
            values[name] = _coerce(raw[name], hints[name], f"{where} {name}", source)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: {where} missing required key '{name}'")
    return cls(**values)


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check ``value`` against the type hint; return it in the field's type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], key, source)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key} must be a list, got {_describe(value)}")
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:  # tuple[X, ...]
            return tuple(_coerce(item, args[0], f"{key}[{i}]", source) for i, item in enumerate(value))
        if len(value) != len(args):  # a fixed-length tuple such as tuple[float, float]
            raise ConfigError(f"{source}: {key} must be a list of {len(args)} values, "
                              f"got {len(value)}")
        return tuple(_coerce(item, hint, f"{key}[{i}]", source)
                     for i, (item, hint) in enumerate(zip(value, args)))
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a table, got {_describe(value)}")
        return {
            str(k): _coerce(v, args[1] if args else str, f"{key}.{k}", source)
            for k, v in value.items()
        }
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise ConfigError(
            f"{source}: {key} must be {_TYPE_NAMES.get(hint, hint.__name__)}, got {_describe(value)}"
        )
    return value


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def _check_consistency(config: Config) -> None:
    """Value checks that span keys: ranges, absolute paths, references, regexes."""
    src = config.source

    def fail(message: str) -> None:
        raise ConfigError(f"{src}: {message}")

    if config.paths.max_days_ago < 1:
        fail("[paths] max_days_ago must be at least 1")
    if config.paths.workers < 1:
        fail("[paths] workers must be at least 1")
    if not 0 <= config.paths.max_malformed_fraction <= 1:
        fail("[paths] max_malformed_fraction must be between 0 and 1")
    _check_snapshot_pattern(config.paths.snapshot_pattern, fail)
    _check_warnings(config.warnings, fail)
    if config.quota.timeout <= 0 or config.quota.concurrency < 1:
        fail("[quota] timeout must be positive and concurrency at least 1")
    if config.ldap.timeout <= 0:
        fail("[ldap] timeout must be positive")
    ldap_url = _redact_unparsed(config.ldap.url, always=True)
    if not re.match(r"^(ldaps?://|ldif:)", config.ldap.url):
        fail(f"[ldap] url must start with ldap://, ldaps:// or ldif: (got {ldap_url!r})")
    if config.ldap.url.startswith(("ldap://", "ldaps://")) and "@" in config.ldap.url:
        fail(f"[ldap] url {ldap_url!r} holds credentials, which lurge never reads from the URL: set the bind "
             "DN as [ldap] bind_dn and the password in $LURGE_LDAP_PASSWORD (see docs/directory.md)")
    if not re.match(r"^(mysql|mysql\+mysqlconnector|sqlite)://", config.database.url):
        fail("[database] url must start with mysql:// or sqlite:// (or mysql+mysqlconnector://) "
             f"(got {config.database.redacted_url!r})")
    if config.database.url.startswith(("mysql://", "mysql+mysqlconnector://")):
        try:
            parts = urlsplit(config.database.url)
            valid = bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:
            valid = False
        if not valid:
            fail(f"[database] url {config.database.redacted_url!r} has no valid host and port "
                 "(characters such as / ? # in a password must be percent-encoded)")
    if config.database.timeout <= 0:
        fail("[database] timeout must be positive")
    seen: set[int] = set()
    for volume in config.volumes:
        if volume.number in seen:
            fail(f"[[volume]] number {volume.number} is configured twice")
        seen.add(volume.number)
        for key, paths in (("mount", (volume.mount,)), ("archive_roots", volume.archive_roots),
                           ("inspect_roots", volume.inspect_roots)):
            for path in paths:
                if not path.startswith("/"):
                    fail(f"[[volume]] {volume.number} {key} must be an absolute path (got {path!r})")
        if not volume.name:
            fail(f"[[volume]] {volume.number} mount {volume.mount!r} has no name component")
    if config.inspector.depth < 0:
        fail("[inspector] depth must not be negative")
    for name, pattern in config.inspector.filetypes.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            fail(f"[inspector] filetypes.{name} is not a valid regular expression: {exc}")
    for alias, target in config.inspector.aliases.items():
        if not alias.startswith("/") or not target.startswith("/"):
            fail(f"[inspector] aliases.{alias} must map an absolute path to an absolute path")
        if volume_for_path(config, target) is None:
            fail(f"[inspector] aliases.{alias} points at {target}, which is on no configured mount")
    for number in config.splitter.volumes or ():
        if number not in seen:
            fail(f"[splitter] volumes: volume {number} has no [[volume]] entry (no mount configured)")
    splitter = config.splitter
    if len(splitter.bytes_per_node) != len(splitter.dir_percent_thresholds) + 1:
        fail("[splitter] bytes_per_node must have one more entry than dir_percent_thresholds")
    if splitter.lines_per_second <= 0:
        fail("[splitter] lines_per_second must be positive")
    if not 0 <= splitter.compress_level <= 9:
        fail("[splitter] compress_level must be between 0 and 9")
    if config.s3.max_attempts < 1 or config.s3.multipart_chunksize < 5 * 1024 * 1024:
        fail("[s3] max_attempts must be at least 1 and multipart_chunksize at least 5 MiB")


def _check_snapshot_pattern(pattern: str, fail: Callable[[str], None]) -> None:
    """The pattern is a file name holding {date} and {volume} once each, no other braces."""
    where = f"[paths] snapshot_pattern {pattern!r}"
    if "/" in pattern:
        fail(f"{where} must be a file name (no /): it is matched inside mpistat_dir")
    for placeholder in ("{date}", "{volume}"):
        if pattern.count(placeholder) != 1:
            fail(f"{where} must contain {placeholder} exactly once")
    rest = pattern.replace("{date}", "").replace("{volume}", "")
    if "{" in rest or "}" in rest:
        fail(f"{where}: only {{date}} and {{volume}} may appear in braces")


def _check_warnings(warnings: WarningsConfig, fail: Callable[[str], None]) -> None:
    """history_days at least 1; every rule is [days >= 0, fraction > 0]."""
    if warnings.history_days < 1:
        fail("[warnings] history_days must be at least 1")
    for key in ("not_ok", "kinda_ok"):
        for index, rule in enumerate(getattr(warnings, key)):
            if len(rule) != 2:
                fail(f"[warnings] {key}[{index}] must be a pair [days ahead, fraction of quota]")
            days, fraction = rule
            if days < 0:
                fail(f"[warnings] {key}[{index}]: days ahead must not be negative (got {days:g})")
            if fraction <= 0:
                fail(f"[warnings] {key}[{index}]: the fraction of the quota must be positive "
                     f"(got {fraction:g})")


def volume_for_path(config: Config, path: str) -> VolumeConfig | None:
    """The volume whose mount contains ``path`` (longest mount wins)."""
    best: VolumeConfig | None = None
    for volume in config.volumes:
        mount = volume.mount.rstrip("/")
        if path == mount or path.startswith(mount + "/"):
            if best is None or len(mount) > len(best.mount.rstrip("/")):
                best = volume
    return best
