"""The folders the configuration names must exist: a typo there is a configuration error.

lurge never creates ``[paths] mpistat_dir`` or ``[paths] report_dir`` itself:
a missing one most often means a mistyped path or an unmounted file system,
and creating it would hide that.
"""

from __future__ import annotations

import os

from utils.common.config import Config
from utils.common.errors import ConfigError, LurgeError


def existing_folder(config: Config, key: str, path: str) -> str:
    """``path`` (the value of ``[paths] key``) if it is a folder; else a :class:`ConfigError`."""
    if os.path.isdir(path):
        return path
    if os.path.lexists(path):
        what = "a dangling symbolic link" if os.path.islink(path) else "not a folder"
        raise ConfigError(f"{config.source}: [paths] {key} {path} is {what}")
    raise ConfigError(f"{config.source}: [paths] {key} {path} does not exist "
                      "(lurge does not create it: check the path, or create the folder)")


def snapshot_dir(config: Config) -> str:
    """``[paths] mpistat_dir``, checked to be a folder."""
    return existing_folder(config, "mpistat_dir", config.paths.mpistat_dir)


def report_dir(config: Config) -> str:
    """``[paths] report_dir``, checked to be a folder this user can write in."""
    path = existing_folder(config, "report_dir", config.paths.report_dir)
    if not os.access(path, os.W_OK | os.X_OK):
        raise LurgeError(f"cannot write in the report folder {path} ([paths] report_dir): "
                         "permission denied or a read-only file system")
    return path
