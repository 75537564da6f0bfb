"""Where a split set may go: only to a folder that is lurge's own.

The splitter replaces its output folder whole, so it must never be pointed at
anything else.  A folder is lurge's own when it does not exist yet, is empty,
or holds the marker file :data:`SET_MARKER`, which the splitter writes into
every set it builds.  Anything else — a folder with other content, a file,
the current folder, the snapshot folder, the report folder or a folder that
holds one of those — is refused before anything is written.

A symbolic link given as the output folder is followed: the folder it points
to is checked, and replaced, while the link itself stays.
"""

from __future__ import annotations

import os
import stat
from typing import Mapping

from utils.common.config import Config
from utils.common.errors import UsageError
from utils.splitter.dirswap import private_opener

SET_MARKER = ".lurge-split-set"
MARKER_TEXT = ("This folder is a split set written by lurge's group_splitter.py.\n"
               "The next run replaces the whole folder; keep nothing else here.\n")
_NAMES_SHOWN = 5


def protected_folders(config: Config) -> dict[str, str]:
    """What an output folder may neither be nor hold: description -> real path."""
    return {
        "the current folder": os.path.realpath(os.getcwd()),
        "the snapshot folder ([paths] mpistat_dir)": os.path.realpath(config.paths.mpistat_dir),
        "the report folder ([paths] report_dir)": os.path.realpath(config.paths.report_dir),
    }


def check_output_dir(out_dir: str, protected: Mapping[str, str]) -> str:
    """The real path of ``out_dir`` when the splitter may replace it; else :class:`UsageError`."""
    target = os.path.realpath(out_dir)
    shown = out_dir if target == out_dir else f"{out_dir} (that is, {target})"

    def refuse(why: str) -> UsageError:
        return UsageError(f"refusing to write the split set to {shown}: {why}; it is left untouched "
                          "(see docs/splitter.md)")

    if os.path.lexists(out_dir) and not os.path.exists(out_dir):
        raise refuse("it is a symbolic link to nothing (create the folder it should point to)")

    for what, path in protected.items():
        if target == path:
            raise refuse(f"it is {what}")
        if path.startswith(target.rstrip("/") + "/"):
            raise refuse(f"it holds {what}, {path}")
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise refuse(f"it cannot be examined ({exc.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise refuse("it is not a folder")
    try:
        names = sorted(os.listdir(target))
    except OSError as exc:
        raise refuse(f"its content cannot be listed ({exc.strerror})") from None
    if not names or _has_marker(target):
        return target
    listed = ", ".join(names[:_NAMES_SHOWN]) + (", …" if len(names) > _NAMES_SHOWN else "")
    raise refuse(f"it holds other things ({listed}) and no {SET_MARKER} marker, so it is not a set "
                 f"lurge made; choose an empty or new folder, or, if it is a set made by an earlier "
                 f"version of lurge, mark it with: touch {os.path.join(target, SET_MARKER)}")


def _has_marker(folder: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(os.path.join(folder, SET_MARKER)).st_mode)
    except OSError:
        return False


def write_marker(build: str) -> None:
    """Write :data:`SET_MARKER` into a set being built (privately, like its other files)."""
    with open(os.path.join(build, SET_MARKER), "w", encoding="ascii", opener=private_opener) as handle:
        handle.write(MARKER_TEXT)
