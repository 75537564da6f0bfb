"""The nightly HTML report: one self-contained page from an :class:`HtmlReport`.

The page comes from the Jinja2 template ``templates/report.html.j2`` (its
style and script are included inline from the same folder) with
autoescaping on, and every text value passes :func:`shown` on its way out,
so names holding markup, quotes, control characters or bytes that are not
UTF-8 appear as harmless text.  History charts are inline SVG
(:mod:`utils.report.html_charts`).  Nothing on the page refers to another
file or address.  See docs/html-report.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re

import jinja2
from markupsafe import Markup

from utils.common.atomic import atomic_write
from utils.inspector.output import headers, humanise
from utils.report.html_charts import history_svg
from utils.report.html_model import STATUS_ORDER, HtmlReport, VolumeReport
from utils.report.rows import UsageRow
from utils.report.tsv import tsv_dir

log = logging.getLogger(__name__)

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
NULL = "-"
HIGH_FRACTION = 0.85  # bars at or above this share of the quota are drawn amber
FULL_FRACTION = 0.95  # ... and at or above this one red
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_STATUS_CLASSES = {"Not OK": "not-ok", "Kinda OK": "kinda-ok", "OK": "ok"}


def html_path(report_dir: str, date: dt.date) -> str:
    """``<report_dir>/report-output-files/report-<YYYYMMDD>.html``."""
    return os.path.join(tsv_dir(report_dir), f"report-{date:%Y%m%d}.html")


def shown(text: str) -> str:
    """Text fit to show: bytes that are not UTF-8 (surrogate escapes) and control
    characters as ``\\xNN``; any other lone surrogate as ``\\uNNNN``."""
    return _UNSHOWABLE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def _finalize(value: object) -> object:
    """Applied to every ``{{ … }}``: None as ``-``, text through :func:`shown`."""
    if value is None:
        return NULL
    if isinstance(value, str) and not isinstance(value, Markup):
        return shown(value)
    return value


def size(value: int | None) -> str:
    return NULL if value is None else humanise(value)


def count(value: int | None) -> str:
    return NULL if value is None else f"{value:,}"


def days(value: float | None) -> str:
    return NULL if value is None else f"{value:.1f}"


def sort_value(value: object) -> str:
    """A number as a ``data-value`` for sorting; empty for none (sorted last)."""
    return "" if value is None else str(value)


def filter_text(*names: str | None) -> str:
    """What a row's filter matches against: its group and PI, lower-cased."""
    return " ".join(shown(name).lower() for name in names if name)


class Share:
    """Usage against a limit, for a bar: fraction, width and level."""

    def __init__(self, value: int | None, limit: int | None) -> None:
        self.value = value
        self.limit = limit
        known = value is not None and limit is not None and limit > 0
        self.fraction = value / limit if known else None

    @property
    def width(self) -> str:
        """The bar's width in percent (full at or over the limit)."""
        return f"{min(self.fraction or 0.0, 1.0) * 100:.1f}"

    @property
    def percent(self) -> str:
        return f"{self.fraction * 100:.0f}%" if self.fraction is not None else NULL

    @property
    def level(self) -> str:
        fraction = self.fraction or 0.0
        return "full" if fraction >= FULL_FRACTION else "high" if fraction >= HIGH_FRACTION else "low"


def byte_share(row: UsageRow) -> Share:
    """lfs's usage (else the snapshot's) against the byte quota."""
    return Share(row.used if row.quota_used is None else row.quota_used, row.quota)


def inode_share(row: UsageRow) -> Share:
    """lfs's file count (else the snapshot's lines) against the inode quota."""
    return Share(row.inodes if row.inode_quota_used is None else row.inode_quota_used,
                 row.inode_quota)


def status_rank(status: str | None) -> int | None:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else None


def status_class(status: str | None) -> str:
    return _STATUS_CLASSES.get(status or "", "none")


def filetype_names(filetypes: tuple[str, ...]) -> list[str]:
    """Column names of the file types, as the inspector prints them (PED/BED)."""
    return headers(filetypes, generic=True)[2:-2]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, finalize=_finalize,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    environment.filters.update(size=size, count=count, days=days, sort_value=sort_value)
    environment.globals.update(
        size=size, count=count, filter_text=filter_text, byte_share=byte_share, inode_share=inode_share,
        status_rank=status_rank, status_class=status_class, filetype_names=filetype_names)
    return environment


def _charts(volume: VolumeReport, record_date: dt.date, number: int) -> list[Markup]:
    """The volume's history charts, as inline SVG (matplotlib's output, no names in it)."""
    return [Markup(history_svg(history, record_date, f"v{number}c{index}"))
            for index, history in enumerate(volume.histories, 1)]


def render_html(report: HtmlReport) -> bytes:
    """The whole page as UTF-8 bytes."""
    volumes = []
    for number, volume in enumerate(report.volumes, 1):
        charts = _charts(volume, report.record_date, number)
        log.info("html report: volume %s, %d groups, %d charts", volume.volume,
                 len(volume.groups), len(charts))
        rows = {(row.group_name, row.is_humgen): row for row in volume.groups}
        pis = {key: row.pi for key, row in rows.items()}
        volumes.append({"number": number, "report": volume, "charts": charts, "rows": rows,
                        "pis": pis})
    template = _environment().get_template("report.html.j2")
    return template.render(record_date=report.record_date, volumes=volumes).encode("utf-8")


def write_html(path: str, report: HtmlReport) -> None:
    """Render and write the page so that it exists complete or not at all."""
    data = render_html(report)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as stream:
        stream.write(data)
    log.info("wrote %s (%d bytes)", path, len(data))
