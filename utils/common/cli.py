"""What every script's ``main`` shares: logging setup and error → exit status."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from utils.common.errors import LurgeError, UsageError
from utils.common.logs import scrub, setup_logging

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

log = logging.getLogger("lurge")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--verbose``, accepted by every script."""
    parser.add_argument("--config", metavar="F",
                        help="configuration file (default: $LURGE_CONFIG, then ./lurge.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")


def run_script(parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
               argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run ``body`` and turn its failures into exit statuses.

    A :class:`UsageError` (bad usage or configuration) exits 2, any other
    :class:`LurgeError` exits 1; both print one clear line on stderr.  An
    unexpected exception is logged with its traceback and exits 1.
    """
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", False))
    try:
        return body(args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except LurgeError as exc:
        log.error("%s", exc)
        print(f"{parser.prog}: failed: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug or an unforeseen failure: traceback in the log, secrets scrubbed
        log.exception("unexpected error")
        print(f"{parser.prog}: failed: unexpected error: {scrub(f'{type(exc).__name__}: {exc}')}",
              file=sys.stderr)
        return EXIT_FAILED
