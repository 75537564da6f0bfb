"""Hand-made HTML report models for the page tests (no database, no snapshots).

``sample_report()`` has three volumes: one with groups of every status (and
none), a name that is not UTF-8, a name holding ``<script>``, quotes and a
tab, users and projects; one without inspector rows; one inspected but with
no project and no users.  ``demo_sized_report()`` is as large as the demo's
page: 3 volumes of 40 groups, about 15 charted groups each with 90 days of
history, 20 users and 20 projects.
"""

from __future__ import annotations

import datetime as dt

from utils.report.html_model import (HtmlReport, HistoryPoint, ProjectRow, VolumeReport,
                                     volume_report)
from utils.report.rows import UsageRow, UserUsageRow

DATE = dt.date(2024, 3, 14)
TiB = 1024 ** 4
GiB = 1024 ** 3
FILETYPES = ("BAM", "CRAM", "VCF", "PEDBED")
NON_UTF8 = "caf\udce9"  # the byte 0xe9 (Latin-1 é) kept as a surrogate escape
SCRIPT = "<script>alert('x')</script>"
QUOTED = "o'brien \"q\"\tx"


def group(volume: str, name: str, used: int, *, pi: str | None = "Smith", quota: int | None = None,
          status: str | None = None, humgen: bool = True, days_bytes: float | None = None,
          days_inodes: float | None = None, inodes: int = 1000, inode_quota: int | None = None,
          quota_used: int | None = None, archived: str | None = None) -> UsageRow:
    return UsageRow(volume=volume, pi=pi if humgen else None, group_name=name, used=used,
                    quota=quota, last_modified=2.5, archived_dirs=archived, is_humgen=humgen,
                    quota_used=quota_used, inodes=inodes, inode_quota=inode_quota,
                    inode_quota_used=None, days_until_full_bytes=days_bytes,
                    days_until_full_inodes=days_inodes, status=status)


def growing(used: int, quota: int | None, days: int = 90, step: int = 5 * GiB) -> list[HistoryPoint]:
    """Earlier points of a group that grew by ``step`` a day up to ``used``."""
    return [HistoryPoint(DATE - dt.timedelta(days=back), max(used - back * step, 0), None, quota)
            for back in range(1, days)]


def first_volume() -> VolumeReport:
    v = "scratch118"
    rows = [
        group(v, "alpha", 9 * TiB, quota=10 * TiB, status="Not OK", days_bytes=4.0),
        group(v, "bravo", 8 * TiB, quota=10 * TiB, quota_used=int(8.5 * TiB), status="Not OK",
              days_bytes=2.5),
        group(v, "charlie", 5 * TiB, quota=6 * TiB, status="Kinda OK", days_bytes=30.0,
              inode_quota=5000, inodes=4200),
        group(v, NON_UTF8, 3 * TiB, pi="Lefèvre", quota=10 * TiB, status="OK"),
        group(v, SCRIPT, 2 * TiB, pi="<b>Evil</b>", quota=10 * TiB, status="OK"),
        group(v, QUOTED, 1 * TiB, quota=10 * TiB, status="OK"),
        group(v, "echo", 700 * GiB, humgen=False),
        group(v, "foxtrot", 10 * GiB, humgen=False, archived="/archive/foxtrot"),
        group(v, "golf", 12 * TiB, quota=None, status=None),
        group(v, "hotel", 1 * GiB, quota=10 * TiB, status="OK"),
        group(v, "india", 20 * GiB, quota=10 * TiB, status="OK"),
        group(v, "juliet", 30 * GiB, quota=10 * TiB, status="OK"),
        group(v, "kilo", 40 * GiB, quota=10 * TiB, status="OK"),
        group(v, "lima", 0, quota=10 * TiB, status="Kinda OK", days_inodes=3.0,
              inode_quota=1000, inodes=900),
    ]
    history = {(row.group_name, row.is_humgen): growing(row.used, row.quota) for row in rows}
    history[("alpha", True)] = growing(9 * TiB, 10 * TiB, days=120)  # older days are cut
    users = [UserUsageRow(v, name, grp, True, used, inodes, age)
             for name, grp, used, inodes, age in (
                 ("ann", "alpha", 5 * TiB, 300, 1.0), ("bob", "alpha", 4 * TiB, 200, 0.5),
                 ("<i>carl</i>", SCRIPT, 2 * TiB, 100, None), ("dora", NON_UTF8, 3 * TiB, 50, 9.0))]
    projects = [
        ProjectRow("projects/big", None, 6 * TiB, (3 * TiB, 1 * TiB, 0, 10 * GiB), 1200, 1.5,
                   "Smith", "alpha"),
        ProjectRow("projects/big", "sub", 5 * TiB, (3 * TiB, 0, 0, 0), 1000, 1.5, "Smith", "alpha"),
        ProjectRow("projects/<odd>", None, 1 * TiB, (0, 0, 1 * TiB, 0), 3, None, None, None),
        ProjectRow("projects", None, 7 * TiB, (3 * TiB, 1 * TiB, 1 * TiB, 10 * GiB), 1203, 1.5,
                   None, None),
    ]
    return volume_report(v, rows, DATE, history, users, projects, FILETYPES, DATE)


def second_volume() -> VolumeReport:
    """No inspector rows: no projects section."""
    v = "scratch119"
    rows = [group(v, "alpha", 2 * TiB, quota=3 * TiB, status="OK"),
            group(v, "mike", 50 * GiB, quota=60 * GiB, status="Not OK", days_bytes=0.0)]
    history = {("alpha", True): growing(2 * TiB, 3 * TiB), ("mike", True): growing(50 * GiB, 60 * GiB)}
    users = [UserUsageRow(v, "ann", "alpha", True, 2 * TiB, 10, 3.0)]
    return volume_report(v, rows, DATE, history, users)


def third_volume() -> VolumeReport:
    """Inspected, but no project found; no users recorded; a group with one day of history."""
    v = "scratch123"
    rows = [group(v, "november", 5 * GiB, quota=None, status=None, humgen=False)]
    return volume_report(v, rows, DATE, {}, (), (), FILETYPES, DATE - dt.timedelta(days=1))


def sample_report() -> HtmlReport:
    return HtmlReport(DATE, (first_volume(), second_volume(), third_volume()))


def demo_sized_report() -> HtmlReport:
    volumes = []
    statuses = ("Not OK", "Kinda OK", "OK", "OK", "OK", "OK", "OK", "OK", None, None)
    for number in (118, 119, 123):
        v = f"scratch{number}"
        rows = [group(v, f"group{index:02d}", (index + 1) * 97 * GiB + number,
                      quota=(index + 2) * 100 * GiB if index % 10 < 8 else None,
                      status=statuses[index % 10], days_bytes=float(index) if index % 3 else None,
                      inode_quota=100_000 if index % 2 else None, inodes=index * 2500)
                 for index in range(40)]
        history = {(row.group_name, row.is_humgen): growing(row.used, row.quota, step=GiB)
                   for row in rows}
        users = [UserUsageRow(v, f"user{index:02d}", f"group{index:02d}", True,
                              (index + 1) * 13 * GiB, index * 100, 1.5) for index in range(25)]
        projects = [ProjectRow(f"projects/p{index:02d}", None, (index + 1) * 50 * GiB,
                               ((index + 1) * 10 * GiB, index * GiB, 0, GiB), index * 1000, 4.0,
                               "Smith", f"group{index:02d}") for index in range(25)]
        volumes.append(volume_report(v, rows, DATE, history, users, projects, FILETYPES, DATE))
    return HtmlReport(DATE, tuple(volumes))
