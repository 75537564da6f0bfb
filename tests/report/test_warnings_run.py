"""Warnings end to end: hand-computed histories through report.py, on SQLite and MariaDB.

Each group below is one case.  Its earlier rows are loaded into the database
first (as earlier nights would have); today's figures come from the snapshot
(two files of 1,000 bytes per group) and the fake ``lfs``.  The expected
days-until-full and statuses are worked out by hand in the comments (KiB =
1024 bytes; default rules: Not OK when a projection passes 85% in 3 days or
95% in 7 days, Kinda OK at 80% / 85%; 14 days of history).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from db.connection import connect as open_database
from db.migrate import ensure_schema
from db.usage import load_usage
from tests.faults.common import make_config, write_snapshots, Entry
from tests.fixtures.database import connect
from tests.scripts import run_script
from utils.report.rows import UsageRow

KIB = 1024
DATE = dt.date(2024, 3, 20)
VOLUME = "scratch118"


def past(days_ago: int, name: str, *, quota_used: int | None = None, used: int = 2000,
         inodes: int | None = 2, inode_quota_used: int | None = None) -> tuple[dt.date, UsageRow]:
    """An earlier night's row of group ``name``."""
    return DATE - dt.timedelta(days=days_ago), UsageRow(
        volume=VOLUME, pi=None, group_name=name, used=used, quota=200 * KIB,
        last_modified=1.0, archived_dirs=None, is_humgen=False, quota_used=quota_used,
        inodes=inodes, inode_quota=None, inode_quota_used=inode_quota_used)


# name -> (lfs answer today, earlier rows)
CASES: dict[str, tuple[dict, list[tuple[dt.date, UsageRow]]]] = {
    # growing: 70, 85, 100 KiB → slope 15 KiB/day; (200 − 100) / 15 = 6.67 → 6.7 days;
    # in 7 days 205 KiB > 95% of 200 → Not OK.
    "70001": ({"used": 100, "hard": 200},
              [past(2, "70001", quota_used=70 * KIB), past(1, "70001", quota_used=85 * KIB)]),
    # shrinking: 185, 175, 165 → no date; 165 > 80% of 200 (160), < 85% (170) → Kinda OK.
    "70002": ({"used": 165, "hard": 200},
              [past(2, "70002", quota_used=185 * KIB), past(1, "70002", quota_used=175 * KIB)]),
    # flat at 50 of 200 → no date, OK.
    "70003": ({"used": 50, "hard": 200},
              [past(3, "70003", quota_used=50 * KIB), past(1, "70003", quota_used=50 * KIB)]),
    # over quota: 210 of 200 → 0.0 days, Not OK.
    "70004": ({"used": 210, "hard": 200, "over": True},
              [past(1, "70004", quota_used=190 * KIB)]),
    # no quota of either kind → no days, no status.
    "70005": ({"used": 10, "hard": 0}, [past(1, "70005", quota_used=5 * KIB)]),
    # one point only (no earlier rows) → no slope, no date; 100 of 200 → OK.
    "70006": ({"used": 100, "hard": 200}, []),
    # gaps, and a row older than the 14 days that must not count:
    # (−10, 0), (−3, 70 KiB), (0, 100 KiB) → slope 1617920 / 158 = 10240 B/day;
    # (250 − 100) KiB / 10 KiB = 15.0 days; 170 KiB in 7 days < 80% of 250 → OK.
    "70007": ({"used": 100, "hard": 250},
              [past(20, "70007", quota_used=1000 * KIB), past(10, "70007", quota_used=0),
               past(3, "70007", quota_used=70 * KIB)]),
    # a night without lfs's figure counts with the snapshot's `used`: 80 KiB (used), 90 KiB,
    # 100 KiB → 10 KiB/day; (300 − 100) / 10 = 20.0 days; OK.
    "70008": ({"used": 100, "hard": 300},
              [past(2, "70008", quota_used=None, used=80 * KIB),
               past(1, "70008", quota_used=90 * KIB)]),
    # inode-bound: bytes flat (10 of 1000 KiB, OK), files 800, 850, 900 of 1000 → 50 a day;
    # (1000 − 900) / 50 = 2.0 days; 1050 files in 3 days > 85% → Not OK.
    "70009": ({"used": 10, "hard": 1000, "files": 900, "file_hard": 1000},
              [past(2, "70009", quota_used=10 * KIB, inode_quota_used=800),
               past(1, "70009", quota_used=10 * KIB, inode_quota_used=850)]),
    # beyond five years: 102399 then 102400 bytes → 1 B/day; 102400 days away → none; OK.
    "70010": ({"used": 100, "hard": 200}, [past(1, "70010", quota_used=100 * KIB - 1)]),
    # over the file limit (lfs prints 1200* files): inodes full now → 0.0, Not OK.
    "70011": ({"used": 10, "hard": 1000, "files": 1200, "file_hard": 1000, "files_over": True}, []),
}

# name -> (quota, quota used, inode quota, inode quota used, days (bytes), days (inodes), status)
EXPECTED = {
    "70001": (200 * KIB, 100 * KIB, None, 0, 6.7, None, "Not OK"),
    "70002": (200 * KIB, 165 * KIB, None, 0, None, None, "Kinda OK"),
    "70003": (200 * KIB, 50 * KIB, None, 0, None, None, "OK"),
    "70004": (200 * KIB, 210 * KIB, None, 0, 0.0, None, "Not OK"),
    "70005": (None, 10 * KIB, None, 0, None, None, None),
    "70006": (200 * KIB, 100 * KIB, None, 0, None, None, "OK"),
    "70007": (250 * KIB, 100 * KIB, None, 0, 15.0, None, "OK"),
    "70008": (300 * KIB, 100 * KIB, None, 0, 20.0, None, "OK"),
    "70009": (1000 * KIB, 10 * KIB, 1000, 900, None, 2.0, "Not OK"),
    "70010": (200 * KIB, 100 * KIB, None, 0, None, None, "OK"),
    "70011": (1000 * KIB, 10 * KIB, 1000, 1200, None, 0.0, "Not OK"),
}
HEADER = ("Lustre Volume\tPI\tUnix Group\tUsed (bytes)\tQuota (bytes)\tLast Modified (days)\t"
          "Archived Directories\tIs Humgen?\tQuota Used (bytes)\tInodes\tInode Quota\t"
          "Inode Quota Used\tDays Until Full (bytes)\tDays Until Full (inodes)\tStatus\n")
SUMMARY = ("2024-03-20 warnings: scratch118: 4 Not OK, 1 Kinda OK; worst: "
           "70004 on scratch118 (Not OK, full now), 70011 on scratch118 (Not OK, full now), "
           "70009 on scratch118 (Not OK, full in 2 days), "
           "70001 on scratch118 (Not OK, full in 6.7 days), "
           "70002 on scratch118 (Kinda OK, over a threshold)")


def cell(value: object) -> str:
    return "-" if value is None else str(value)


def test_days_until_full_and_status_from_the_history(tmp_path: Path, db_url: str, fake_lfs) -> None:
    config = make_config(tmp_path, db_url, volumes=(118,), quota={"lfs": fake_lfs.command})
    for name, (answer, _) in CASES.items():
        fake_lfs.set(name, **answer)
    with open_database(db_url) as database:
        ensure_schema(database)
        nights: dict[dt.date, list[UsageRow]] = {}
        for name, (_, rows) in CASES.items():
            for date, row in rows:
                nights.setdefault(date, []).append(row)
        for date, rows in sorted(nights.items()):
            load_usage(database, date, rows)
    snapshot_time = int(time.mktime((DATE + dt.timedelta(days=1)).timetuple())) - 3600
    entries = [Entry(118, int(name), size=1000, age_days=1, name=f"f{index}")
               for name in CASES for index in range(2)]
    files = write_snapshots(tmp_path / "mpistat", entries, DATE, snapshot_time)

    result = run_script("report.py", "--config", str(config), DATE.isoformat(),
                        str(files[118]), check=0)

    expected_lines = [HEADER]
    for name in sorted(EXPECTED):
        quota, quota_used, inode_quota, inode_used, days_bytes, days_inodes, status = EXPECTED[name]
        cells = (VOLUME, None, name, 2000, quota, 1.0, None, False, quota_used, 2, inode_quota,
                 inode_used, days_bytes, days_inodes, status)
        expected_lines.append("\t".join(cell(value) for value in cells) + "\n")
    tsv = tmp_path / "reports" / "report-output-files" / "report-20240320.tsv"
    assert tsv.read_text(encoding="utf-8") == "".join(expected_lines)

    with connect(db_url) as sql:
        stored = sql.query(
            "SELECT g.group_name, u.quota, u.quota_used, u.inodes, u.inode_quota,"
            " u.inode_quota_used, u.days_until_full_bytes, u.days_until_full_inodes, u.status"
            " FROM lustre_usage u JOIN unix_group g ON g.group_id = u.unix_id"
            " WHERE u.record_date = ? ORDER BY g.group_name", (DATE,))
    assert stored == [(name, quota, quota_used, 2, inode_quota, inode_used, days_bytes,
                       days_inodes, status)
                      for name, (quota, quota_used, inode_quota, inode_used, days_bytes,
                                 days_inodes, status) in sorted(EXPECTED.items())]
    assert SUMMARY in result.stderr
