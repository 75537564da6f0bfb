"""Finding snapshot files by ``[paths] snapshot_pattern``: names, dates and snapshot times.

A pattern names one volume's file for one date: ``{date}`` stands for
YYYYMMDD, ``{volume}`` for the volume number, and the rest is a glob (``*``,
``?``, ``[...]``) — ``{date}_{volume}.dat.gz`` for mpistat (the default),
``{date}_scratch{volume}.*.*.stats.gz`` for wrstat.  A wildcard next to a
placeholder never takes its digits, so ``{date}_{volume}*`` does not read
``20240101_118x`` as volume 11.  When several files match one (date, volume),
the one with the newest modification time is used and a warning names the
others.  A match that is a folder, a dangling link or unreadable is not a
snapshot; it is named wherever the missing snapshot is reported.  See
docs/configuration.md and docs/snapshots.md.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import re
import stat
from dataclasses import dataclass
from typing import Iterable, Sequence

from utils.common.config import DEFAULT_MAX_MALFORMED_FRACTION, Config, VolumeConfig
from utils.common.errors import LurgeError, SnapshotError
from utils.common.folders import snapshot_dir

log = logging.getLogger(__name__)

DEFAULT_PATTERN = "{date}_{volume}.dat.gz"
_TOKEN = re.compile(r"\{date\}|\{volume\}|\*|\?|\[!?\]?[^\]]*\]|.", re.DOTALL)
_WILDCARDS = ("*", "?", "[")


@dataclass(frozen=True)
class Snapshot:
    """One snapshot file: volume number, date from its name, and snapshot time."""

    path: str
    volume: int
    date: dt.date
    time: float  # st_mtime: later timestamps are clock skew
    # more malformed lines than this fraction of the file's lines: a failed snapshot
    max_malformed_fraction: float = DEFAULT_MAX_MALFORMED_FRACTION


def _token_regex(token: str) -> str:
    """The regex of one pattern token other than a placeholder."""
    if token == "*":
        return ".*"
    if token == "?":
        return "."
    if token.startswith("[") and len(token) > 2:  # a class: [abc], [!abc], []abc]
        negate = token.startswith("[!")
        body = token[2 if negate else 1:-1].replace("\\", "\\\\").replace("[", "\\[")
        if body.startswith("^"):
            body = "\\" + body
        body = body[:1] + body[1:].replace("]", "\\]")
        return "[" + ("^" if negate else "") + body + "]"
    return re.escape(token)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching whole file names of ``pattern``, with groups ``date`` and ``volume``."""
    tokens = _TOKEN.findall(pattern)
    parts = []
    for index, token in enumerate(tokens):
        if token in ("{date}", "{volume}"):
            digits = "[0-9]{8}" if token == "{date}" else "[0-9]+"
            before = tokens[index - 1] if index else ""
            after = tokens[index + 1] if index + 1 < len(tokens) else ""
            guard_before = "(?<![0-9])" if before.startswith(_WILDCARDS) else ""
            guard_after = "(?![0-9])" if after.startswith(_WILDCARDS) else ""
            parts.append(f"{guard_before}(?P<{token[1:-1]}>{digits}){guard_after}")
        else:
            parts.append(_token_regex(token))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


class SnapshotPattern:
    """``[paths] snapshot_pattern``, compiled: reads dates and volumes out of file names."""

    def __init__(self, text: str = DEFAULT_PATTERN) -> None:
        self.text = text
        self._regex = pattern_regex(text)

    def parse(self, name: str) -> tuple[dt.date, int] | None:
        """(date, volume) of a file name, or None when it is not a snapshot name."""
        match = self._regex.match(name)
        if match is None:
            return None
        try:
            date = dt.datetime.strptime(match.group("date"), "%Y%m%d").date()
        except ValueError:  # e.g. month 13: not a date, so not a snapshot name
            return None
        return date, int(match.group("volume"))

    def glob(self, date: dt.date, volume: int) -> str:
        """The pattern with the placeholders filled in (what a missing file would match)."""
        return self.text.replace("{date}", f"{date:%Y%m%d}").replace("{volume}", str(volume))

    def __repr__(self) -> str:
        return f"SnapshotPattern({self.text!r})"


def snapshot_filename(date: dt.date, volume: int) -> str:
    """``YYYYMMDD_<vol>.dat.gz``: the name mpistat (and the default pattern) gives a snapshot."""
    return f"{date:%Y%m%d}_{volume}.dat.gz"


def parse_snapshot_filename(name: str, pattern: str = DEFAULT_PATTERN) -> tuple[dt.date, int] | None:
    """(date, volume) of a snapshot file name, or None if it is not one."""
    return SnapshotPattern(pattern).parse(name)


def unusable_reason(path: str) -> str | None:
    """Why ``path`` cannot be a snapshot (a folder, a dangling link…), or None when it can."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"{path} is a dangling symbolic link (to {os.readlink(path)})"
        return f"{path} does not exist"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not a snapshot file"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    return None


def open_snapshot(path: str, volume: int | None = None, date: dt.date | None = None,
                  pattern: str = DEFAULT_PATTERN,
                  max_malformed_fraction: float = DEFAULT_MAX_MALFORMED_FRACTION) -> Snapshot:
    """Describe the snapshot at ``path``; volume and date default to its name's.

    The name is that of the file a link points to, else the link's own.
    """
    if volume is None or date is None:
        named = SnapshotPattern(pattern)
        parsed = (named.parse(os.path.basename(os.path.realpath(path)))
                  or named.parse(os.path.basename(path)))
        if parsed is None:
            raise SnapshotError(f"{path}: not a snapshot name (expected {pattern})")
        date = date or parsed[0]
        volume = parsed[1] if volume is None else volume
    try:
        snapshot_time = os.stat(path).st_mtime
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot stat snapshot: {exc.strerror}") from None
    return Snapshot(path=path, volume=volume, date=date, time=snapshot_time,
                    max_malformed_fraction=max_malformed_fraction)


def candidate_dates(today: dt.date, max_days_ago: int) -> list[dt.date]:
    """today, yesterday, … — ``max_days_ago`` dates, newest first."""
    return [today - dt.timedelta(days=days) for days in range(max_days_ago)]


class SnapshotFolder:
    """The snapshot files of one folder, matched once against the pattern.

    :meth:`snapshot` picks the file of a (date, volume); :meth:`missing`
    says why there is none.  The folder is listed when the object is made.
    """

    def __init__(self, directory: str, pattern: str = DEFAULT_PATTERN,
                 max_malformed_fraction: float = DEFAULT_MAX_MALFORMED_FRACTION) -> None:
        self.directory = directory
        self.max_malformed_fraction = max_malformed_fraction
        self.pattern = SnapshotPattern(pattern)
        self._matches: dict[tuple[dt.date, int], list[str]] = collections.defaultdict(list)
        self._chosen: dict[tuple[dt.date, int], Snapshot | None] = {}
        self._problems: dict[tuple[dt.date, int], list[str]] = {}
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise LurgeError(f"cannot list the snapshot folder {directory}: "
                             f"{exc.strerror or exc}") from None
        for name in names:
            parsed = self.pattern.parse(name)
            if parsed is not None:
                self._matches[parsed].append(os.path.join(directory, name))

    def dates(self) -> set[dt.date]:
        """Every date at least one file name of the folder stands for."""
        return {date for date, _ in self._matches}

    def has_any(self, date: dt.date, volumes: Iterable[int]) -> bool:
        """Whether some file name stands for ``date`` and one of ``volumes``."""
        return any((date, volume) in self._matches for volume in volumes)

    def snapshot(self, date: dt.date, volume: int) -> Snapshot | None:
        """The snapshot of ``volume`` for ``date``: the usable match with the newest mtime."""
        key = (date, volume)
        if key not in self._chosen:
            self._chosen[key] = self._choose(key)
        return self._chosen[key]

    def _choose(self, key: tuple[dt.date, int]) -> Snapshot | None:
        usable: list[tuple[float, str]] = []
        problems = []
        for path in self._matches.get(key, ()):
            reason = unusable_reason(path)
            if reason is None:
                try:
                    usable.append((os.stat(path).st_mtime, path))
                    continue
                except OSError as exc:  # removed since it was checked
                    reason = f"{path} cannot be read: {exc.strerror}"
            problems.append(reason)
        self._problems[key] = problems
        for reason in problems:
            log.warning("volume %d, %s: %s; ignored", key[1], key[0], reason)
        if not usable:
            return None
        mtime, path = max(usable)
        if len(usable) > 1:
            others = [other for _, other in sorted(usable) if other != path]
            log.warning("volume %d, %s: %d files match %s; using %s (the newest), ignoring %s",
                        key[1], key[0], len(usable), self.pattern.glob(*key), path,
                        ", ".join(others))
        return Snapshot(path=path, volume=key[1], date=key[0], time=mtime,
                        max_malformed_fraction=self.max_malformed_fraction)

    def problems(self, date: dt.date, volume: int) -> list[str]:
        """Why files matching ``volume`` and ``date`` were not used (folders, dangling links…)."""
        self.snapshot(date, volume)
        return list(self._problems[(date, volume)])

    def missing(self, date: dt.date, volume: int) -> str:
        """Why there is no snapshot of ``volume`` for ``date``."""
        problems = self.problems(date, volume)
        if problems:
            return f"volume {volume}: " + "; ".join(problems)
        return (f"volume {volume}: no file matching {self.pattern.glob(date, volume)} "
                f"in {self.directory}")

    def complete_set(self, date: dt.date, volumes: Sequence[int]) -> dict[int, Snapshot] | None:
        """Every volume's snapshot for ``date``, or None when one is missing."""
        found = {volume: self.snapshot(date, volume) for volume in volumes}
        if any(snapshot is None for snapshot in found.values()):
            return None
        return found  # type: ignore[return-value]

    def newest(self, volume: int, dates: Sequence[dt.date]) -> Snapshot | None:
        """The snapshot of ``volume`` for the first of ``dates`` that has one."""
        for date in dates:
            snapshot = self.snapshot(date, volume)
            if snapshot is not None:
                return snapshot
        return None


def snapshot_folder(config: Config) -> SnapshotFolder:
    """The configured snapshot folder (it must exist), listed with the configured pattern."""
    return SnapshotFolder(snapshot_dir(config), config.paths.snapshot_pattern,
                          config.paths.max_malformed_fraction)


def complete_set(mpistat_dir: str, volumes: Sequence[int], date: dt.date,
                 pattern: str = DEFAULT_PATTERN) -> dict[int, str] | None:
    """The snapshot paths of ``date`` if every volume has one, else None."""
    found = SnapshotFolder(mpistat_dir, pattern).complete_set(date, volumes)
    return None if found is None else {volume: s.path for volume, s in found.items()}


def newest_snapshot(mpistat_dir: str, volume: int, today: dt.date, max_days_ago: int,
                    pattern: str = DEFAULT_PATTERN) -> Snapshot | None:
    """The newest snapshot of ``volume`` within ``max_days_ago`` days, if any."""
    return SnapshotFolder(mpistat_dir, pattern).newest(volume, candidate_dates(today, max_days_ago))


def latest_snapshots(folder: SnapshotFolder, volumes: Sequence[int], today: dt.date,
                     max_days_ago: int, date: dt.date | None = None) -> dict[int, Snapshot]:
    """Each volume's newest snapshot within ``max_days_ago`` days, or ``date``'s when given.

    Warns when a volume's newest snapshot is not today's; a volume without a
    snapshot is an error naming every such volume (and any unusable file).
    """
    dates = [date] if date is not None else candidate_dates(today, max_days_ago)
    chosen: dict[int, Snapshot] = {}
    missing: list[int] = []
    for volume in volumes:
        snapshot = folder.newest(volume, dates)
        if snapshot is None:
            missing.append(volume)
            continue
        if date is None and snapshot.date != today:
            log.warning("volume %d: the newest snapshot is %s, from %s (%d days ago), not today's",
                        volume, snapshot.path, snapshot.date, (today - snapshot.date).days)
        chosen[volume] = snapshot
    if missing:
        when = (f"for {date:%Y%m%d}" if date is not None
                else f"within the last {max_days_ago} days")
        reasons = "; ".join(_missing_reason(folder, dates, volume) for volume in missing)
        raise LurgeError(f"no snapshot {when} in {folder.directory} for volume(s) "
                         f"{', '.join(map(str, missing))} ({reasons})")
    return chosen


def choose_snapshots(config: Config, volumes: Sequence[VolumeConfig] | None = None,
                     today: dt.date | None = None, *, date: dt.date | None = None) -> list[Snapshot]:
    """Each volume's newest snapshot within ``max_days_ago`` days, or ``date``'s, in order.

    ``volumes`` defaults to the splitter's; see :func:`latest_snapshots`.
    """
    volumes = config.splitter_volumes if volumes is None else volumes
    found = latest_snapshots(snapshot_folder(config), [volume.number for volume in volumes],
                             today or dt.date.today(), config.paths.max_days_ago, date)
    return [found[volume.number] for volume in volumes]


def _missing_reason(folder: SnapshotFolder, dates: Sequence[dt.date], volume: int) -> str:
    """The unusable files of ``volume`` on ``dates``, else the pattern it needs."""
    problems = [folder.missing(date, volume) for date in dates if folder.problems(date, volume)]
    if problems:
        return "; ".join(problems)
    return f"volume {volume}: no file matching {folder.pattern.glob(dates[0], volume)}" + (
        " or an earlier date's" if len(dates) > 1 else "")

