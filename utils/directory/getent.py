"""``getent`` dumps of the group and passwd databases, written beside a split set.

getent runs without the suite's secrets in its environment.
"""

from __future__ import annotations

import os
import subprocess

from utils.common.errors import LurgeError
from utils.common.secrets import child_environment

GETENT_TIMEOUT = 60.0  # seconds per dump
_STDERR_SHOWN = 500  # characters of the command's stderr quoted in an error


def dump_getent(database: str, path: str, *, command: str = "getent",
                timeout: float = GETENT_TIMEOUT) -> int:
    """Write the stdout of ``<command> <database>`` to ``path`` (fsync'ed); returns its size.

    A missing command, a non-zero exit or a timeout raises :class:`LurgeError`
    naming the command.
    """
    shown = f"`{command} {database}`"
    with open(path, "wb") as out:
        try:
            finished = subprocess.run([command, database], stdout=out, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, timeout=timeout, check=False,
                                      env=child_environment())
        except FileNotFoundError:
            raise LurgeError(f"{shown} could not be run: {command} not found") from None
        except subprocess.TimeoutExpired:
            raise LurgeError(f"{shown} did not finish within {timeout:g} s") from None
        except OSError as exc:
            raise LurgeError(f"{shown} could not be run: {exc.strerror}") from None
        if finished.returncode != 0:
            detail = finished.stderr.decode(errors="replace").strip()[:_STDERR_SHOWN]
            raise LurgeError(f"{shown} failed with exit status {finished.returncode}"
                             + (f": {detail}" if detail else ""))
        out.flush()
        os.fsync(out.fileno())
        return out.tell()
