"""What every script's ``main`` shares: its parser, dates, logging, stop signals and exit statuses.

A run ends in exactly one of these ways, each with at most one line on stderr:

- 0: done, or nothing to do;
- 1: failed (``<script>: failed: <why>``);
- 2: bad usage or configuration (``<script>: error: <why>``);
- 130 / 143: stopped by Ctrl-C (SIGINT) / SIGTERM, which LSF's ``bkill``
  sends (``<script>: stopped by SIGTERM; …``).  A stop is handled like
  Ctrl-C: the work in progress is abandoned, temporary files are removed and
  nothing half-done is published.

Tracebacks of unexpected errors are logged only with ``-v``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import logging
import os
import re
import signal
import sys
import textwrap
from typing import Callable, Iterator, Sequence

from utils.common.errors import LurgeError, UsageError
from utils.common.logs import scrub, setup_logging

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_SECONDS = 30  # clean-up time allowed after a stop signal
# Set by the cron wrappers: parse the arguments, then exit 0 without running anything.
CHECK_ARGUMENTS_ENV = "LURGE_CHECK_ARGUMENTS"

EXIT_STATUS_HELP = """\
exit status:
  0    done, or nothing to do
  1    failed (one line on stderr says why)
  2    bad usage or configuration
  130  stopped by Ctrl-C (SIGINT)
  143  stopped by SIGTERM (what LSF's bkill sends); a stopped run publishes nothing half-done

Configuration: --config F, else $LURGE_CONFIG, else ./lurge.toml (see lurge.example.toml
and docs/configuration.md).  What to do after a failure: docs/recovery.md."""

_DATE = re.compile(r"(\d{4})(-?)(\d{2})\2(\d{2})")

log = logging.getLogger("lurge")


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the run stops as it would on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


def parse_date(text: str) -> dt.date:
    """A date written YYYYMMDD or YYYY-MM-DD (an argparse ``type``)."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (write YYYYMMDD or YYYY-MM-DD)")
    try:
        return dt.date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: {exc}") from None


def make_parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A parser whose help ends with ``epilog`` (examples, outputs) and the exit statuses."""
    return argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(epilog).strip() + "\n\n" + EXIT_STATUS_HELP)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--verbose``, accepted by every script."""
    parser.add_argument("--config", metavar="F",
                        help="configuration file (default: $LURGE_CONFIG, then ./lurge.toml)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log debug messages (in every process, workers included)")


def _stop(signum: int, frame: object) -> None:
    """Turn the first stop signal into :class:`Stopped`; later ones are ignored during cleanup.

    The clean-up gets :data:`STOP_GRACE_SECONDS`; should it hang (an
    exception raised at an unlucky moment can leave a lock taken), the
    process ends anyway and the next run removes what is left.
    """
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, functools.partial(_give_up, signum))
    signal.alarm(STOP_GRACE_SECONDS)
    raise Stopped(signum)


def _give_up(signum: int, alarm: int, frame: object) -> None:
    """The clean-up after a stop did not finish in time: end the process now."""
    name = signal.Signals(signum).name
    os.write(2, (f"{os.path.basename(sys.argv[0])}: stopped by {name}; the clean-up took longer "
                 f"than {STOP_GRACE_SECONDS} s, so it ends now (the next run removes what is "
                 "left, see docs/recovery.md)\n").encode())
    os._exit(128 + signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Stopped` in the main thread for the block.

    After a stop, both stay ignored: ``bkill`` sends SIGINT, then SIGTERM a
    moment later, and the second must not cut the clean-up or the exit short.
    """
    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _stop:
                signal.signal(signum, handler)


def run_script(parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
               argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run ``body`` and turn its outcome into an exit status (see the module)."""
    args = parser.parse_args(argv)
    if os.environ.get(CHECK_ARGUMENTS_ENV) == "1":
        return EXIT_OK
    setup_logging(getattr(args, "verbose", False))
    prog = parser.prog
    try:
        with stop_signals():
            return body(args)
    except Stopped as exc:
        signal.alarm(0)  # the clean-up finished
        return _stopped(prog, exc.signal_name, exc.signum)
    except KeyboardInterrupt:
        return _stopped(prog, "SIGINT", signal.SIGINT)
    except UsageError as exc:
        print(f"{prog}: error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except LurgeError as exc:
        print(f"{prog}: failed: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # the file system said no: name the file
        log.debug("traceback", exc_info=True)
        print(f"{prog}: failed: {scrub(describe_os_error(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug or an unforeseen failure: the traceback only with -v
        log.debug("unexpected error", exc_info=True)
        hint = "" if log.isEnabledFor(logging.DEBUG) else " (run with -v for the traceback)"
        print(f"{prog}: failed: unexpected error: {scrub(f'{type(exc).__name__}: {exc}')}{hint}",
              file=sys.stderr)
        return EXIT_FAILED


def describe_os_error(exc: OSError) -> str:
    """``<file>: <reason>`` for an error from the file system."""
    reason = exc.strerror or str(exc)
    names = [name for name in (exc.filename, exc.filename2) if name is not None]
    if names:
        return f"{' -> '.join(map(str, names))}: {reason}"
    return reason


def _stopped(prog: str, name: str, signum: int) -> int:
    print(f"{prog}: stopped by {name}; nothing half-done was published "
          "(the next run starts again, see docs/recovery.md)", file=sys.stderr)
    return 128 + signum
