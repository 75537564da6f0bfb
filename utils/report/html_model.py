"""What the HTML report shows, as plain data (see docs/html-report.md).

The page is drawn from one :class:`HtmlReport`: for a record date, one
:class:`VolumeReport` per volume with its group rows (the report's own
:class:`UsageRow`), the usage history of the groups that get a chart, the
largest users (:class:`UserUsageRow`) and, when the volume has been
inspected, its largest projects.  Nothing here touches the database: the
code that fills the model reads it and uses the selection helpers below
(:func:`charted_groups`, :func:`largest_users`, :func:`largest_projects`,
:func:`history_for`) so that every caller picks the same groups, users and
projects.

Names are text as the report holds them (bytes that are not UTF-8 kept as
surrogate escapes); the renderer shows such bytes as ``\\xNN``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from utils.report.rows import UsageRow, UserUsageRow
from utils.report.warnings import KINDA_OK, NOT_OK, OK

HISTORY_DAYS = 90  # a chart covers D - 89 .. D
CHARTED_LARGEST = 10  # the volume's largest groups always get a chart
LARGEST_USERS = 20
LARGEST_PROJECTS = 20
STATUS_ORDER = (NOT_OK, KINDA_OK, OK)  # then rows without a status
_TROUBLE = frozenset((NOT_OK, KINDA_OK))


@dataclass(frozen=True)
class HistoryPoint:
    """One day of a group's usage on a volume (a ``lustre_usage`` row)."""

    date: dt.date
    used: int
    quota_used: int | None
    quota: int | None

    @property
    def usage(self) -> int:
        """What is charted against the quota: lfs's figure when known, else the snapshot's."""
        return self.used if self.quota_used is None else self.quota_used


@dataclass(frozen=True)
class GroupHistory:
    """The points of one charted group, oldest first, at most one per date."""

    group_name: str
    is_humgen: bool
    points: tuple[HistoryPoint, ...]


@dataclass(frozen=True)
class ProjectRow:
    """One inspected project directory: its size in bytes, in total and per file type."""

    project: str  # the first two components, e.g. "projects/p1"
    directory: str | None  # the rest of the record's path; None for the project itself
    size: int
    filetype_sizes: tuple[int, ...]  # in the order of VolumeReport.filetypes
    num_files: int
    last_modified: float | None
    pi: str | None
    group_name: str | None


@dataclass(frozen=True)
class Totals:
    """A volume at a glance."""

    groups: int
    used: int
    quota: int | None  # sum of the known byte quotas; None when no group has one
    inodes: int | None  # sum of the known inode counts; None when none is known
    not_ok: int
    kinda_ok: int


@dataclass(frozen=True)
class VolumeReport:
    """Everything the page shows for one volume."""

    volume: str
    groups: tuple[UsageRow, ...]  # every reported group, in any order
    histories: tuple[GroupHistory, ...] = ()  # one per charted group, in chart order
    users: tuple[UserUsageRow, ...] = ()  # the largest users, largest first
    projects: tuple[ProjectRow, ...] | None = None  # None: no inspector rows for the volume
    filetypes: tuple[str, ...] = ()  # names of ProjectRow.filetype_sizes
    inspected: dt.date | None = None  # the snapshot date the projects come from

    def __post_init__(self) -> None:
        groups = {(row.group_name, row.is_humgen) for row in self.groups}
        for history in self.histories:
            if (history.group_name, history.is_humgen) not in groups:
                raise ValueError(f"volume {self.volume}: a history for group "
                                 f"{history.group_name!r}, which has no row")

    @property
    def totals(self) -> Totals:
        quotas = [row.quota for row in self.groups if row.quota is not None]
        inodes = [row.inodes for row in self.groups if row.inodes is not None]
        return Totals(
            groups=len(self.groups),
            used=sum(row.used for row in self.groups),
            quota=sum(quotas) if quotas else None,
            inodes=sum(inodes) if inodes else None,
            not_ok=sum(row.status == NOT_OK for row in self.groups),
            kinda_ok=sum(row.status == KINDA_OK for row in self.groups),
        )

    @property
    def ordered_groups(self) -> list[UsageRow]:
        return sorted(self.groups, key=page_order)


@dataclass(frozen=True)
class HtmlReport:
    """The whole page: one record date, its volumes in display order."""

    record_date: dt.date
    volumes: tuple[VolumeReport, ...]


def _days_until_full(row: UsageRow) -> float | None:
    """The sooner of the two projections (bytes, inodes), if any."""
    known = [d for d in (row.days_until_full_bytes, row.days_until_full_inodes) if d is not None]
    return min(known) if known else None


def page_order(row: UsageRow) -> tuple:
    """Not OK, Kinda OK, OK, then no status; within each, soonest full first
    (no projection last), then largest used first, then the report's order."""
    rank = STATUS_ORDER.index(row.status) if row.status in STATUS_ORDER else len(STATUS_ORDER)
    days = _days_until_full(row)
    return (rank, days is None, days or 0.0, -row.used, row.sort_key())


def _by_size(row: UsageRow) -> tuple:
    return (-row.used, row.sort_key())


def charted_groups(rows: Iterable[UsageRow]) -> list[UsageRow]:
    """The groups that get a history chart, in chart order.

    Every group whose status is ``Not OK`` or ``Kinda OK`` (in page order),
    then those of the volume's ten largest by used (ties: report order) not
    already listed.  A group without a status (no quota at all) has nothing
    to be in trouble with: it is charted only when it is among the largest.
    """
    rows = list(rows)
    troubled = sorted((row for row in rows if row.status in _TROUBLE), key=page_order)
    largest = sorted(rows, key=_by_size)[:CHARTED_LARGEST]
    chosen = {id(row) for row in troubled}
    return troubled + [row for row in largest if id(row) not in chosen]


def history_for(row: UsageRow, record_date: dt.date,
                points: Iterable[HistoryPoint]) -> GroupHistory:
    """A charted group's history: the database's points of the last 90 days,
    with the record date's point taken from ``row`` (the run's own figures)."""
    first = record_date - dt.timedelta(days=HISTORY_DAYS - 1)
    kept = {p.date: p for p in points if first <= p.date < record_date}
    kept[record_date] = HistoryPoint(record_date, row.used, row.quota_used, row.quota)
    return GroupHistory(row.group_name, row.is_humgen, tuple(kept[d] for d in sorted(kept)))


def largest_users(rows: Iterable[UserUsageRow], count: int = LARGEST_USERS) -> list[UserUsageRow]:
    """The ``count`` largest (user, group) rows of a volume by used (ties: user, group)."""
    return sorted(rows, key=lambda row: (-row.used, row.sort_key()))[:count]


def largest_projects(rows: Iterable[ProjectRow],
                     count: int = LARGEST_PROJECTS) -> list[ProjectRow]:
    """The ``count`` largest projects of a volume: records of whole projects
    (two components, no subdirectory), by size (ties: project name)."""
    projects = [row for row in rows if row.directory is None and "/" in row.project]
    return sorted(projects, key=lambda row: (-row.size, row.project))[:count]


def gib_to_bytes(size: float | None) -> int:
    """A ``directory``/``file_size`` size (GiB, two decimals) as bytes."""
    return 0 if size is None else round(size * 1024 ** 3)


def volume_report(volume: str, rows: Sequence[UsageRow], record_date: dt.date,
                  history: Mapping[tuple[str, bool], Sequence[HistoryPoint]],
                  users: Iterable[UserUsageRow] = (), projects: Iterable[ProjectRow] | None = None,
                  filetypes: Sequence[str] = (), inspected: dt.date | None = None) -> VolumeReport:
    """One volume's part of the page from its rows and the database's points.

    ``history`` maps (group name, is_humgen) to that group's earlier points
    (any dates; only the last 90 days are kept); users and projects are cut
    to the largest.
    """
    charted = charted_groups(rows)
    return VolumeReport(
        volume=volume,
        groups=tuple(rows),
        histories=tuple(history_for(row, record_date, history.get((row.group_name, row.is_humgen), ()))
                        for row in charted),
        users=tuple(largest_users(users)),
        projects=None if projects is None else tuple(largest_projects(projects)),
        filetypes=tuple(filetypes),
        inspected=inspected,
    )
