"""Offline directory: an ``ldapsearch -LLL`` export, served by ldap3's mock server.

:func:`read_export` parses the file with the ``ldif`` package (folded lines,
``::`` base64 values, comments) and adds what an admin needs when an export is
broken: every problem raises :class:`~utils.common.errors.DirectoryError`
naming the file and the line.

:func:`open_export` loads the entries into ldap3's offline server
(``MOCK_SYNC``) and returns an ordinary :class:`ldap3.Connection`, so the very
same search code runs against a server and against an export (see
:mod:`utils.directory.ldap`).  Values are kept as the file's bytes; the
connection returns them unchanged.

ldap3's mock differs from a real server in a few ways that matter here;
:class:`_ExportStrategy` corrects them (each is tested against slapd):

* scopes are decided on parsed DNs, so ``cn=Doe\\, Jane,ou=people,...`` is one
  level below ``ou=people,...`` and a one-level search never returns its base;
* a base with nothing at or under it in the export gives no entries (and a
  warning) instead of ``noSuchObject``: an export may hold only part of a tree;
* substring matches are anchored at both ends, and substring and ordering
  matches compare values that are not UTF-8 instead of failing on them;
* filters with escaped ``*``, ``(``, ``)``, ``\\`` or NUL, and extensible matches,
  are refused: the mock loses those escapes and cannot evaluate matching rules,
  so it would answer a different question.
"""

from __future__ import annotations

import base64
import binascii
import collections
import io
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import ldap3
import ldif
from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError
from ldap3.core.results import RESULT_SUCCESS
from ldap3.operation.search import MATCH_GREATER_OR_EQUAL, MATCH_LESS_OR_EQUAL, MATCH_SUBSTRING, ROOT
from ldap3.strategy.mockSync import MockSyncStrategy
from ldap3.utils.conv import ldap_escape_to_bytes
from ldap3.utils.dn import parse_dn, safe_dn, to_dn

from utils.common.errors import DirectoryError

log = logging.getLogger(__name__)

_ATTRIBUTE_NAME = re.compile(rb"[A-Za-z0-9][A-Za-z0-9;.\-]*\Z")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes kept by surrogateescape
# What the mock cannot answer: an escape it turns back into the special character
# itself, and an extensible match (attr:rule:=value).
_UNSUPPORTED_FILTER = re.compile(r"\\(2a|28|29|5c|00)|\([^()=]*:=", re.IGNORECASE)
_BASE_OBJECT, _ONE_LEVEL, _SUBTREE = 0, 1, 2  # scopes as a decoded search request holds them


def _text(raw: bytes) -> str:
    """Bytes → str, keeping bytes that are not UTF-8 as surrogate escapes."""
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class ExportEntry:
    """One entry: its DN, attributes (lower-cased names, the file's bytes in file order), first line."""

    dn: str
    attributes: Mapping[str, Sequence[bytes]]
    line: int

    def values(self, name: str) -> list[str]:
        """The values of attribute ``name`` (any case) as text; empty when absent."""
        return [_text(value) for value in self.attributes.get(name.lower(), ())]


# --------------------------------------------------------------------------- reading


def read_export(path: str) -> list[ExportEntry]:
    """Parse the LDIF export at ``path``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DirectoryError(f"LDIF file {path} does not exist") from None
    except IsADirectoryError:
        raise DirectoryError(f"LDIF file {path} is a directory") from None
    except OSError as exc:
        raise DirectoryError(f"LDIF file {path} could not be read: {exc.strerror}") from None
    return parse_export(data, path)


def parse_export(data: bytes | str, source: str = "<ldif>") -> list[ExportEntry]:
    """Parse LDIF content records; ``source`` names the input in error messages."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    parser = _ExportParser(data, source)
    entries = []
    for dn, record in parser.parse():
        if dn is None:  # a first record holding only "version: 1"
            continue
        attributes: dict[str, list[bytes]] = {}
        for name, values in record.items():
            attributes.setdefault(name.lower(), []).extend(values)
        entries.append(ExportEntry(dn, attributes, parser.dn_line))
    return entries


class _NumberedLines:
    """A binary file for the parser whose ``readline`` notes where each attribute line starts.

    The parser asks for lines one at a time and parses an entry's attribute
    lines in file order, so the start lines queued here are popped in step.
    """

    def __init__(self, data: bytes, source: str) -> None:
        self._file = io.BytesIO(data)
        self._source = source
        self.number = 0
        self.starts: collections.deque[int] = collections.deque()
        self._after_blank = True  # at the start of the file or after a blank line

    def readline(self) -> bytes:
        line = self._file.readline()
        if not line:
            return line
        self.number += 1
        text = line.rstrip(b"\r\n")
        if text.startswith(b" "):
            if self._after_blank:
                raise DirectoryError(f"{self._source}, line {self.number}: continuation line (starts with "
                                     "a space) but there is no line before it to continue")
        else:
            if text and not text.startswith(b"#"):
                self.starts.append(self.number)
            self._after_blank = not text
        return line


class _ExportParser(ldif.LDIFParser):
    """The ``ldif`` package's parser with line numbers, stricter checks and byte-exact DNs."""

    def __init__(self, data: bytes, source: str) -> None:
        self._lines = _NumberedLines(data, source)
        super().__init__(self._lines, encoding=None, strict=True)  # values stay bytes
        self.source = source
        self.line = 0  # where the attribute line being parsed starts
        self.dn_line = 0  # where the current entry's dn: line starts

    def fail(self, reason: str) -> NoReturn:
        raise DirectoryError(f"{self.source}, line {self.line}: {reason}")

    def _error(self, msg: str) -> NoReturn:
        self.fail(msg.rstrip("."))

    def _parse_attr(self, line: bytes) -> tuple[str, Any]:
        self.line = self._lines.starts.popleft()
        name, colon, rest = line.partition(b":")
        if not colon:
            self.fail(f"expected 'attribute: value', got {_text(line)[:60]!r}")
        if not _ATTRIBUTE_NAME.match(name):
            self.fail(f"invalid attribute name {_text(name)!r}")
        shown = name.decode("ascii")
        if rest.startswith(b"<"):
            self.fail(f"attribute '{shown}' refers to a URL ({shown}:< ...); "
                      "URL values are not supported, export without ldapsearch -t")
        if rest.startswith(b":"):
            try:
                base64.b64decode(rest[1:].strip(b" "), validate=True)
            except binascii.Error:
                self.fail(f"attribute '{shown}' has an invalid base64 value")
        lowered = shown.lower()
        if lowered == "changetype":
            self.fail("change records (changetype:) are not supported; expected an ldapsearch export")
        attribute, value = super()._parse_attr(line)
        if lowered == "version" and value != b"1":
            self.fail(f"unsupported LDIF version {_text(value)!r}")
        if lowered == "dn":
            self.dn_line = self.line
        return attribute, value

    def _decode_value(self, attr_type: str, attr_value: bytes) -> tuple[str, Any]:
        if attr_type == "dn":  # bytes that are not UTF-8 become DN hex escapes (\ff)
            return attr_type, _NOT_UTF8.sub(lambda m: f"\\{ord(m[0]) - 0xDC00:02x}", _text(attr_value))
        return super()._decode_value(attr_type, attr_value)


# --------------------------------------------------------------------------- serving


def open_export(path: str) -> ldap3.Connection:
    """A bound, read-only ldap3 connection answering searches from the export at ``path``."""
    entries = read_export(path)
    connection = _ExportConnection(ldap3.Server("ldif-export", get_info=ldap3.NONE), f"ldif:{path}")
    for entry in entries:
        connection.strategy.load(entry, path)
    connection.bind()
    log.debug("ldif:%s: %d entries loaded", path, len(entries))
    return connection


class _ExportConnection(ldap3.Connection):
    """A connection whose strategy is :class:`_ExportStrategy` (ldap3's mock, corrected)."""

    def __init__(self, server: ldap3.Server, description: str) -> None:
        super().__init__(server, client_strategy=ldap3.MOCK_SYNC, read_only=True, raise_exceptions=True,
                         auto_referrals=False)
        self.strategy = _ExportStrategy(self, description)
        # Wire the connection to its strategy exactly as ldap3's own constructor does.
        self.send = self.strategy.send
        self.open = self.strategy.open
        self.get_response = self.strategy.get_response
        self.post_send_single_response = self.strategy.post_send_single_response
        self.post_send_search = self.strategy.post_send_search

    def search(self, search_base: str, search_filter: str, *args: Any, **kwargs: Any) -> Any:
        if _UNSUPPORTED_FILTER.search(search_filter):
            raise LDAPInvalidFilterError("an LDIF export cannot answer extensible matches (:=) or "
                                         "escaped *, (, ), \\ or NUL in filter values")
        return super().search(search_base, search_filter, *args, **kwargs)


class _ExportStrategy(MockSyncStrategy):
    """ldap3's offline strategy with the corrections listed in the module docstring."""

    def __init__(self, connection: ldap3.Connection, description: str) -> None:
        self._rdns_by_dn: dict[str, tuple[str, ...]] = {}
        self._in_scope: list[str] = []
        self._description = description
        super().__init__(connection)

    def load(self, entry: ExportEntry, source: str) -> None:
        """Add one parsed entry; a repeated DN keeps the first entry (with a warning)."""
        attributes = {name: list(values) for name, values in entry.attributes.items()}
        try:
            parse_dn(entry.dn, escape=False, strip=True)  # ldap3's strict check; the rest of ldap3 is lenient
            dn = safe_dn(",".join(to_dn(entry.dn, remove_space=True)))
            added = self.add_entry(dn, attributes, validate=False)
        except LDAPException as exc:
            raise DirectoryError(f"{source}, line {entry.line}: invalid DN {entry.dn!r}: {exc}") from None
        if not added:
            log.warning("%s, line %d: DN %s appears again; the later entry is ignored",
                        source, entry.line, entry.dn)
            return
        # ldap3 also adds the RDN's value, still escaped, when the entry lacks it as typed
        # (cn: Lee, Ann beside cn=Lee\2C Ann): keep exactly the export's values.
        stored = self.connection.server.dit[dn]
        for name in [name for name in stored if name != "entryDN" and name.lower() not in attributes]:
            del stored[name]
        for name, values in attributes.items():
            stored[name] = values

    def _rdns(self, dn: str) -> tuple[str, ...]:
        """The DN's RDNs, lower-cased, for comparing positions in the tree."""
        rdns = self._rdns_by_dn.get(dn)
        if rdns is None:
            rdns = tuple(rdn.lower() for rdn in to_dn(dn, remove_space=True)) if dn.strip() else ()
            self._rdns_by_dn[dn] = rdns
        return rdns

    def _execute_search(self, request: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        base = self._rdns(request["base"])
        depth = len(base)
        scope = request["scope"]

        def in_scope(rdns: tuple[str, ...]) -> bool:
            if scope == _BASE_OBJECT:
                return rdns == base
            if scope == _ONE_LEVEL:
                return len(rdns) == depth + 1 and rdns[1:] == base
            return len(rdns) >= depth and rdns[len(rdns) - depth:] == base

        dit = self.connection.server.dit
        self._in_scope = [dn for dn in dit if in_scope(self._rdns(dn))]
        if not self._in_scope and not any(self._rdns(dn) == base for dn in dit):
            log.warning("%s: the export holds nothing at or under %s", self._description, request["base"])
            return [], {"resultCode": RESULT_SUCCESS, "matchedDN": "", "diagnosticMessage": "", "referral": None}
        # ldap3's own scope test only decides whether the base exists; the candidates are ours.
        return super()._execute_search({**request, "scope": _SUBTREE})

    def evaluate_filter_node(self, node: Any, candidates: Any) -> Any:
        if node.tag == ROOT:  # the entries in scope, answered in the export's order
            matched = super().evaluate_filter_node(node, self._in_scope)
            return [dn for dn in self._in_scope if dn in matched]
        if node.tag in (MATCH_SUBSTRING, MATCH_GREATER_OR_EQUAL, MATCH_LESS_OR_EQUAL):
            matches = _substring_test(node.assertion) if node.tag == MATCH_SUBSTRING else \
                _ordering_test(node.assertion["value"], greater=node.tag == MATCH_GREATER_OR_EQUAL)
            node.matched, node.unmatched = set(), set()
            for candidate in candidates:
                values = self.connection.server.dit[candidate].get(node.assertion["attr"]) or ()
                found = any(matches(_text(value)) for value in values)
                (node.matched if found else node.unmatched).add(candidate)
            return None
        return super().evaluate_filter_node(node, candidates)


def _assertion_text(value: str | bytes) -> str:
    """A filter assertion value with its escapes resolved, as text."""
    return _text(ldap_escape_to_bytes(value))


def _substring_test(assertion: Mapping[str, Any]) -> Callable[[str], bool]:
    """Whole-value, case-insensitive test for ``initial*any*...*final``."""
    pieces = [re.escape(_assertion_text(assertion["initial"])) if assertion.get("initial") else ""]
    pieces += [re.escape(_assertion_text(piece)) for piece in assertion.get("any") or ()]
    pieces.append(re.escape(_assertion_text(assertion["final"])) if assertion.get("final") else "")
    pattern = re.compile(".*".join(pieces), re.IGNORECASE | re.DOTALL)
    return lambda value: pattern.fullmatch(value) is not None


def _ordering_test(bound: str | bytes, *, greater: bool) -> Callable[[str], bool]:
    """``>=`` / ``<=``: numeric when both sides are decimal integers, else case-insensitive text."""
    limit = _assertion_text(bound)

    def compare(value: str) -> bool:
        if value.isascii() and value.isdigit() and limit.isascii() and limit.isdigit():
            left, right = int(value), int(limit)
            return left >= right if greater else left <= right
        return value.casefold() >= limit.casefold() if greater else value.casefold() <= limit.casefold()

    return compare
