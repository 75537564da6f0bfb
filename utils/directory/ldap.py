"""The directory (SPEC §1.2): humgen groups, their PIs, and posix group names.

:func:`load_directory` reads everything the suite needs in a handful of
searches and returns a :class:`DirectorySnapshot`, a small picklable value
that is handed to worker processes.  The data comes from an LDAP server
(``ldap://`` / ``ldaps://``, via ldap3) or from an offline ``ldapsearch -LLL``
export (``ldif:/path``); both backends run the same searches — same bases,
scopes, filters and attributes — so they give the same answer for the same data.
"""

from __future__ import annotations

import enum
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPOperationResult

from utils.common.config import LdapConfig
from utils.common.errors import DirectoryError
from utils.directory.ldif import (
    dn_key,
    escape_filter_value,
    in_subtree,
    is_direct_child,
    normalise_dn,
    parse_filter,
    read_ldif,
    uid_from_dn,
)

log = logging.getLogger(__name__)

PASSWORD_ENV = "LURGE_LDAP_PASSWORD"
POSIX_GROUP_FILTER = "(objectClass=posixGroup)"
PAGE_SIZE = 500  # entries per page of a paged search
UID_BATCH_SIZE = 200  # uids per PI look-up filter


@dataclass(frozen=True)
class DirectorySnapshot:
    """What the directory says about gids, read once per run."""

    humgen: Mapping[int, str]  # gid -> humgen group name (cn)
    pis: Mapping[int, str]  # humgen gid -> PI surname, only for groups that have one
    posix: Mapping[int, str]  # gid -> posixGroup name, for all posix groups

    def is_humgen(self, gid: int) -> bool:
        """Is ``gid`` a humgen project group?"""
        return gid in self.humgen

    def pi(self, gid: int) -> str | None:
        """The PI surname of a humgen group; None for other gids or groups without a PI."""
        return self.pis.get(gid) if gid in self.humgen else None

    def name(self, gid: int) -> str | None:
        """The humgen name, else the posixGroup name, else None."""
        return self.humgen.get(gid) or self.posix.get(gid)

    def group_name(self, gid: int) -> str:
        """:meth:`name`, or the decimal gid when the directory does not know it."""
        return self.name(gid) or str(gid)


class Scope(enum.Enum):
    ONE_LEVEL = "one-level"
    SUBTREE = "subtree"


class Found(NamedTuple):
    """One search result: the DN and the requested attributes (lower-cased names)."""

    dn: str
    attributes: Mapping[str, Sequence[str]]


class DirectoryBackend(Protocol):
    """Somewhere searches can be run: a server or an export."""

    description: str  # the URL or file, for messages

    def search(self, base: str, scope: Scope, search_filter: str, attributes: Sequence[str]) -> list[Found]:
        """All entries in scope that match; values decoded as UTF-8 (surrogateescape)."""

    def close(self) -> None:
        """Release the connection, if any."""


def load_directory(config: LdapConfig) -> DirectorySnapshot:
    """Read the directory configured in ``config`` (server or ``ldif:`` export)."""
    backend = open_backend(config)
    try:
        return read_snapshot(backend, config)
    finally:
        backend.close()


def open_backend(config: LdapConfig) -> DirectoryBackend:
    """The backend for ``config.url``: ``ldap(s)://`` → server, ``ldif:PATH`` → export."""
    url = config.url
    if url.startswith("ldif:"):
        return LdifBackend(url[len("ldif:"):])
    if url.startswith(("ldap://", "ldaps://")):
        return ServerBackend(config)
    raise DirectoryError(f"directory URL {url!r} must start with ldap://, ldaps:// or ldif:")


# --------------------------------------------------------------------------- the three questions


def read_snapshot(backend: DirectoryBackend, config: LdapConfig) -> DirectorySnapshot:
    """Ask the backend the three questions of SPEC §1.2."""
    pi_attribute = config.pi_attribute.lower()
    humgen_found = backend.search(
        config.group_base, Scope.ONE_LEVEL, config.humgen_filter, ["cn", "gidNumber", config.pi_attribute]
    )
    humgen_entries = _groups_by_gid(humgen_found, "humgen group", backend.description)
    humgen = {gid: name for gid, (name, _) in humgen_entries.items()}

    pi_uids: dict[int, str] = {}
    for gid, (name, attributes) in humgen_entries.items():
        pi_dns = attributes.get(pi_attribute) or []
        if not pi_dns:
            continue
        uid = uid_from_dn(pi_dns[0])
        if uid is None:
            log.warning("%s: humgen group %s (gid %d) has PI %r, which is not a uid=... DN; no PI",
                        backend.description, name, gid, pi_dns[0])
            continue
        pi_uids[gid] = uid
    surnames = _surnames_by_uid(backend, config.people_base, set(pi_uids.values()))
    pis: dict[int, str] = {}
    for gid, uid in sorted(pi_uids.items()):
        surname = surnames.get(uid.casefold())
        if surname is None:
            log.warning("%s: PI uid=%s of humgen group %s (gid %d) is not under %s; no PI",
                        backend.description, uid, humgen[gid], gid, config.people_base)
            continue
        pis[gid] = surname

    posix_found = backend.search(config.group_base, Scope.ONE_LEVEL, POSIX_GROUP_FILTER, ["cn", "gidNumber"])
    posix = {gid: name for gid, (name, _) in _groups_by_gid(posix_found, "posix group", backend.description).items()}

    if not humgen:
        log.warning("%s: no humgen groups under %s match %s", backend.description, config.group_base,
                    config.humgen_filter)
    log.info("%s: read %d humgen groups, %d PIs, %d posix groups", backend.description, len(humgen),
             len(pis), len(posix))
    return DirectorySnapshot(humgen=humgen, pis=pis, posix=posix)


def _groups_by_gid(
    found: Sequence[Found], kind: str, where: str
) -> dict[int, tuple[str, Mapping[str, Sequence[str]]]]:
    """gid → (first cn, attributes); bad entries skipped, duplicate gids keep the smallest cn."""
    groups: dict[int, tuple[str, Mapping[str, Sequence[str]]]] = {}
    for entry in found:
        names = entry.attributes.get("cn") or []
        gid_values = entry.attributes.get("gidnumber") or []
        name = names[0] if names else ""
        if not name:
            log.warning("%s: skipping %s %s: it has no cn", where, kind, entry.dn)
            continue
        try:
            gid = int(gid_values[0].strip())
        except (IndexError, ValueError):
            shown = repr(gid_values[0]) if gid_values else "none"
            log.warning("%s: skipping %s %s: gidNumber is missing or not an integer (%s)",
                        where, kind, entry.dn, shown)
            continue
        previous = groups.get(gid)
        if previous is not None:
            kept, dropped = sorted((previous[0], name))
            log.warning("%s: %ss %r and %r share gidNumber %d; using %r",
                        where, kind, kept, dropped, gid, kept)
            if previous[0] == kept:
                continue
        groups[gid] = (name, entry.attributes)
    return groups


def _surnames_by_uid(backend: DirectoryBackend, people_base: str, uids: set[str]) -> dict[str, str]:
    """case-folded uid → first ``sn`` of the person with that uid under ``people_base``."""
    wanted = sorted({uid.casefold(): uid for uid in uids}.items())
    found_by_uid: dict[str, tuple[str, str]] = {}  # folded uid -> (normalised dn, sn)
    for start in range(0, len(wanted), UID_BATCH_SIZE):
        batch = wanted[start:start + UID_BATCH_SIZE]
        batch_keys = {folded for folded, _ in batch}
        search_filter = "(|" + "".join(f"(uid={escape_filter_value(uid)})" for _, uid in batch) + ")"
        for entry in backend.search(people_base, Scope.SUBTREE, search_filter, ["uid", "sn"]):
            surnames = entry.attributes.get("sn") or []
            if not surnames or not surnames[0]:
                log.warning("%s: person %s has no sn; not used as a PI", backend.description, entry.dn)
                continue
            key_dn = _comparable_dn(entry.dn)
            for uid in entry.attributes.get("uid") or []:
                folded = uid.casefold()
                if folded not in batch_keys:
                    continue
                previous = found_by_uid.get(folded)
                if previous is not None and previous[0] != key_dn:
                    log.warning("%s: several people have uid=%s; using the first DN in sorted order",
                                backend.description, uid)
                    if previous[0] < key_dn:
                        continue
                found_by_uid[folded] = (key_dn, surnames[0])
    return {folded: surname for folded, (_, surname) in found_by_uid.items()}


def _comparable_dn(dn: str) -> str:
    """:func:`normalise_dn`, or the case-folded text for a DN it cannot parse."""
    try:
        return normalise_dn(dn)
    except DirectoryError:
        return dn.casefold()


# --------------------------------------------------------------------------- backends


class LdifBackend:
    """Searches answered from an ``ldapsearch -LLL`` export held in memory."""

    def __init__(self, path: str) -> None:
        if not path:
            raise DirectoryError("directory URL 'ldif:' names no file (use ldif:/path/export.ldif)")
        self.description = f"ldif:{path}"
        self.entries = read_ldif(path)

    def search(self, base: str, scope: Scope, search_filter: str, attributes: Sequence[str]) -> list[Found]:
        matcher = parse_filter(search_filter)
        in_scope = is_direct_child if scope is Scope.ONE_LEVEL else in_subtree
        wanted = [name.lower() for name in attributes]
        try:
            base_key = dn_key(base)
        except DirectoryError as exc:
            raise DirectoryError(f"{self.description}: search base {base!r} is not valid: {exc}") from None
        return [
            Found(entry.dn, {name: entry.attributes[name] for name in wanted if name in entry.attributes})
            for entry in self.entries
            if in_scope(entry.key, base_key) and matcher.matches(entry.attributes)
        ]

    def close(self) -> None:
        pass


class ServerBackend:
    """Searches sent to an LDAP server over one read-only, paged ldap3 connection."""

    def __init__(self, config: LdapConfig) -> None:
        self.description = config.url
        self.timeout = config.timeout
        parts = urlsplit(config.url)
        try:
            port = parts.port
        except ValueError:
            raise DirectoryError(f"directory URL {config.url!r} has an invalid port") from None
        if not parts.hostname:
            raise DirectoryError(f"directory URL {config.url!r} names no host")
        password = ""
        if config.bind_dn:
            password = os.environ.get(PASSWORD_ENV, "")
            if not password:
                raise DirectoryError(
                    f"LDAP {config.url}: bind_dn {config.bind_dn!r} is configured but ${PASSWORD_ENV} is not set"
                )
        stage = f"binding as {config.bind_dn}" if config.bind_dn else "connecting and binding anonymously"
        try:
            server = ldap3.Server(parts.hostname, port=port, use_ssl=parts.scheme == "ldaps",
                                  connect_timeout=config.timeout, get_info=ldap3.NONE)
            self.connection = ldap3.Connection(
                server,
                user=config.bind_dn or None,
                password=password or None,
                authentication=ldap3.SIMPLE if config.bind_dn else ldap3.ANONYMOUS,
                read_only=True,
                raise_exceptions=True,
                # ldap3 packs this into SO_RCVTIMEO as whole seconds, so it must be an int.
                receive_timeout=max(1, math.ceil(config.timeout)),
                auto_referrals=False,
                auto_bind=ldap3.AUTO_BIND_NO_TLS,
            )
        except LDAPException as exc:
            raise DirectoryError(
                f"LDAP {config.url}: {stage} failed: {_describe(exc, password, config.timeout)}"
            ) from None

    def search(self, base: str, scope: Scope, search_filter: str, attributes: Sequence[str]) -> list[Found]:
        try:
            responses = self.connection.extend.standard.paged_search(
                search_base=base,
                search_filter=search_filter,
                search_scope=ldap3.LEVEL if scope is Scope.ONE_LEVEL else ldap3.SUBTREE,
                dereference_aliases=ldap3.DEREF_NEVER,
                attributes=list(attributes),
                time_limit=math.ceil(self.timeout),
                paged_size=PAGE_SIZE,
                generator=False,
            )
        except LDAPException as exc:
            raise DirectoryError(
                f"LDAP {self.description}: {scope.value} search under {base!r} for {search_filter} failed: "
                f"{_describe(exc, '', self.timeout)}"
            ) from None
        outcome = self.connection.result or {}
        if outcome.get("result", 0) != 0:  # ldap3 does not raise for size/time limits: partial results
            raise DirectoryError(
                f"LDAP {self.description}: {scope.value} search under {base!r} for {search_filter} returned "
                f"partial results: {outcome.get('description')} (result code {outcome.get('result')})"
            )
        found = []
        for response in responses:
            if response.get("type") != "searchResEntry":
                continue
            values = {
                name.lower(): [value.decode("utf-8", "surrogateescape") for value in raw]
                for name, raw in response["raw_attributes"].items()
            }
            found.append(Found(response["dn"], values))
        return found

    def close(self) -> None:
        try:
            self.connection.unbind()
        except LDAPException:
            pass


def _describe(exc: LDAPException, secret: str, timeout: float) -> str:
    """A readable reason for an ldap3 error, with ``secret`` never shown."""
    if isinstance(exc, LDAPOperationResult):
        text = f"{exc.description} (result code {exc.result})"
        if exc.message:
            text += f": {exc.message}"
    else:
        text = str(exc) or type(exc).__name__
    if "timed out" in text or isinstance(exc, TimeoutError):
        text += f" (no answer within the {timeout:g} s timeout)"
    if secret:
        text = text.replace(secret, "***")
    return text
