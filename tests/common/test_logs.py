"""Progress lines: lines, rate, share of the file and the time left."""

from __future__ import annotations

import logging

import pytest

from utils.common.logs import Progress, format_duration


def test_progress_names_share_of_file_and_time_left() -> None:
    progress = Progress(logging.getLogger("test"), "usage of volume 118", position=lambda: 0.25)
    progress.lines = 3_000_000
    assert progress.describe(progress.started + 60) == (
        "usage of volume 118: 3,000,000 lines read (50,000 lines/s), 25% of the file, "
        "about 3m00s left")


def test_progress_without_a_position_gives_lines_and_rate() -> None:
    progress = Progress(logging.getLogger("test"), "reading x")
    progress.lines = 10
    assert progress.describe(progress.started + 2) == "reading x: 10 lines read (5 lines/s)"


def test_progress_at_the_start_has_no_estimate() -> None:
    progress = Progress(logging.getLogger("test"), "x", position=lambda: 0.0)
    assert progress.describe(progress.started + 1) == "x: 0 lines read (0 lines/s), 0% of the file"


def test_progress_is_logged_once_the_interval_has_passed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    progress = Progress(logging.getLogger("test"), "x", interval=0.0, position=lambda: 0.5)
    progress.advance(7)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["x: 7 lines read"]
    assert "50% of the file, about" in caplog.records[0].getMessage()


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (12.4, "12s"), (185, "3m05s"),
                                           (3720, "1h02m"), (-5, "0s")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text

