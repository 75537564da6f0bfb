"""Offline directory data: LDIF exports, LDAP filters and DNs.

Three small tools that let the offline directory backend answer the same
searches as a server:

* :func:`read_ldif` / :func:`parse_ldif` read the output of ``ldapsearch -LLL``
  (RFC 2849 content records: folded lines, ``::`` base64 values, comments);
* :func:`parse_filter` turns an RFC 4515 filter string into an object whose
  ``matches`` method tests a parsed entry (``&``, ``|``, ``!``, equality,
  presence, substrings, ``>=``/``<=``);
* :func:`normalise_dn`, :func:`is_direct_child`, :func:`in_subtree` and
  :func:`uid_from_dn` compare and pick apart distinguished names.

Values are ``str``; bytes that are not UTF-8 are kept with
``errors="surrogateescape"`` so nothing is lost.  Every problem raises
:class:`~utils.errors.DirectoryError` naming the file and line (or the filter/DN).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from utils.common.errors import DirectoryError

Attributes = Mapping[str, Sequence[str]]

_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9;.\-]*\Z")
_HEX = "0123456789abcdefABCDEF"


def _decode(raw: bytes) -> str:
    """Bytes → str, keeping non-UTF-8 bytes as surrogate escapes."""
    return raw.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- LDIF


@dataclass(frozen=True)
class LdifEntry:
    """One entry of an export: its DN and attributes (lower-cased names, values in file order)."""

    dn: str
    attributes: dict[str, list[str]]
    line: int  # the line the entry starts on, for messages
    key: DnKey = field(repr=False, compare=False)  # the DN in comparable form (dn_key)

    def values(self, name: str) -> list[str]:
        """All values of attribute ``name`` (case-insensitive); empty when absent."""
        return self.attributes.get(name.lower(), [])


def read_ldif(path: str) -> list[LdifEntry]:
    """Parse the LDIF file at ``path``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DirectoryError(f"LDIF file {path} does not exist") from None
    except IsADirectoryError:
        raise DirectoryError(f"LDIF file {path} is a directory") from None
    except OSError as exc:
        raise DirectoryError(f"LDIF file {path} could not be read: {exc.strerror}") from None
    return parse_ldif(data, path)


def parse_ldif(data: bytes | str, source: str = "<ldif>") -> list[LdifEntry]:
    """Parse LDIF content records; ``source`` names the input in error messages."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    entries: list[LdifEntry] = []
    record: list[tuple[int, bytes]] = []
    first_record = True
    for number, line in [*_logical_lines(data, source), (0, b"")]:
        if line:
            record.append((number, line))
            continue
        if not record:
            continue
        if first_record:
            record = _drop_version_line(record, source)
            first_record = False
        if record:
            entries.append(_build_entry(record, source))
        record = []
    return entries


def _logical_lines(data: bytes, source: str) -> Iterator[tuple[int, bytes]]:
    """Unfolded lines with the number of the line each starts on.

    Comment lines (and their folded continuations) are dropped; an empty
    ``bytes`` marks a blank separator line.
    """
    current: bytearray | None = None
    start = 0
    in_comment = False
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.startswith(b" "):
            if in_comment:
                continue
            if current is None:
                raise DirectoryError(
                    f"{source}, line {number}: continuation line (starts with a space) "
                    "but there is no line before it to continue"
                )
            current += line[1:]
            continue
        if current is not None:
            yield start, bytes(current)
            current = None
        in_comment = line.startswith(b"#")
        if in_comment:
            continue
        if not line:
            yield number, b""
            continue
        current = bytearray(line)
        start = number
    if current is not None:
        yield start, bytes(current)


def _drop_version_line(record: list[tuple[int, bytes]], source: str) -> list[tuple[int, bytes]]:
    """The first record without a leading ``version: 1`` line, which must say 1."""
    number, line = record[0]
    name, value = _split_attribute_line(number, line, source)
    if name != "version":
        return record
    if value.strip() != "1":
        raise DirectoryError(f"{source}, line {number}: unsupported LDIF version {value.strip()!r}")
    return record[1:]


def _build_entry(record: list[tuple[int, bytes]], source: str) -> LdifEntry:
    """One entry from its logical lines; the first must be ``dn:``."""
    start, first = record[0]
    name, dn = _split_attribute_line(start, first, source)
    if name != "dn":
        raise DirectoryError(f"{source}, line {start}: expected a 'dn:' line to start an entry, found '{name}:'")
    try:
        key = dn_key(dn)
    except DirectoryError as exc:
        raise DirectoryError(f"{source}, line {start}: {exc}") from None
    attributes: dict[str, list[str]] = {}
    for number, line in record[1:]:
        name, value = _split_attribute_line(number, line, source)
        if name == "dn":
            raise DirectoryError(f"{source}, line {number}: a second 'dn:' line in one entry (missing blank line?)")
        if name == "changetype":
            raise DirectoryError(
                f"{source}, line {number}: change records (changetype:) are not supported; "
                "expected an ldapsearch export"
            )
        attributes.setdefault(name, []).append(value)
    return LdifEntry(dn=dn, attributes=attributes, line=start, key=key)


def _split_attribute_line(number: int, line: bytes, source: str) -> tuple[str, str]:
    """``attr: value`` / ``attr:: base64`` → (lower-cased name, value)."""
    colon = line.find(b":")
    if colon <= 0:
        raise DirectoryError(f"{source}, line {number}: expected 'attribute: value', got {_decode(line)[:60]!r}")
    try:
        name = line[:colon].decode("ascii")
    except UnicodeDecodeError:
        name = ""
    if not _ATTRIBUTE_NAME.match(name):
        raise DirectoryError(f"{source}, line {number}: invalid attribute name {_decode(line[:colon])!r}")
    rest = line[colon + 1:]
    if rest.startswith(b":"):
        try:
            value = base64.b64decode(rest[1:].strip(b" "), validate=True)
        except (binascii.Error, ValueError):
            raise DirectoryError(f"{source}, line {number}: attribute '{name}' has an invalid base64 value") from None
        return name.lower(), _decode(value)
    if rest.startswith(b"<"):
        raise DirectoryError(
            f"{source}, line {number}: attribute '{name}' refers to a URL ({name}:< ...); "
            "URL values are not supported, export without ldapsearch -t"
        )
    return name.lower(), _decode(rest.lstrip(b" "))


# --------------------------------------------------------------------------- filters


def _match_key(value: str) -> str:
    """A value as the server compares it: case-insensitive, spaces collapsed."""
    return " ".join(value.split()).casefold()


class LdapFilter:
    """A parsed search filter.

    Matching is purely on the values present: unlike a server, ``(objectClass=person)``
    does not match an entry that lists only the subclass ``inetOrgPerson``.
    """

    def matches(self, attributes: Attributes) -> bool:
        """Does an entry with these attributes (lower-cased names) match?"""
        raise NotImplementedError


@dataclass(frozen=True)
class AndFilter(LdapFilter):
    """``(&...)``: every part matches (``(&)`` is true)."""

    parts: tuple[LdapFilter, ...]

    def matches(self, attributes: Attributes) -> bool:
        return all(part.matches(attributes) for part in self.parts)


@dataclass(frozen=True)
class OrFilter(LdapFilter):
    """``(|...)``: some part matches (``(|)`` is false)."""

    parts: tuple[LdapFilter, ...]

    @functools.cached_property
    def _equalities(self) -> dict[str, frozenset[str]]:
        """Equality parts grouped by attribute, so ``(|(uid=a)(uid=b)...)`` is one set look-up."""
        grouped: dict[str, set[str]] = {}
        for part in self.parts:
            if isinstance(part, EqualityFilter):
                grouped.setdefault(part.attribute, set()).add(part.wanted)
        return {attribute: frozenset(values) for attribute, values in grouped.items()}

    @functools.cached_property
    def _others(self) -> tuple[LdapFilter, ...]:
        """The parts that are not equality matches."""
        return tuple(part for part in self.parts if not isinstance(part, EqualityFilter))

    def matches(self, attributes: Attributes) -> bool:
        for attribute, wanted in self._equalities.items():
            for value in attributes.get(attribute, ()):
                if _match_key(value) in wanted:
                    return True
        return any(part.matches(attributes) for part in self._others)


@dataclass(frozen=True)
class NotFilter(LdapFilter):
    """``(!...)``."""

    part: LdapFilter

    def matches(self, attributes: Attributes) -> bool:
        return not self.part.matches(attributes)


@dataclass(frozen=True)
class PresenceFilter(LdapFilter):
    """``(attr=*)``: the attribute has a value."""

    attribute: str

    def matches(self, attributes: Attributes) -> bool:
        return bool(attributes.get(self.attribute))


@dataclass(frozen=True)
class EqualityFilter(LdapFilter):
    """``(attr=value)``, compared case-insensitively."""

    attribute: str
    value: str

    @functools.cached_property
    def wanted(self) -> str:
        """The value in comparable form."""
        return _match_key(self.value)

    def matches(self, attributes: Attributes) -> bool:
        wanted = self.wanted
        return any(_match_key(value) == wanted for value in attributes.get(self.attribute, ()))


@dataclass(frozen=True)
class SubstringFilter(LdapFilter):
    """``(attr=initial*middle*...*final)``, compared case-insensitively."""

    attribute: str
    initial: str
    middle: tuple[str, ...]
    final: str

    def matches(self, attributes: Attributes) -> bool:
        return any(self._matches_value(value) for value in attributes.get(self.attribute, ()))

    def _matches_value(self, value: str) -> bool:
        text = _match_key(value)
        initial, final = _match_key(self.initial), _match_key(self.final)
        if not text.startswith(initial):
            return False
        position = len(initial)
        for piece in self.middle:
            found = text.find(_match_key(piece), position)
            if found < 0:
                return False
            position = found + len(_match_key(piece))
        return len(text) - position >= len(final) and text.endswith(final)


@dataclass(frozen=True)
class OrderingFilter(LdapFilter):
    """``>=`` or ``<=``: numeric when both sides are integers, else case-insensitive text."""

    attribute: str
    operator: str  # ">=" or "<="
    value: str

    def matches(self, attributes: Attributes) -> bool:
        return any(self._compare(value) for value in attributes.get(self.attribute, ()))

    def _compare(self, value: str) -> bool:
        try:
            number, limit = int(value), int(self.value)
            order = (number > limit) - (number < limit)
        except ValueError:
            text, bound = _match_key(value), _match_key(self.value)
            order = (text > bound) - (text < bound)
        return order >= 0 if self.operator == ">=" else order <= 0


def escape_filter_value(value: str) -> str:
    """``value`` escaped for use inside a filter (RFC 4515: ``* ( ) \\ NUL``, and non-UTF-8 bytes)."""
    escaped = []
    for char in value:
        code = ord(char)
        if char in "*()\\\0":
            escaped.append(f"\\{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            escaped.append(f"\\{code - 0xDC00:02x}")
        else:
            escaped.append(char)
    return "".join(escaped)


def parse_filter(text: str) -> LdapFilter:
    """Parse an RFC 4515 filter such as ``(&(objectClass=posixGroup)(cn=hgi*))``."""
    parser = _FilterParser(text)
    result = parser.parse_filter()
    parser.skip_spaces()
    if parser.position != len(text):
        parser.fail("unexpected text after the end of the filter")
    return result


class _FilterParser:
    """Recursive-descent parser over one filter string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def fail(self, reason: str) -> None:
        raise DirectoryError(f"invalid LDAP filter {self.text!r}: {reason} (at position {self.position})")

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek() and self.peek() in " \t\n":
            self.position += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            self.fail(f"expected {char!r}")
        self.position += 1

    def parse_filter(self) -> LdapFilter:
        self.skip_spaces()
        self.expect("(")
        self.skip_spaces()
        head = self.peek()
        if head in ("&", "|"):
            self.position += 1
            parts = self.parse_list()
            result: LdapFilter = AndFilter(parts) if head == "&" else OrFilter(parts)
        elif head == "!":
            self.position += 1
            result = NotFilter(self.parse_filter())
            self.skip_spaces()
        else:
            result = self.parse_item()
        self.expect(")")
        return result

    def parse_list(self) -> tuple[LdapFilter, ...]:
        parts = []
        self.skip_spaces()
        while self.peek() == "(":
            parts.append(self.parse_filter())
            self.skip_spaces()
        return tuple(parts)

    def parse_item(self) -> LdapFilter:
        start = self.position
        while self.peek() and self.peek() not in "=~<>:()":
            self.position += 1
        attribute = self.text[start:self.position]
        if not _ATTRIBUTE_NAME.match(attribute):
            self.position = start
            self.fail(f"invalid attribute description {attribute!r}")
        operator = self.peek()
        if operator in ("~", ":"):
            self.fail("approximate (~=) and extensible (:=) matches are not supported")
        if operator in ("<", ">"):
            self.position += 1
            self.expect("=")
            return OrderingFilter(attribute.lower(), operator + "=", self.read_value())
        self.expect("=")
        pieces = self.read_substring_pieces()
        if len(pieces) == 1:
            return EqualityFilter(attribute.lower(), pieces[0])
        if len(pieces) == 2 and pieces == ["", ""]:
            return PresenceFilter(attribute.lower())
        return SubstringFilter(attribute.lower(), pieces[0], tuple(p for p in pieces[1:-1] if p), pieces[-1])

    def read_value(self) -> str:
        pieces = self.read_substring_pieces()
        if len(pieces) != 1:
            self.fail("'*' is only allowed in '=' matches (escape it as \\2a)")
        return pieces[0]

    def read_substring_pieces(self) -> list[str]:
        """The value up to ')', split on unescaped '*', escapes resolved."""
        pieces: list[str] = []
        current = bytearray()
        while True:
            char = self.peek()
            if char == "":
                self.fail("missing ')' at the end of the value")
            if char == ")":
                break
            if char in ("(", "\0"):
                self.fail(f"{char!r} must be escaped in a value")
            if char == "*":
                pieces.append(_decode(bytes(current)))
                current = bytearray()
                self.position += 1
            elif char == "\\":
                hex_digits = self.text[self.position + 1:self.position + 3]
                if len(hex_digits) != 2 or any(d not in _HEX for d in hex_digits):
                    self.fail("a backslash must be followed by two hex digits")
                current.append(int(hex_digits, 16))
                self.position += 3
            else:
                current += char.encode("utf-8", "surrogateescape")
                self.position += 1
        pieces.append(_decode(bytes(current)))
        return pieces


# --------------------------------------------------------------------------- DNs

_DN_SPECIALS = ',+"\\<>;='


def split_dn(dn: str) -> list[list[tuple[str, str]]]:
    """The RDNs of ``dn`` (leftmost first), each a list of (attribute, value) pairs.

    Escapes (``\\,`` and ``\\2C``) and quoted values are resolved; spaces around
    ``,``, ``+`` and ``=`` are dropped.  An invalid DN raises DirectoryError.
    """
    rdns: list[list[tuple[str, str]]] = []
    if not dn.strip():
        return rdns
    rdn: list[tuple[str, str]] = []
    position = 0
    length = len(dn)
    while True:
        equals = dn.find("=", position)
        if equals < 0:
            raise DirectoryError(f"invalid DN {dn!r}: an RDN has no '='")
        attribute = dn[position:equals].strip()
        if not _ATTRIBUTE_NAME.match(attribute):
            raise DirectoryError(f"invalid DN {dn!r}: bad attribute type {attribute!r}")
        value, position = _read_dn_value(dn, equals + 1)
        rdn.append((attribute, value))
        if position >= length:
            rdns.append(rdn)
            return rdns
        separator = dn[position]
        position += 1
        if separator in ",;":
            rdns.append(rdn)
            rdn = []


def _read_dn_value(dn: str, position: int) -> tuple[str, int]:
    """One attribute value starting at ``position``; returns it and the separator's index."""
    length = len(dn)
    while position < length and dn[position] == " ":
        position += 1
    raw = bytearray()
    significant_end = 0  # length of ``raw`` up to its last escaped or non-space byte
    if position < length and dn[position] == '"':
        closing = position + 1
        while closing < length and dn[closing] != '"':
            closing += 2 if dn[closing] == "\\" else 1
        if closing >= length:
            raise DirectoryError(f"invalid DN {dn!r}: unterminated quoted value")
        raw += _unescape_quoted(dn[position + 1:closing]).encode("utf-8", "surrogateescape")
        significant_end = len(raw)
        position = closing + 1
    while position < length and dn[position] not in ",;+":
        char = dn[position]
        if char == "\\":
            following = dn[position + 1:position + 3]
            if len(following) == 2 and all(d in _HEX for d in following):
                raw.append(int(following, 16))
                position += 3
            elif following[:1] and following[0] in _DN_SPECIALS + " #":
                raw += following[0].encode()
                position += 2
            else:
                raise DirectoryError(f"invalid DN {dn!r}: bad escape at position {position}")
            significant_end = len(raw)
            continue
        raw += char.encode("utf-8", "surrogateescape")
        if char != " ":
            significant_end = len(raw)
        position += 1
    return _decode(bytes(raw[:significant_end])), position


def _unescape_quoted(text: str) -> str:
    """Resolve the backslash escapes inside a quoted DN value."""
    return re.sub(r"\\(.)", lambda m: m.group(1), text)


def _escape_dn_value(value: str) -> str:
    """A value written back in a canonical escaped form."""
    escaped = "".join("\\" + c if c in _DN_SPECIALS else c for c in value)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


DnKey = tuple[tuple[tuple[str, str], ...], ...]


def dn_key(dn: str) -> DnKey:
    """A comparable form of ``dn``: RDNs with lower-cased types, case-folded values, sorted AVAs."""
    return tuple(
        tuple(sorted((attribute.lower(), _match_key(value)) for attribute, value in rdn))
        for rdn in split_dn(dn)
    )


def normalise_dn(dn: str) -> str:
    """A canonical form of ``dn``: equal for DNs the server treats as equal (case, spaces)."""
    return ",".join(
        "+".join(f"{attribute}={_escape_dn_value(value)}" for attribute, value in rdn)
        for rdn in dn_key(dn)
    )


def is_direct_child(dn: str | DnKey, base: str | DnKey) -> bool:
    """Is ``dn`` exactly one level below ``base`` (one-level search scope)?

    Either may be given as a string or as a precomputed :func:`dn_key`.
    """
    entry, parent = _as_key(dn), _as_key(base)
    return len(entry) == len(parent) + 1 and entry[1:] == parent


def in_subtree(dn: str | DnKey, base: str | DnKey) -> bool:
    """Is ``dn`` the ``base`` itself or anywhere below it (subtree search scope)?"""
    entry, parent = _as_key(dn), _as_key(base)
    return len(entry) >= len(parent) and entry[len(entry) - len(parent):] == parent


def _as_key(dn: str | DnKey) -> DnKey:
    return dn_key(dn) if isinstance(dn, str) else dn


def uid_from_dn(dn: str) -> str | None:
    """The ``uid`` value of the DN's first RDN (``uid=ab1,ou=people,...`` → ``ab1``), else None."""
    try:
        rdns = split_dn(dn)
    except DirectoryError:
        return None
    if not rdns:
        return None
    for attribute, value in rdns[0]:
        if attribute.lower() == "uid" and value:
            return value
    return None
