"""Plain, line-at-a-time reference implementations of the snapshot rules, for tests.

They are written independently of the vectorised code on purpose: tests
compare the fast passes against these on generated and hostile data.  Every
rule is spelled out one byte or one field at a time, as docs/snapshots.md
states it, so that a reader can check it by eye:

* a line is the text up to a ``\\n`` (the last one may lack it);
* it is well-formed when it is at most 1 MiB long, has 11 or 12 fields and
  fields 1-6, 8, 9 (and 11) are ASCII decimal integers below 2**63;
* fields are separated by runs of whitespace, except that a path field
  beginning with ``"`` runs to the line's next TAB;
* the path is that field unquoted by Go's rules, or else the field as padded
  standard base64; one trailing ``/`` is dropped from a path longer than ``/``;
* a file is a failed snapshot when no line is well-formed, or when more than
  ``max_malformed_fraction`` of its lines are malformed.
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator, Mapping, Sequence

MAX_LINE_BYTES = 1 << 20  # a line (without its newline) longer than this is malformed
NUMBER_LIMIT = 1 << 63  # numbers must be below this
NUMERIC_INDEXES = (1, 2, 3, 4, 5, 6, 8, 9)  # and 11, when the line has a 12th field
FIELD_COUNTS = (11, 12)
WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on
DEFAULT_MAX_MALFORMED_FRACTION = 0.01

_TAB = 0x09
_NEWLINE = 0x0A
_QUOTE = 0x22
_BACKSLASH = 0x5C
_DIGITS = b"0123456789"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_OCTAL_DIGITS = b"01234567"
# \a \b \f \n \r \t \v \\ \" and the byte each stands for
_SIMPLE_ESCAPES = {ord("a"): 0x07, ord("b"): 0x08, ord("f"): 0x0C, ord("n"): 0x0A,
                   ord("r"): 0x0D, ord("t"): 0x09, ord("v"): 0x0B, _BACKSLASH: _BACKSLASH,
                   _QUOTE: _QUOTE}
# Padded standard base64: groups of 4 alphabet characters, the last one possibly padded.
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_SURROGATES = range(0xD800, 0xE000)
_MAX_CODE_POINT = 0x10FFFF


# ------------------------------------------------------------------ path fields

def unquote_go(field: bytes) -> bytes | None:
    """The bytes a Go double-quoted string stands for, or None when it does not unquote.

    Inside the quotes: ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\"`` are the usual bytes;
    ``\\xNN`` (two hex digits) and ``\\NNN`` (three octal digits, at most 377)
    are one byte; ``\\uNNNN`` and ``\\UNNNNNNNN`` are a code point (not a
    surrogate, at most U+10FFFF) as UTF-8; any other byte stands for itself.
    Any other escape (``\\'`` included), a raw newline or an unescaped ``"``
    means the field does not unquote.
    """
    if len(field) < 2 or field[0] != _QUOTE or field[-1] != _QUOTE:
        return None
    body = field[1:-1]
    out = bytearray()
    index = 0
    while index < len(body):
        byte = body[index]
        if byte in (_NEWLINE, _QUOTE):
            return None
        if byte != _BACKSLASH:
            out.append(byte)
            index += 1
            continue
        if index + 1 == len(body):
            return None  # the backslash escapes the closing quote: unterminated
        kind = body[index + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            index += 2
        elif kind == ord("x"):
            digits = body[index + 2:index + 4]
            if len(digits) != 2 or any(d not in _HEX_DIGITS for d in digits):
                return None
            out.append(int(digits, 16))
            index += 4
        elif kind in _OCTAL_DIGITS:
            digits = body[index + 1:index + 4]
            if len(digits) != 3 or any(d not in _OCTAL_DIGITS for d in digits):
                return None
            value = int(digits, 8)
            if value > 0o377:
                return None
            out.append(value)
            index += 4
        elif kind in (ord("u"), ord("U")):
            width = 4 if kind == ord("u") else 8
            digits = body[index + 2:index + 2 + width]
            if len(digits) != width or any(d not in _HEX_DIGITS for d in digits):
                return None
            code_point = int(digits, 16)
            if code_point in _SURROGATES or code_point > _MAX_CODE_POINT:
                return None
            out += chr(code_point).encode("utf-8")
            index += 2 + width
        else:
            return None
    return bytes(out)


def decode_base64(field: bytes) -> bytes | None:
    """The bytes of a padded standard base64 field, or None when it is not one."""
    if _BASE64.fullmatch(field) is None:
        return None
    return base64.b64decode(field)


def decode_path(field: bytes) -> bytes | None:
    """The path a path field stands for (quoted or base64), one trailing ``/`` dropped;
    None when the field does not decode."""
    path = unquote_go(field) if field[:1] == b'"' else decode_base64(field)
    if path is not None and len(path) > 1 and path.endswith(b"/"):
        path = path[:-1]
    return path


# ------------------------------------------------------------------ lines

def split_fields(raw: bytes) -> list[bytes]:
    """The fields of a line (without its newline).

    Leading whitespace is skipped.  A path field that begins with ``"`` is
    everything up to the next TAB (spaces included); every other field is
    separated by runs of whitespace.
    """
    start = 0
    while start < len(raw) and raw[start] in WHITESPACE:
        start += 1
    if raw[start:start + 1] != b'"':
        return raw.split()
    tab = raw.find(b"\t", start)
    if tab < 0:
        return [raw[start:]]
    return [raw[start:tab]] + raw[tab + 1:].split()


def is_number(field: bytes) -> bool:
    """ASCII decimal digits only (leading zeros allowed), with a value below 2**63."""
    if not field or not all(byte in _DIGITS for byte in field):
        return False
    significant = field.lstrip(b"0")
    return len(significant) <= len(str(NUMBER_LIMIT)) and _value(field) < NUMBER_LIMIT


def _value(field: bytes) -> int:
    """The value of a field of digits (however many leading zeros it has)."""
    return int(field.lstrip(b"0") or b"0")


@dataclass(frozen=True)
class Record:
    """A well-formed snapshot line."""

    raw: bytes  # the line without its newline
    path_field: bytes
    size: int
    uid: int
    gid: int
    atime: int
    mtime: int
    ctime: int
    kind: bytes
    inode: int
    nlink: int
    dev: bytes
    apparent_size: int | None  # the 12th field, when present

    @property
    def path_b64(self) -> bytes:
        """The path field as written (the name older tests use)."""
        return self.path_field

    @property
    def path(self) -> bytes | None:
        """The decoded path, or None when the field does not decode."""
        return decode_path(self.path_field)


def parse_line(raw: bytes) -> Record | None:
    """The line (without its newline) as a Record, or None when it is malformed."""
    if len(raw) > MAX_LINE_BYTES:
        return None
    fields = split_fields(raw)
    if len(fields) not in FIELD_COUNTS:
        return None
    numeric = NUMERIC_INDEXES + ((11,) if len(fields) == 12 else ())
    if not all(is_number(fields[index]) for index in numeric):
        return None
    return Record(raw=raw, path_field=fields[0], size=_value(fields[1]), uid=_value(fields[2]),
                  gid=_value(fields[3]), atime=_value(fields[4]), mtime=_value(fields[5]),
                  ctime=_value(fields[6]), kind=fields[7], inode=_value(fields[8]),
                  nlink=_value(fields[9]), dev=fields[10],
                  apparent_size=_value(fields[11]) if len(fields) == 12 else None)


def split_lines(text: bytes) -> list[bytes]:
    """The lines of decompressed snapshot text, without their newlines."""
    lines = text.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def read_lines(path: str) -> list[bytes]:
    """The lines of a gzip'd snapshot (without line ends), with stdlib gzip."""
    with gzip.open(path, "rb") as handle:
        return split_lines(handle.read())


def records(lines: Iterable[bytes]) -> Iterator[Record]:
    for raw in lines:
        record = parse_line(raw)
        if record is not None:
            yield record


# ------------------------------------------------------------------ files

@dataclass(frozen=True)
class LineCounts:
    """How many lines a file has, and how many of them are malformed."""

    lines: int
    malformed: int

    @property
    def well_formed(self) -> int:
        return self.lines - self.malformed


def count_lines(lines: Iterable[bytes]) -> LineCounts:
    total = malformed = 0
    for raw in lines:
        total += 1
        malformed += parse_line(raw) is None
    return LineCounts(total, malformed)


def is_failed_snapshot(counts: LineCounts,
                       max_malformed_fraction: float = DEFAULT_MAX_MALFORMED_FRACTION) -> bool:
    """No well-formed line, or more malformed lines than the fraction of all lines.

    The fraction is taken as the decimal the admin wrote (0.01 is exactly
    1/100), so the comparison has no rounding.
    """
    limit = Fraction(str(max_malformed_fraction)) * counts.lines
    return counts.well_formed == 0 or counts.malformed > limit


# ------------------------------------------------------------------ the report

def _usage(lines: Iterable[bytes], snapshot_time: float, key) -> dict:
    result: dict = {}
    for record in records(lines):
        entry = result.setdefault(key(record), [0, None])
        if record.nlink >= 1:
            entry[0] += record.size // record.nlink
        if record.mtime <= snapshot_time and (entry[1] is None or record.mtime > entry[1]):
            entry[1] = record.mtime
    return {owner: (used, mtime) for owner, (used, mtime) in result.items()}


def usage_by_gid(lines: Iterable[bytes], snapshot_time: float) -> dict[int, tuple[int, int | None]]:
    """gid -> (used, last_mtime) over every well-formed line, before dropping empty groups.

    Sums are exact Python ints; a path that does not decode still counts.
    """
    return _usage(lines, snapshot_time, lambda record: record.gid)


def inodes_by_gid(lines: Iterable[bytes]) -> dict[int, int]:
    """gid -> number of well-formed lines (the report's inodes)."""
    counts: dict[int, int] = {}
    for record in records(lines):
        counts[record.gid] = counts.get(record.gid, 0) + 1
    return counts


def usage_by_owner(lines: Iterable[bytes],
                   snapshot_time: float) -> dict[tuple[int, int], tuple[int, int | None]]:
    """(uid, gid) -> (used, last_mtime), by the same rules as :func:`usage_by_gid`."""
    return _usage(lines, snapshot_time, lambda record: (record.uid, record.gid))


def reported(usage: Mapping) -> dict:
    """``usage`` without the owners that hold nothing and have no dated entry."""
    return {owner: value for owner, value in usage.items() if value != (0, None)}


# ------------------------------------------------------------------ the inspector

def _glob_components(pattern: str) -> list[bytes]:
    return [part.encode() for part in pattern.split("/") if part]


def inspect_reference(lines: Iterable[bytes], roots: list[str], depth: int,
                      filetypes: dict[str, str], snapshot_time: float) -> dict[tuple, dict]:
    """Per-record values of the project inspector, one line at a time.

    Returns {key components: {size, files, mtime, types, gid}} where gid is
    the record's group (directory entry, else majority bytes, else None).
    Only absolute paths can lie under a root; empty components (``//``) are
    ignored.
    """
    patterns = [re.compile(p.encode(), re.IGNORECASE) for p in filetypes.values()]
    root_parts = [_glob_components(root) for root in roots]
    acc: dict[tuple, dict] = {}
    for record in records(lines):
        if record.kind not in (b"f", b"d"):
            continue
        path = record.path
        if path is None or not path.startswith(b"/"):
            continue
        parts = [part for part in path.split(b"/") if part]
        is_file = record.kind == b"f"
        used = record.size // record.nlink if is_file and record.nlink >= 1 else 0
        name = parts[-1] if parts else b""
        touched: set[tuple] = set()
        exact: set[tuple] = set()
        for root in root_parts:
            if len(parts) < len(root) or not all(
                    fnmatch.fnmatchcase(part.decode("latin-1"), pat.decode("latin-1"))
                    for part, pat in zip(parts, root)):
                continue
            relative = tuple(parts[len(root) - 1:])
            directory = relative[:-1] if is_file else relative
            if not directory:
                continue
            width = depth + 2 if len(directory) > 2 and directory[2].lower() == b"users" else depth + 1
            key = directory[:width]
            touched.update(key[:n] for n in range(1, len(key) + 1))
            if not is_file and key == directory:
                exact.add(key)
        for key in touched:
            entry = acc.setdefault(key, {"size": 0, "files": 0, "mtime": None,
                                         "types": [0] * len(patterns), "by_gid": {}, "dir_gid": None})
            if record.mtime <= snapshot_time and (entry["mtime"] is None or record.mtime > entry["mtime"]):
                entry["mtime"] = record.mtime
            if is_file:
                entry["size"] += used
                entry["files"] += 1
                entry["by_gid"][record.gid] = entry["by_gid"].get(record.gid, 0) + used
                for index, pattern in enumerate(patterns):
                    if pattern.search(name):
                        entry["types"][index] += used
                        break
        for key in exact:
            acc[key]["dir_gid"] = record.gid  # the last directory entry wins
    result = {}
    for key, entry in acc.items():
        gid = entry["dir_gid"]
        if gid is None and entry["by_gid"]:
            gid = min(entry["by_gid"], key=lambda g: (-entry["by_gid"][g], g))
        result[key] = {"size": entry["size"], "files": entry["files"], "mtime": entry["mtime"],
                       "types": entry["types"], "gid": gid}
    return result


# ------------------------------------------------------------------ the splitter

def kept_lines(lines: Iterable[bytes], humgen_gids: Iterable[int], named_gids: Iterable[int],
               prefixes: Sequence[bytes]) -> dict[int, list[bytes]]:
    """gid -> the lines the group splitter keeps for it (without newlines), in input order.

    A well-formed line is kept when its gid is a humgen gid, or when its gid
    has a name and its decoded path starts with one of ``prefixes``.
    """
    humgen = set(humgen_gids)
    named = set(named_gids)
    kept: dict[int, list[bytes]] = {}
    for record in records(lines):
        if record.gid in humgen:
            keep = True
        elif record.gid in named:
            path = record.path
            keep = path is not None and any(path.startswith(prefix) for prefix in prefixes)
        else:
            keep = False
        if keep:
            kept.setdefault(record.gid, []).append(record.raw)
    return kept
