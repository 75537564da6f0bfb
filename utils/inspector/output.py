"""Printing inspector records: exact TSV or a readable table."""

from __future__ import annotations

from typing import Iterable, Sequence

from tabulate import tabulate

from utils.inspector.aggregate import DirectoryRecord

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
NULL = "-"
_DISPLAY_NAMES = {"PEDBED": "PED/BED"}
_ESCAPES = {b"\\": b"\\\\", b"\t": b"\\t", b"\n": b"\\n", b"\r": b"\\r"}


def humanise(size: int) -> str:
    """Bytes in the largest unit (up to PiB) that keeps the value at least 1, two decimals."""
    value = float(size)
    for unit in UNITS[:-1]:
        if value < 1024:
            return f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} {UNITS[-1]}"


def headers(filetypes: Sequence[str], generic: bool) -> list[str]:
    sizes = ["Total"] + [_DISPLAY_NAMES.get(name, name) for name in filetypes]
    tail = ["Files", "Last Modified (days)"]
    if generic:
        return ["Directory"] + sizes + tail
    return ["Project", "Directory"] + sizes + tail + ["PI", "Unix Group", "Volume"]


def _text(value: bytes) -> bytes:
    """Path bytes with tabs, newlines and backslashes escaped (TSV-safe)."""
    for raw, escaped in _ESCAPES.items():
        value = value.replace(raw, escaped)
    return value


def record_cells(record: DirectoryRecord, generic: bool, exact_bytes: bool) -> list[bytes]:
    """One row's cells, as bytes (paths are kept byte-exact)."""
    size = (lambda n: str(n)) if exact_bytes else humanise

    def cell(value: object) -> bytes:
        if value is None:
            return NULL.encode()
        return _text(str(value).encode("utf-8", "surrogateescape"))

    sizes = [size(record.size)] + [size(n) for n in record.filetype_sizes]
    numbers = [cell(v) for v in sizes + [record.num_files, record.last_modified]]
    if generic:
        return [_text(record.key)] + numbers
    subdirectory = record.subdirectory or b"Total"
    return ([_text(record.project), _text(subdirectory)] + numbers
            + [cell(record.pi), cell(record.group_name), cell(record.volume)])


def render_tsv(records: Iterable[DirectoryRecord], filetypes: Sequence[str], *, generic: bool,
               exact_bytes: bool, header: bool) -> bytes:
    """Exact tab-separated text (path bytes as found in the snapshot)."""
    lines = [b"\t".join(h.encode() for h in headers(filetypes, generic))] if header else []
    lines += [b"\t".join(record_cells(r, generic, exact_bytes)) for r in records]
    return b"".join(line + b"\n" for line in lines)


def render_table(records: Iterable[DirectoryRecord], filetypes: Sequence[str], *, generic: bool,
                 exact_bytes: bool, header: bool) -> str:
    """An aligned table (tabulate); sizes right-aligned, non-UTF-8 bytes shown escaped."""
    names = headers(filetypes, generic)
    rows = [[cell.decode("utf-8", "backslashreplace") for cell in record_cells(r, generic, exact_bytes)]
            for r in records]
    text_columns = 1 if generic else 2
    align = ["left"] * text_columns + ["right"] * (len(names) - text_columns)
    if not generic:
        align[-3:] = ["left"] * 3
    return tabulate(rows, headers=names if header else (), tablefmt="simple",
                    disable_numparse=True, colalign=align) + "\n"
