"""Finding snapshot files: names, dates, and the snapshot time of a file."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Sequence

from utils.common.errors import SnapshotError

SNAPSHOT_NAME = re.compile(r"^(\d{8})_(\d+)\.dat\.gz$")


@dataclass(frozen=True)
class Snapshot:
    """One snapshot file: volume number, date from its name, and snapshot time."""

    path: str
    volume: int
    date: dt.date
    time: float  # st_mtime: later timestamps are clock skew


def snapshot_filename(date: dt.date, volume: int) -> str:
    """``YYYYMMDD_<vol>.dat.gz``."""
    return f"{date:%Y%m%d}_{volume}.dat.gz"


def parse_snapshot_filename(name: str) -> tuple[dt.date, int] | None:
    """(date, volume) of a snapshot file name, or None if it is not one."""
    match = SNAPSHOT_NAME.match(name)
    if not match:
        return None
    try:
        date = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None
    return date, int(match.group(2))


def open_snapshot(path: str, volume: int | None = None, date: dt.date | None = None) -> Snapshot:
    """Describe the snapshot at ``path``; volume and date default to its name's."""
    parsed = parse_snapshot_filename(os.path.basename(os.path.realpath(path)))
    if parsed is None:
        parsed = parse_snapshot_filename(os.path.basename(path))
    if volume is None or date is None:
        if parsed is None:
            raise SnapshotError(f"{path}: not a snapshot name (expected YYYYMMDD_<volume>.dat.gz)")
        date = date or parsed[0]
        volume = parsed[1] if volume is None else volume
    try:
        snapshot_time = os.stat(path).st_mtime
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot stat snapshot: {exc.strerror}") from None
    return Snapshot(path=path, volume=volume, date=date, time=snapshot_time)


def candidate_dates(today: dt.date, max_days_ago: int) -> list[dt.date]:
    """today, yesterday, … — ``max_days_ago`` dates, newest first."""
    return [today - dt.timedelta(days=days) for days in range(max_days_ago)]


def complete_set(mpistat_dir: str, volumes: Sequence[int], date: dt.date) -> dict[int, str] | None:
    """The snapshot paths of ``date`` if every volume has one, else None."""
    paths = {v: os.path.join(mpistat_dir, snapshot_filename(date, v)) for v in volumes}
    if all(os.path.isfile(path) for path in paths.values()):
        return paths
    return None


def newest_snapshot(mpistat_dir: str, volume: int, today: dt.date,
                    max_days_ago: int) -> Snapshot | None:
    """The newest snapshot of ``volume`` within ``max_days_ago`` days, if any."""
    for date in candidate_dates(today, max_days_ago):
        path = os.path.join(mpistat_dir, snapshot_filename(date, volume))
        if os.path.isfile(path):
            return open_snapshot(path, volume, date)
    return None
