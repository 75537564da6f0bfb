"""History charts for the HTML report: matplotlib line charts as inline SVG.

One chart per charted group: its usage (lfs's quota_used when known, else
the snapshot's used) and its quota over the last 90 days, sizes in one
binary unit chosen from the largest value.  Figures are drawn with
matplotlib's object interface (no pyplot, so no display is ever opened) and
saved as SVG with text kept as text.  The SVG is made fit to sit inline in
an HTML page next to others: no XML prologue or DTD, and every id prefixed
so that the ids of two charts never collide.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from utils.inspector.output import UNITS
from utils.report.html_model import HISTORY_DAYS, GroupHistory

USAGE_COLOUR = "#1f5f9f"
QUOTA_COLOUR = "#c0392b"
_STYLE = {
    "svg.fonttype": "none",  # text as <text>, drawn with the browser's own sans-serif
    "svg.hashsalt": "lurge",  # the same chart gives the same bytes
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_PROLOGUE = re.compile(r"\A\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?")
_REFERENCES = re.compile(r'(\bid="|\bhref="#|\burl\(#)([^")]+)')
_NAMESPACES = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')  # implied for <svg> inside HTML
_FIGURE_INCHES = (5.2, 2.3)
_MARGINS = {"left": 0.12, "right": 0.97, "bottom": 0.2, "top": 0.86}


def size_unit(largest: float) -> tuple[str, int]:
    """The binary unit (name, bytes) that keeps ``largest`` at least 1 (B up to PiB)."""
    for power in range(len(UNITS) - 1, 0, -1):
        if largest >= 1024 ** power:
            return UNITS[power], 1024 ** power
    return UNITS[0], 1


def history_svg(history: GroupHistory, record_date: dt.date, chart_id: str) -> str:
    """The chart of one group's history as an inline ``<svg>`` element.

    ``chart_id`` (letters, digits and dashes) prefixes every id in the SVG.
    """
    points = history.points
    if not points:
        raise ValueError(f"no usage history to chart for group {history.group_name!r}")
    dates = [point.date for point in points]
    usage = [point.usage for point in points]
    quota = [math.nan if point.quota is None else point.quota for point in points]
    largest = max([*usage, *(q for q in quota if not math.isnan(q)), 1])
    unit, scale = size_unit(largest)
    marker = "o" if len(points) < 3 else None  # a lone point would not show as a line
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=_FIGURE_INCHES)
        figure.subplots_adjust(**_MARGINS)  # fixed: a layout engine costs a third of the time
        axes = figure.add_subplot()
        axes.plot(dates, [value / scale for value in usage], color=USAGE_COLOUR,
                  linewidth=1.6, marker=marker, markersize=3, label="usage")
        if any(not math.isnan(q) for q in quota):
            axes.plot(dates, [value / scale for value in quota], color=QUOTA_COLOUR,
                      linewidth=1.2, linestyle="--", drawstyle="steps-post", label="quota")
        axes.set_xlim(record_date - dt.timedelta(days=HISTORY_DAYS - 1), record_date)
        axes.set_ylim(bottom=0, top=largest / scale * 1.08)
        locator = AutoDateLocator(minticks=3, maxticks=7)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.yaxis.set_major_locator(MaxNLocator(nbins=5))
        axes.set_ylabel(unit)
        axes.grid(axis="y", linewidth=0.4, color="#dddddd")
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1), frameon=False, ncols=2, fontsize=8,
                    borderaxespad=0.2)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    return _inline(buffer.getvalue(), chart_id)


def _inline(svg: str, prefix: str) -> str:
    """Drop the XML prologue, DTD line and namespace declarations (an HTML parser
    implies them); prefix every id and every reference to one."""
    svg = _NAMESPACES.sub("", _PROLOGUE.sub("", svg, count=1))
    return _REFERENCES.sub(lambda match: f"{match.group(1)}{prefix}-{match.group(2)}", svg).strip()
