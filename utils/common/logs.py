"""Logging to stderr with timestamps, secrets redacted, and periodic progress reports for long passes."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Callable

from utils.common.secrets import secret_values

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
REDACTED = "***"
# A registered secret (or a secret variable's value) this long is hidden wherever it
# appears.  A shorter one is hidden only where it stands as a credential (the two rules
# below): hiding every occurrence of a short word such as "report" would mangle ordinary
# text ("utils.***_run") and so give the password away.
MIN_SECRET_LENGTH = 8
_secrets: set[str] = set()

# scheme://user:PASSWORD@host — the password runs to the last "@" before a space or quote.
_URL_PASSWORD = re.compile(r"""([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'"]*:)[^\s'"]*(?=@)""")
_SECRET_KEY = r"[\w.-]*(?:password|passwd|secret|token)[\w.-]*"
_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s,;&)}\]'"]+)"""
# password=VALUE, AWS_SECRET_ACCESS_KEY = VALUE, ?token=VALUE
_ASSIGNED = re.compile(rf"(?i)(\b{_SECRET_KEY}\s*=\s*)({_VALUE})")
# 'password': 'VALUE' and "password": "VALUE" (a repr or JSON)
_QUOTED_KEY = re.compile(rf"""(?i)((["']){_SECRET_KEY}\2\s*:\s*)("[^"]*"|'[^']*')""")


def register_secret(value: str | None) -> None:
    """Never let ``value`` appear in log output or the scripts' messages."""
    if value:
        _secrets.add(value)


def _hidden(value: str) -> str:
    """``value`` replaced by ``***``, keeping its quotes."""
    if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
        return f"{value[0]}{REDACTED}{value[0]}"
    return REDACTED


def scrub(text: str) -> str:
    """``text`` with secrets redacted where they stand.

    Hidden: the password of every ``scheme://user:password@`` URL; the value of
    every ``...password=``, ``...secret=``, ``...token=`` field (and quoted
    ``'password': '...'`` pairs); and anywhere, every registered secret and
    secret variable's value of at least :data:`MIN_SECRET_LENGTH` characters.
    """
    secrets = {secret for secret in (*_secrets, *secret_values()) if len(secret) >= MIN_SECRET_LENGTH}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_PASSWORD.sub(lambda m: m[1] + REDACTED, text)
    text = _ASSIGNED.sub(lambda m: m[1] + _hidden(m[2]), text)
    return _QUOTED_KEY.sub(lambda m: m[1] + _hidden(m[3]), text)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output (message, traceback and all) never holds a secret."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(verbose: bool = False) -> None:
    """Send log records to stderr with timestamps (idempotent); secrets are scrubbed."""
    root = logging.getLogger()
    level = logging.DEBUG if verbose else logging.INFO
    root.setLevel(level)
    if not any(getattr(h, "_lurge", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ScrubbingFormatter(LOG_FORMAT))
        handler._lurge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3", "ldap3", "mysql.connector"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Progress:
    """Logs lines read, the rate and (when ``position`` is given) how much of the
    file is read and the time left, at most every ``interval`` seconds.

    ``position`` returns the fraction of the input consumed so far (0 to 1),
    e.g. the compressed bytes read over the file's size.
    """

    def __init__(self, logger: logging.Logger, label: str, interval: float = 30.0,
                 position: Callable[[], float] | None = None) -> None:
        self.logger = logger
        self.label = label
        self.interval = interval
        self.position = position
        self.lines = 0
        self.started = time.monotonic()
        self._last_report = self.started

    def advance(self, lines: int) -> None:
        """Count ``lines`` more; log if the interval has passed."""
        self.lines += lines
        now = time.monotonic()
        if now - self._last_report >= self.interval:
            self._last_report = now
            self.logger.info("%s", self.describe(now))

    def describe(self, now: float) -> str:
        """The progress line at time ``now`` (a ``time.monotonic()`` value)."""
        text = f"{self.label}: {self.lines:,} lines read ({self.rate(now):,.0f} lines/s)"
        if self.position is None:
            return text
        done = min(max(self.position(), 0.0), 1.0)
        text += f", {done:.0%} of the file"
        if done > 0:
            left = (now - self.started) * (1 - done) / done
            text += f", about {format_duration(left)} left"
        return text

    def rate(self, now: float | None = None) -> float:
        elapsed = (now or time.monotonic()) - self.started
        return self.lines / elapsed if elapsed > 0 else 0.0

    def finish(self) -> None:
        self.logger.info("%s: done, %s lines in %.1f s (%s lines/s)", self.label, f"{self.lines:,}",
                         time.monotonic() - self.started, f"{self.rate():,.0f}")


def format_duration(seconds: float) -> str:
    """``seconds`` as ``1h02m``, ``3m05s`` or ``12s``."""
    whole = max(int(round(seconds)), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
