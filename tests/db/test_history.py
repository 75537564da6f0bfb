"""Reading back: usage history for warnings and charts, inspector rows, per-user rows."""

from __future__ import annotations

import datetime as dt

from db.connection import Database
from db.directory import load_inspection
from db.history import (DirectoryUsage, HistoryPoint, UsagePoint, directory_rows, group_history,
                        usage_over_time, usage_rows, user_rows)
from db.usage import load_usage
from utils.inspector.aggregate import DirectoryRecord
from utils.report.rows import UsageRow, UserUsageRow

D = dt.date(2024, 6, 30)
ODD = "team\\x\udcff"  # a backslash and a byte that is not UTF-8


def day(offset: int) -> dt.date:
    return D + dt.timedelta(days=offset)


def group_row(volume: str, name: str, humgen: bool, used: int, **extra: object) -> UsageRow:
    return UsageRow(volume, "Smith" if humgen else None, name, used, 1000, 1.0, None, humgen, used + 1,
                    **extra)


def load_days(db: Database) -> None:
    for offset in (-100, -90, -89, -15, -14, -13, -7, -1, 0, 1):
        load_usage(db, day(offset), [
            group_row("scratch118", "hgi", True, 100 - offset, inodes=5 - offset, inode_quota=50,
                      inode_quota_used=None if offset == -7 else 4 - offset),
            group_row("scratch118", "hgi", False, 7),
            group_row("scratch119", "hgi", True, 1),
            group_row("scratch118", ODD, False, 2),
        ])


def test_group_history_takes_the_days_before_the_date_within_the_window(db: Database) -> None:
    load_days(db)
    history = group_history(db, "scratch118", D, 14)
    assert sorted(history) == sorted([("hgi", True), ("hgi", False), (ODD, False)])
    assert history[("hgi", True)] == [
        HistoryPoint(day(-13), 113, 1000, 114, 18, 50, 17),
        HistoryPoint(day(-7), 107, 1000, 108, 12, 50, None),
        HistoryPoint(day(-1), 101, 1000, 102, 6, 50, 5),
    ]
    assert [p.record_date for p in history[(ODD, False)]] == [day(-13), day(-7), day(-1)]
    assert group_history(db, "scratch118", D, 1) == {}
    assert group_history(db, "scratch120", D, 14) == {}


def test_usage_over_time_is_the_last_90_days_per_volume(db: Database) -> None:
    load_days(db)
    series = usage_over_time(db, D)
    assert sorted(series) == ["scratch118", "scratch119"]
    assert sorted({p.record_date for p in series["scratch118"]}) == [
        day(-89), day(-15), day(-14), day(-13), day(-7), day(-1), D]
    assert series["scratch119"][-1] == UsagePoint(D, "hgi", True, "Smith", 1, 1000, 2)
    assert [p for p in series["scratch118"] if p.record_date == D] == [
        UsagePoint(D, "hgi", False, None, 7, 1000, 8), UsagePoint(D, "hgi", True, "Smith", 100, 1000, 101),
        UsagePoint(D, ODD, False, None, 2, 1000, 3)]


def test_directory_rows_of_a_volume(db: Database) -> None:
    def record(volume: str, path: tuple[bytes, ...], sizes: tuple[int, ...], group: str | None) -> DirectoryRecord:
        return DirectoryRecord(volume, path, sum(sizes), 2, 3.5, sizes, 1001, group, group is not None,
                               "Smith" if group else None)

    gib = 1024 ** 3
    load_inspection(db, {
        "scratch118": [record("scratch118", (b"projects", b"p\xff"), (gib, 0, gib // 2, 0), ODD),
                       record("scratch118", (b"projects", b"p1", b"sub"), (0, 0, 0, 0), None)],
        "scratch119": [record("scratch119", (b"projects", b"q"), (gib, 0, 0, 0), "hgi")],
    }, {"scratch118": D, "scratch119": D}, ["BAM", "CRAM", "VCF", "PEDBED"])
    assert directory_rows(db, "scratch118") == [
        DirectoryUsage(b"projects/p1", b"sub", 2, 0.0, 3.5, None, None, None,
                       {"BAM": 0.0, "CRAM": 0.0, "VCF": 0.0, "PEDBED": 0.0}),
        DirectoryUsage(b"projects/p\xff", None, 2, 1.5, 3.5, "Smith", ODD, True,
                       {"BAM": 1.0, "CRAM": 0.0, "VCF": 0.5, "PEDBED": 0.0}),
    ]
    assert directory_rows(db, "scratch120") == []


def test_user_rows_of_a_date(db: Database) -> None:
    users = [UserUsageRow("scratch118", "zed", "hgi", True, 5, 1, 2.0),
             UserUsageRow("scratch118", ODD, ODD, False, 6, 2, None),
             UserUsageRow("scratch117", "ab1", "hgi", True, 7, 3, 0.5)]
    load_usage(db, D, [group_row("scratch118", "hgi", True, 1)], users)
    load_usage(db, day(-1), [group_row("scratch118", "hgi", True, 1)], users[:1])
    assert user_rows(db, D) == sorted(users, key=UserUsageRow.sort_key)
    assert user_rows(db, day(-1)) == users[:1]
    assert user_rows(db, day(1)) == []


def test_usage_rows_of_a_date_come_back_as_loaded(db: Database) -> None:
    rows = [
        UsageRow("scratch119", None, ODD, 7, None, None, "/archive/x", False, None),
        UsageRow("scratch118", "Smith", "hgi", 2**63 - 1, 10**15, 2.5, None, True, 10**14,
                 inodes=12, inode_quota=50, inode_quota_used=11, days_until_full_bytes=3.5,
                 days_until_full_inodes=None, status="Not OK"),
        UsageRow("scratch118", None, "hgi", 1, None, 0.0, None, False, None, status=None),
    ]
    load_usage(db, D, rows)
    load_usage(db, day(-1), rows[:1])
    archived = UsageRow("scratch119", None, ODD, 7, None, None, "", False, None)  # where: not kept
    assert usage_rows(db, D) == sorted([archived, *rows[1:]], key=UsageRow.sort_key)
    assert usage_rows(db, D)[-1].archived
    assert usage_rows(db, day(-1)) == [archived]
    assert usage_rows(db, day(1)) == []
