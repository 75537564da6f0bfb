"""The HTML report's data model: which groups are charted, in which order, with which points."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.report.html_samples import (DATE, GiB, NON_UTF8, QUOTED, SCRIPT, TiB, first_volume,
                                       group, sample_report)
from utils.report.html_model import (GroupHistory, HistoryPoint, ProjectRow, Totals, VolumeReport,
                                     charted_groups,
                                     gib_to_bytes, history_for, largest_projects, largest_users,
                                     page_order)
from utils.report.rows import UserUsageRow

PAGE_ORDER = ["bravo", "alpha", "lima", "charlie", NON_UTF8, SCRIPT, QUOTED, "kilo", "juliet",
              "india", "hotel", "golf", "echo", "foxtrot"]


def test_groups_in_page_order() -> None:
    """Not OK, Kinda OK, OK, no status; soonest full first (either quantity), then largest."""
    assert [row.group_name for row in first_volume().ordered_groups] == PAGE_ORDER


def test_page_order_ties_fall_back_to_used_then_report_order() -> None:
    rows = [group("v", "b", 5, status="OK", days_bytes=3.0),
            group("v", "a", 5, status="OK", days_bytes=3.0),
            group("v", "c", 9, status="OK", days_bytes=3.0),
            group("v", "d", 1, status="OK", days_bytes=2.9),
            group("v", "e", 100, status="OK")]
    assert [row.group_name for row in sorted(rows, key=page_order)] == ["d", "c", "a", "b", "e"]


def test_charted_groups_are_the_troubled_then_the_ten_largest() -> None:
    rows = first_volume().groups
    charted = [row.group_name for row in charted_groups(rows)]
    # Not OK and Kinda OK in page order, then the ten largest not yet listed (largest first);
    # golf has no status (no quota at all) and is charted only as one of the largest; india,
    # foxtrot and hotel are OK and too small.
    assert charted == ["bravo", "alpha", "lima", "charlie",
                       "golf", NON_UTF8, SCRIPT, QUOTED, "echo", "kilo", "juliet"]
    assert [h.group_name for h in first_volume().histories] == charted


def test_a_group_without_status_is_not_charted_unless_among_the_largest() -> None:
    rows = [group("v", f"g{index:02d}", (index + 1) * GiB, status="OK") for index in range(12)]
    rows.append(group("v", "tiny", 1, status=None))
    rows.append(group("v", "trouble", 2, status="Kinda OK"))
    charted = [row.group_name for row in charted_groups(rows)]
    assert charted == ["trouble"] + [f"g{index:02d}" for index in range(11, 1, -1)]


def test_history_keeps_ninety_days_and_takes_today_from_the_row() -> None:
    row = group("v", "alpha", 9 * TiB, quota=10 * TiB, quota_used=8 * TiB)
    points = [HistoryPoint(DATE - dt.timedelta(days=back), back, None, 7) for back in (120, 90, 89, 3)]
    points.append(HistoryPoint(DATE, 1, 1, 1))  # the database's own today: replaced by the row
    points.append(HistoryPoint(DATE + dt.timedelta(days=1), 1, 1, 1))  # the future: dropped
    history = history_for(row, DATE, reversed(points))
    assert (history.group_name, history.is_humgen) == ("alpha", True)
    assert history.points == (
        HistoryPoint(DATE - dt.timedelta(days=89), 89, None, 7),
        HistoryPoint(DATE - dt.timedelta(days=3), 3, None, 7),
        HistoryPoint(DATE, 9 * TiB, 8 * TiB, 10 * TiB),
    )
    assert [p.usage for p in history.points] == [89, 3, 8 * TiB]  # quota_used when known


def test_sample_histories_span_ninety_days_ending_today() -> None:
    for history in first_volume().histories:
        assert history.points[-1].date == DATE
        assert history.points[0].date == DATE - dt.timedelta(days=89)
        assert len(history.points) == 90


def test_totals() -> None:
    volumes = sample_report().volumes
    assert volumes[0].totals == Totals(
        groups=14, used=sum(row.used for row in volumes[0].groups),
        quota=6 * TiB + 10 * 10 * TiB, inodes=14 * 1000 - 2 * 1000 + 4200 + 900, not_ok=2, kinda_ok=2)
    assert volumes[2].totals == Totals(groups=1, used=5 * GiB, quota=None, inodes=1000,
                                       not_ok=0, kinda_ok=0)


def test_largest_users() -> None:
    rows = [UserUsageRow("v", f"u{index}", "g", True, used, 1, None)
            for index, used in enumerate([5, 9, 5, 1, 7])]
    assert [row.user_name for row in largest_users(rows, 3)] == ["u1", "u4", "u0"]
    assert [row.user_name for row in first_volume().users] == ["ann", "bob", "dora", "<i>carl</i>"]


def test_largest_projects_are_whole_projects_only() -> None:
    rows = [ProjectRow(name, sub, size, (), 0, None, None, None) for name, sub, size in (
        ("projects", None, 100), ("projects/a", None, 10), ("projects/a", "x", 9),
        ("projects/b", None, 30), ("projects/c", None, 10))]
    assert [(row.project, row.size) for row in largest_projects(rows, 2)] == [
        ("projects/b", 30), ("projects/a", 10)]
    assert [row.project for row in first_volume().projects] == ["projects/big", "projects/<odd>"]


def test_gib_to_bytes() -> None:
    assert gib_to_bytes(1.5) == 3 * 512 * 1024 ** 2
    assert gib_to_bytes(None) == 0


def test_a_history_must_belong_to_a_group_row() -> None:
    row = group("scratch1", "alpha", 5)
    with pytest.raises(ValueError, match="volume scratch1: a history for group 'beta', which has no row"):
        VolumeReport("scratch1", (row,), histories=(GroupHistory("beta", True, ()),))
    with pytest.raises(ValueError, match="group 'alpha'"):  # same name, not humgen: another group
        VolumeReport("scratch1", (row,), histories=(GroupHistory("alpha", False, ()),))
