"""Logging to stderr with timestamps, and periodic progress reports for long passes."""

from __future__ import annotations

import logging
import os
import sys
import time

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
SECRET_ENVIRONMENT = ("LURGE_DB_PASSWORD", "LURGE_LDAP_PASSWORD")
REDACTED = "***"
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never let ``value`` appear in log output or the scripts' messages."""
    if value:
        _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret (and the password variables' values) as ``***``."""
    secrets = set(_secrets)
    secrets.update(value for name in SECRET_ENVIRONMENT if (value := os.environ.get(name)))
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


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
    """Logs lines read and the rate at most every ``interval`` seconds."""

    def __init__(self, logger: logging.Logger, label: str, interval: float = 30.0) -> None:
        self.logger = logger
        self.label = label
        self.interval = interval
        self.lines = 0
        self.started = time.monotonic()
        self._last_report = self.started

    def advance(self, lines: int) -> None:
        """Count ``lines`` more; log if the interval has passed."""
        self.lines += lines
        now = time.monotonic()
        if now - self._last_report >= self.interval:
            self._last_report = now
            self.logger.info("%s: %s lines read (%s lines/s)", self.label, f"{self.lines:,}",
                             f"{self.rate(now):,.0f}")

    def rate(self, now: float | None = None) -> float:
        elapsed = (now or time.monotonic()) - self.started
        return self.lines / elapsed if elapsed > 0 else 0.0

    def finish(self) -> None:
        self.logger.info("%s: done, %s lines in %.1f s (%s lines/s)", self.label, f"{self.lines:,}",
                         time.monotonic() - self.started, f"{self.rate():,.0f}")
