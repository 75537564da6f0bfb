"""Where each group is heading: least-squares slopes, days until full, and a status.

For one group on one volume and record date D there are two series of
(day, value) points — bytes against the byte quota and inodes against the
inode quota (see docs/warnings.md):

* bytes: ``quota_used`` when lfs gave it, else ``used`` (the snapshot's sum);
* inodes: ``inode_quota_used`` when lfs gave it, else ``inodes`` (lines).

Each series holds today's point (day 0) and the database's points of the
previous ``history_days - 1`` days whose value is known; ``day`` is the
point's date minus D (so history days are negative).  The slope is the
least-squares slope of value on day; a quota is then projected forward, and
the configured rules turn the projections into ``OK``, ``Kinda OK`` or
``Not OK``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol, Sequence

from utils.common.config import WarningRule, WarningsConfig
from utils.report.rows import UsageRow

NOT_OK = "Not OK"
KINDA_OK = "Kinda OK"
OK = "OK"
STATUSES = (NOT_OK, KINDA_OK, OK)
MAX_DAYS_UNTIL_FULL = 1825.0  # five years: a projection further out is shown as none
WORST_SHOWN = 5  # groups named in the night's summary


class PastUsage(Protocol):
    """One earlier database row of a group (what the warning series need of it)."""

    record_date: dt.date
    used: int | None
    quota_used: int | None
    inodes: int | None
    inode_quota_used: int | None


@dataclass(frozen=True)
class Series:
    """One quantity of one group: today's value, its quota, and its points.

    ``points`` are (day, value) pairs with distinct days, today's (0, value)
    included; ``quota`` is None when there is no limit (or it is unknown).
    """

    value: int
    quota: int | None
    points: tuple[tuple[int, int], ...]

    @property
    def slope(self) -> float | None:
        """Least-squares slope of value on day (per day); None with fewer than 2 points."""
        return least_squares_slope(self.points)

    @property
    def days_until_full(self) -> float | None:
        return days_until_full(self.value, self.quota, self.slope)


def least_squares_slope(points: Sequence[tuple[int, int]]) -> float | None:
    """The slope of the least-squares line through ``points`` (distinct days).

    Computed from exact integer sums, so the result is the correctly rounded
    float of the exact slope; None for fewer than two points.
    """
    count = len(points)
    if count < 2:
        return None
    sum_x = sum(day for day, _ in points)
    sum_y = sum(value for _, value in points)
    sum_xx = sum(day * day for day, _ in points)
    sum_xy = sum(day * value for day, value in points)
    spread = count * sum_xx - sum_x * sum_x
    if spread == 0:  # every point on one day: no slope (cannot happen with distinct days)
        return None
    return (count * sum_xy - sum_x * sum_y) / spread


def days_until_full(value: int, quota: int | None, slope: float | None) -> float | None:
    """Days until ``value`` reaches ``quota`` at ``slope`` per day (1 decimal).

    None without a quota; 0.0 when already at or over it; None when not
    growing (no slope, or a slope of zero or less) or when the answer is more
    than five years away.
    """
    if quota is None:
        return None
    if value >= quota:
        return 0.0
    if slope is None or slope <= 0:
        return None
    days = round((quota - value) / slope, 1)
    return None if days > MAX_DAYS_UNTIL_FULL else days


def projected(value: int, slope: float | None, days: float) -> float:
    """The value after ``days`` days: growth only (a shrinking series stays put)."""
    return value + max(slope or 0.0, 0.0) * days


def breaks_a_rule(series: Series, rules: Sequence[WarningRule]) -> bool:
    """Whether, for some (days, fraction) rule, the projection exceeds fraction × quota."""
    if series.quota is None:
        return False
    slope = series.slope
    return any(projected(series.value, slope, days) > fraction * series.quota
               for days, fraction in rules)


def status(bytes_series: Series, inode_series: Series, not_ok: Sequence[WarningRule],
           kinda_ok: Sequence[WarningRule]) -> str | None:
    """``Not OK``, ``Kinda OK`` or ``OK`` by the rules; None when neither quantity has a quota."""
    if bytes_series.quota is None and inode_series.quota is None:
        return None
    for label, rules in ((NOT_OK, not_ok), (KINDA_OK, kinda_ok)):
        if breaks_a_rule(bytes_series, rules) or breaks_a_rule(inode_series, rules):
            return label
    return OK


def bytes_value(used: int | None, quota_used: int | None) -> int | None:
    """A day's bytes: lfs's figure when known, else the snapshot's sum."""
    return used if quota_used is None else quota_used


def inode_value(inodes: int | None, inode_quota_used: int | None) -> int | None:
    """A day's inodes: lfs's file count when known, else the snapshot's lines."""
    return inodes if inode_quota_used is None else inode_quota_used


def _series(value: int, quota: int | None, past: Iterable[tuple[int, int | None]]) -> Series:
    """Today's value (day 0) and the past days whose value is known."""
    points = [(day, known) for day, known in past if known is not None]
    return Series(value=value, quota=quota, points=tuple(points) + ((0, value),))


def with_warnings(row: UsageRow, past: Iterable[PastUsage], date: dt.date,
                  settings: WarningsConfig) -> UsageRow:
    """``row`` (of record date ``date``) with its days until full and status filled in.

    ``past`` are the group's earlier rows on the same volume; only those with
    date − history_days < record_date < date count.
    """
    window = [day for day in past
              if 0 < (date - day.record_date).days < settings.history_days]
    offsets = [(day.record_date - date).days for day in window]
    bytes_series = _series(
        bytes_value(row.used, row.quota_used), row.quota,
        zip(offsets, (bytes_value(day.used, day.quota_used) for day in window)))
    today_inodes = inode_value(row.inodes, row.inode_quota_used)
    if today_inodes is None:  # no count for today: no inode series (and no inode warning)
        inode_series = Series(value=0, quota=None, points=())
    else:
        inode_series = _series(
            today_inodes, row.inode_quota,
            zip(offsets, (inode_value(day.inodes, day.inode_quota_used) for day in window)))
    return dataclasses.replace(
        row,
        days_until_full_bytes=bytes_series.days_until_full,
        days_until_full_inodes=inode_series.days_until_full,
        status=status(bytes_series, inode_series, settings.not_ok, settings.kinda_ok),
    )


def soonest_full(row: UsageRow) -> float | None:
    """The sooner of the row's two days-until-full figures (None: neither)."""
    known = [days for days in (row.days_until_full_bytes, row.days_until_full_inodes)
             if days is not None]
    return min(known, default=None)


def summarise(rows: Sequence[UsageRow]) -> str:
    """One line for the night: Not OK / Kinda OK counts per volume, and the worst groups."""
    counts: Mapping[str, Counter[str | None]] = {}
    for row in rows:
        counts.setdefault(row.volume, Counter())[row.status] += 1  # type: ignore[index]
    per_volume = "; ".join(
        f"{volume}: {found[NOT_OK]} Not OK, {found[KINDA_OK]} Kinda OK"
        for volume, found in sorted(counts.items()))
    troubled = [row for row in rows if row.status in (NOT_OK, KINDA_OK)]
    troubled.sort(key=lambda row: (row.status != NOT_OK, soonest_full(row) is None,
                                   soonest_full(row) or 0.0, -row.used, row.volume,
                                   row.group_name))
    worst = ", ".join(_describe(row) for row in troubled[:WORST_SHOWN])
    return f"warnings: {per_volume or 'no groups'}" + (f"; worst: {worst}" if worst else "")


def _describe(row: UsageRow) -> str:
    days = soonest_full(row)
    when = "full now" if days == 0.0 else (
        f"full in {days:g} days" if days is not None else "over a threshold")
    return f"{row.group_name} on {row.volume} ({row.status}, {when})"
