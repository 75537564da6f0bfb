"""The directory: humgen groups, their PIs, posix group names and user names.

:func:`load_directory` reads everything the suite needs in four searches and
returns a :class:`DirectorySnapshot`, a small picklable value that is handed to
worker processes.  The data comes from an LDAP server (``ldap://`` /
``ldaps://``) or from an ``ldapsearch -LLL`` export (``ldif:/path``, loaded
into ldap3's offline server by :mod:`utils.directory.export`).  Either way the
source is an ldap3 connection and every search goes through
:meth:`Directory.search`, so both give the same answer for the same data.
docs/directory.md describes what is read and how names are chosen.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError, LDAPOperationResult
from ldap3.utils.dn import parse_dn, to_dn

from utils.common.config import LdapConfig
from utils.common.errors import DirectoryError
from utils.directory.export import open_export

log = logging.getLogger(__name__)

PASSWORD_ENV = "LURGE_LDAP_PASSWORD"
POSIX_GROUP_FILTER = "(objectClass=posixGroup)"
POSIX_ACCOUNT_FILTER = "(objectClass=posixAccount)"
PERSON_FILTER = "(uid=*)"  # PI surnames: every person under people_base, matched by uid here
PAGE_SIZE = 500  # entries per page of a paged search
_DN_VALUE_ESCAPE = re.compile(rb"\\([0-9A-Fa-f]{2})|\\(.)", re.DOTALL)


@dataclass(frozen=True)
class DirectorySnapshot:
    """What the directory says about gids and uids, read once per run.

    Names are ``str``; bytes that are not UTF-8 are kept as surrogate escapes.
    """

    humgen: Mapping[int, str]  # gid -> humgen group name (cn)
    pis: Mapping[int, str]  # humgen gid -> PI surname, only for groups that have one
    posix: Mapping[int, str]  # gid -> posixGroup name, for all posix groups
    users: Mapping[int, str] = field(default_factory=dict)  # uid number -> user name (posixAccount uid)

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

    def user_name(self, uid: int) -> str:
        """The user name of ``uid``, or the decimal uid when the directory does not know it."""
        return self.users.get(uid) or str(uid)


class Scope(enum.Enum):
    ONE_LEVEL = "one-level"
    SUBTREE = "subtree"


class Found(NamedTuple):
    """One search result: the DN and the requested attributes (lower-cased names)."""

    dn: str
    attributes: Mapping[str, Sequence[str]]


class Directory:
    """An open ldap3 connection, to a server or to a loaded export, and the one way to search it."""

    def __init__(self, connection: ldap3.Connection, description: str, timeout: float) -> None:
        self.connection = connection
        self.description = description  # the URL or ldif:file, for messages
        self.timeout = timeout

    def search(self, base: str, scope: Scope, search_filter: str, attributes: Sequence[str]) -> list[Found]:
        """All entries in scope that match, paged; values decoded as UTF-8 (surrogateescape)."""
        where = f"{self.description}: {scope.value} search under {base!r} for {search_filter}"
        try:
            responses = self.connection.extend.standard.paged_search(
                search_base=",".join(to_dn(base, remove_space=True)),  # ldap3 refuses spaces around commas
                search_filter=search_filter,
                search_scope=ldap3.LEVEL if scope is Scope.ONE_LEVEL else ldap3.SUBTREE,
                dereference_aliases=ldap3.DEREF_NEVER,
                attributes=list(attributes),
                time_limit=math.ceil(self.timeout),
                paged_size=PAGE_SIZE,
                generator=False,
            )
        except LDAPException as exc:
            raise DirectoryError(f"{where} failed: {_describe(exc, '', self.timeout)}") from None
        outcome = self.connection.result or {}
        if outcome.get("result", 0) != 0:  # ldap3 does not raise for size/time limits: partial results
            raise DirectoryError(f"{where} returned partial results: {outcome.get('description')} "
                                 f"(result code {outcome.get('result')})")
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


def load_directory(config: LdapConfig) -> DirectorySnapshot:
    """Read the directory configured in ``config`` (server or ``ldif:`` export)."""
    directory = open_directory(config)
    try:
        return read_snapshot(directory, config)
    finally:
        directory.close()


def open_directory(config: LdapConfig) -> Directory:
    """The directory at ``config.url``: ``ldap(s)://`` → server, ``ldif:PATH`` → export."""
    url = config.url
    if url.startswith("ldif:"):
        path = url[len("ldif:"):]
        if not path:
            raise DirectoryError("directory URL 'ldif:' names no file (use ldif:/path/export.ldif)")
        return Directory(open_export(path), url, config.timeout)
    if url.startswith(("ldap://", "ldaps://")):
        return Directory(_connect(config), f"LDAP {url}", config.timeout)
    raise DirectoryError(f"directory URL {url!r} must start with ldap://, ldaps:// or ldif:")


# --------------------------------------------------------------------------- the four questions


def read_snapshot(directory: Directory, config: LdapConfig) -> DirectorySnapshot:
    """Humgen groups and their PIs, posix groups, and users, as docs/directory.md describes."""
    where = directory.description
    humgen_found = directory.search(config.group_base, Scope.ONE_LEVEL, config.humgen_filter,
                                    ["cn", "gidNumber", config.pi_attribute])
    humgen_entries = _names_by_number(humgen_found, "humgen group", "cn", "gidNumber", where)
    humgen = {gid: name for gid, (name, _) in humgen_entries.items()}
    pis = _pi_surnames(directory, config, humgen_entries)

    posix_found = directory.search(config.group_base, Scope.ONE_LEVEL, POSIX_GROUP_FILTER, ["cn", "gidNumber"])
    posix = {gid: name for gid, (name, _) in
             _names_by_number(posix_found, "posix group", "cn", "gidNumber", where).items()}

    users_found = directory.search(config.people_base, Scope.ONE_LEVEL, POSIX_ACCOUNT_FILTER, ["uid", "uidNumber"])
    users = {uid: name for uid, (name, _) in
             _names_by_number(users_found, "user", "uid", "uidNumber", where).items()}

    if not humgen:
        log.warning("%s: no humgen groups under %s match %s", where, config.group_base, config.humgen_filter)
    log.info("%s: read %d humgen groups, %d PIs, %d posix groups, %d users", where, len(humgen), len(pis),
             len(posix), len(users))
    return DirectorySnapshot(humgen=humgen, pis=pis, posix=posix, users=users)


def _names_by_number(found: Sequence[Found], kind: str, name_attribute: str, number_attribute: str,
                     where: str) -> dict[int, tuple[str, Mapping[str, Sequence[str]]]]:
    """number → (first name value, attributes); bad entries skipped, a shared number keeps the smallest name."""
    chosen: dict[int, tuple[str, Mapping[str, Sequence[str]]]] = {}
    for entry in found:
        names = entry.attributes.get(name_attribute.lower()) or []
        numbers = entry.attributes.get(number_attribute.lower()) or []
        name = names[0] if names else ""
        if not name:
            log.warning("%s: skipping %s %s: it has no %s", where, kind, entry.dn, name_attribute)
            continue
        try:
            number = int(numbers[0].strip())
        except (IndexError, ValueError):
            shown = repr(numbers[0]) if numbers else "none"
            log.warning("%s: skipping %s %s: %s is missing or not an integer (%s)",
                        where, kind, entry.dn, number_attribute, shown)
            continue
        previous = chosen.get(number)
        if previous is not None:
            kept, dropped = sorted((previous[0], name))
            log.warning("%s: %ss %r and %r share %s %d; using %r",
                        where, kind, kept, dropped, number_attribute, number, kept)
            if previous[0] == kept:
                continue
        chosen[number] = (name, entry.attributes)
    return chosen


def _pi_surnames(directory: Directory, config: LdapConfig,
                 humgen_entries: Mapping[int, tuple[str, Mapping[str, Sequence[str]]]]) -> dict[int, str]:
    """humgen gid → the ``sn`` of the person whose uid the group's PI DN names."""
    where = directory.description
    pi_uids: dict[int, str] = {}
    for gid, (name, attributes) in humgen_entries.items():
        pi_dns = attributes.get(config.pi_attribute.lower()) or []
        if not pi_dns:
            continue
        uid = uid_from_dn(pi_dns[0])
        if uid is None:
            log.warning("%s: humgen group %s (gid %d) has PI %r, which is not a uid=... DN; no PI",
                        where, name, gid, pi_dns[0])
            continue
        pi_uids[gid] = uid
    if not pi_uids:
        return {}
    people = directory.search(config.people_base, Scope.SUBTREE, PERSON_FILTER, ["uid", "sn"])
    surnames = _surnames_by_uid(people, set(pi_uids.values()), where)
    pis: dict[int, str] = {}
    for gid, uid in sorted(pi_uids.items()):
        surname = surnames.get(uid.casefold())
        if surname is None:
            log.warning("%s: PI uid=%s of humgen group %s (gid %d) is not under %s; no PI",
                        where, uid, humgen_entries[gid][0], gid, config.people_base)
            continue
        pis[gid] = surname
    return pis


def _surnames_by_uid(people: Sequence[Found], uids: set[str], where: str) -> dict[str, str]:
    """case-folded uid → first ``sn`` of the person with that uid, for the ``uids`` wanted."""
    wanted = {uid.casefold() for uid in uids}
    chosen: dict[str, tuple[str, str]] = {}  # folded uid -> (comparable DN, sn)
    for entry in people:
        matching = sorted({uid.casefold(): uid for uid in entry.attributes.get("uid") or []
                           if uid.casefold() in wanted}.items())
        if not matching:
            continue
        surnames = entry.attributes.get("sn") or []
        if not surnames or not surnames[0]:
            log.warning("%s: person %s has no sn; not used as a PI", where, entry.dn)
            continue
        key_dn = _comparable_dn(entry.dn)
        for folded, uid in matching:
            previous = chosen.get(folded)
            if previous is not None and previous[0] != key_dn:
                log.warning("%s: several people have uid=%s; using the first DN in sorted order", where, uid)
                if previous[0] < key_dn:
                    continue
            chosen[folded] = (key_dn, surnames[0])
    return {folded: surname for folded, (_, surname) in chosen.items()}


def _comparable_dn(dn: str) -> str:
    """``dn`` with spaces around separators removed and lower-cased (as typed, when it does not parse)."""
    try:
        return ",".join(to_dn(dn, remove_space=True)).casefold()
    except LDAPInvalidDnError:
        return dn.casefold()


def uid_from_dn(dn: str) -> str | None:
    """The ``uid`` value of the DN's first RDN (``uid=ab1,ou=people,...`` → ``ab1``), else None."""
    try:
        components = parse_dn(dn, escape=False, strip=True)
    except LDAPInvalidDnError:
        return None
    for attribute, value, separator in components:
        if attribute.strip().lower() == "uid" and value:
            raw = value.encode("utf-8", "surrogateescape")
            return _DN_VALUE_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]) if m[1] else m[2], raw).decode(
                "utf-8", "surrogateescape")
        if separator != "+":  # the end of the first RDN
            break
    return None


# --------------------------------------------------------------------------- servers


def _connect(config: LdapConfig) -> ldap3.Connection:
    """One read-only, bound ldap3 connection to the server at ``config.url``."""
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
        return ldap3.Connection(
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
