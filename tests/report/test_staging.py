"""utils/report/staging.py: rows survive a staging file exactly, names that are not UTF-8 included."""

from __future__ import annotations

from pathlib import Path

from utils.report.rows import UsageRow, UserUsageRow
from utils.report.staging import read_rows, read_user_rows, write_rows

NOT_UTF8 = b"bad\xff\xfeutf8".decode("utf-8", "surrogateescape")


def test_rows_round_trip_with_names_that_are_not_utf8(tmp_path: Path) -> None:
    rows = [
        UsageRow("scratch118", b"M\xfcller".decode("utf-8", "surrogateescape"), NOT_UTF8, 5, None, 1.5,
                 None, True, None, inodes=2),
        UsageRow("scratch118", None, "équipe", 7, 2048, None, f"/lustre/old/{NOT_UTF8}", False, 1024,
                 status="OK"),
    ]
    path = tmp_path / "usage.sqlite"
    write_rows(str(path), rows)
    assert read_rows(str(path)) == rows
    assert read_rows(str(path))[0].group_name.encode("utf-8", "surrogateescape") == b"bad\xff\xfeutf8"


def test_user_rows_round_trip_beside_the_group_rows(tmp_path: Path) -> None:
    groups = [UsageRow("scratch118", None, "hgi", 5, None, 1.5, None, True, None, inodes=2)]
    users = [
        UserUsageRow("scratch118", NOT_UTF8, "hgi", True, 3, 1, None),
        UserUsageRow("scratch118", "10005", "équipe", False, 0, 4, 0.0),
    ]
    path = tmp_path / "usage.sqlite"
    write_rows(str(path), groups, users)
    assert read_rows(str(path)) == groups
    assert read_user_rows(str(path)) == users
    write_rows(str(path), groups)  # a volume without owners: no user rows
    assert read_user_rows(str(path)) == []
