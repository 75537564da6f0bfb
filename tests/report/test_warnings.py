"""Known answers for slopes, days until full and status (hand-computed)."""

from __future__ import annotations

import pytest

from utils.report.warnings import (KINDA_OK, NOT_OK, OK, Series, days_until_full,
                                   least_squares_slope, projected, status)

NOT_OK_RULES = ((3.0, 0.85), (7.0, 0.95))
KINDA_OK_RULES = ((3.0, 0.80), (7.0, 0.85))
NO_QUOTA = Series(value=5, quota=None, points=((0, 5),))


def series(quota: int | None, *points: tuple[int, int]) -> Series:
    today = dict(points)[0]
    return Series(value=today, quota=quota, points=tuple(points))


@pytest.mark.parametrize("points, slope", [
    ([(0, 100)], None),  # one point only
    ([], None),
    ([(-2, 80), (-1, 90), (0, 100)], 10.0),  # growing
    ([(-2, 120), (-1, 110), (0, 100)], -10.0),  # shrinking
    ([(-5, 7), (-1, 7), (0, 7)], 0.0),  # flat
    ([(-10, 0), (-3, 70), (0, 100)], 10.0),  # gaps: Σx=-13 Σy=170 Σxx=109 Σxy=-210 → 1580/158
    ([(-1, 0), (0, 1)], 1.0),
    ([(-2, 0), (-1, 1), (0, 1)], 0.5),  # Σx=-3 Σy=2 Σxx=5 Σxy=-1 → (-3+6)/(15-9)
    ([(-3, 2**62), (0, 2**62 + 3 * 2**40)], float(2**40)),  # large values stay exact
])
def test_least_squares_slope(points: list[tuple[int, int]], slope: float | None) -> None:
    assert least_squares_slope(points) == slope


@pytest.mark.parametrize("value, quota, slope, expected", [
    (100, None, 10.0, None),  # no quota
    (100, 200, 10.0, 10.0),
    (200, 200, None, 0.0),  # at the quota: full now, whatever the slope
    (250, 200, -5.0, 0.0),  # over quota
    (100, 200, None, None),  # one point: no slope
    (100, 200, 0.0, None),  # flat
    (100, 200, -1.0, None),  # shrinking
    (0, 3, 7.0, 0.4),  # 3/7 = 0.428... → 0.4
    (0, 1825, 1.0, 1825.0),  # exactly five years: shown
    (0, 1826, 1.0, None),  # beyond five years
    (0, 18251, 10.0, None),  # 1825.1: more than five years
])
def test_days_until_full(value: int, quota: int | None, slope: float | None,
                         expected: float | None) -> None:
    assert days_until_full(value, quota, slope) == expected


def test_projection_counts_growth_only() -> None:
    assert projected(100, 10.0, 3) == 130.0
    assert projected(100, -10.0, 3) == 100.0
    assert projected(100, None, 7) == 100.0


def test_growing_but_below_every_threshold_is_ok() -> None:
    # p(3) = 130, p(7) = 170 against 0.85*200 = 170 (not exceeded: equality is not "more").
    growing = series(200, (-2, 80), (-1, 90), (0, 100))
    assert growing.days_until_full == 10.0
    assert status(growing, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) == OK


def test_kinda_ok_then_not_ok_as_growth_speeds_up() -> None:
    # slope 11: p(7) = 177 > 0.85*200 = 170 → Kinda OK; p(3) = 133, p(7) = 177 < 190.
    kinda = series(200, (-1, 89), (0, 100))
    assert status(kinda, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) == KINDA_OK
    # slope 30: p(3) = 190 > 170 → Not OK.
    fast = series(200, (-1, 70), (0, 100))
    assert status(fast, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) == NOT_OK


def test_already_over_quota_is_not_ok_even_when_shrinking() -> None:
    over = series(200, (-1, 260), (0, 250))
    assert over.days_until_full == 0.0
    assert status(over, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) == NOT_OK


def test_flat_at_81_percent_is_kinda_ok_and_never_full() -> None:
    flat = series(100, (-3, 81), (-1, 81), (0, 81))
    assert flat.days_until_full is None
    assert status(flat, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) == KINDA_OK


def test_inode_bound_group() -> None:
    bytes_ok = series(10**12, (-1, 10), (0, 10))
    inodes_filling = series(1000, (-2, 800), (-1, 850), (0, 900))  # slope 50: p(3) = 1050
    assert inodes_filling.days_until_full == 2.0
    assert status(bytes_ok, inodes_filling, NOT_OK_RULES, KINDA_OK_RULES) == NOT_OK
    assert status(bytes_ok, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) == OK


def test_no_quota_at_all_has_no_status() -> None:
    assert status(NO_QUOTA, NO_QUOTA, NOT_OK_RULES, KINDA_OK_RULES) is None


def test_rules_are_configurable() -> None:
    one = series(100, (0, 50),)
    assert status(one, NO_QUOTA, ((0.0, 0.4),), ()) == NOT_OK
    assert status(one, NO_QUOTA, ((0.0, 0.6),), ((0.0, 0.5),)) == OK
    assert status(one, NO_QUOTA, ((0.0, 0.6),), ((0.0, 0.49),)) == KINDA_OK
