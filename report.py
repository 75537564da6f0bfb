#!/usr/bin/env python3
"""Usage report for one date from the given snapshot files, one per configured volume.

    python report.py [--config F] [--force] [--partial] DATE FILE...
    python report.py [--config F] --html-only DATE

DATE is the snapshot date (YYYY-MM-DD or YYYYMMDD); each FILE's name (or the
name of the file it links to) must match ``[paths] snapshot_pattern`` for
that date and a configured volume.  Loads the database rows for DATE, writes
the HTML page ``report-<YYYYMMDD>.html`` from them, then
``report-<YYYYMMDD>.tsv``; the rows and the TSV are each skipped when already
present unless ``--force``.  ``--html-only`` writes the page of DATE again from
the database alone.  Takes the report folder's run lock.  What every column
means: docs/outputs.md; the page: docs/html-report.md.
"""

from __future__ import annotations

import sys

from utils.common.pyversion import require_python

require_python("report.py")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402

from db.connection import connect  # noqa: E402
from db.migrate import ensure_schema  # noqa: E402
from utils.common.cli import (EXIT_OK, add_common_arguments, make_parser, parse_date,  # noqa: E402
                              run_script)
from utils.common.config import Config, load_config  # noqa: E402
from utils.common.errors import UsageError  # noqa: E402
from utils.common.folders import report_dir  # noqa: E402
from utils.common.locking import run_lock  # noqa: E402
from utils.report.publish_html import regenerate_html  # noqa: E402
from utils.report.run import run_report  # noqa: E402
from utils.snapshots.discovery import SnapshotPattern, unusable_reason  # noqa: E402

log = logging.getLogger("lurge.report")

EPILOG = """\
example:
  python report.py --config /etc/lurge.toml 2024-01-05 \\
      /data/mpistat/20240105_118.dat.gz /data/mpistat/20240105_119.dat.gz
  python report.py --config /etc/lurge.toml --html-only 2024-01-05

outputs:
  database  lustre_usage rows for DATE, in one transaction (skipped when already loaded)
  HTML      <report_dir>/report-output-files/report-<YYYYMMDD>.html, from the database's rows
            of DATE, written atomically before the TSV (a failed write fails the run)
  TSV       <report_dir>/report-output-files/report-<YYYYMMDD>.tsv, written last and atomically
  staging   <report_dir>/.lurge-staging/, private working files removed when the run ends
"""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("report.py", __doc__.splitlines()[0], EPILOG)
    add_common_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="replace the date's database rows and rewrite its TSV")
    parser.add_argument("--partial", action="store_true",
                        help="report only the volumes given, when some configured volume has no "
                             "file; the date then counts as reported (docs/recovery.md)")
    parser.add_argument("--html-only", action="store_true",
                        help="only write DATE's HTML page again, from the database (no FILE; "
                             "docs/html-report.md)")
    parser.add_argument("date", type=parse_date, metavar="DATE",
                        help="the snapshot date, YYYY-MM-DD or YYYYMMDD")
    parser.add_argument("files", nargs="*", metavar="FILE", help="snapshot files, one per volume")
    return parser


def snapshot_volumes(config: Config, date: dt.date, files: list[str], *,
                     partial: bool = False) -> dict[int, str]:
    """volume number -> file, from the file names; every refusal is a :class:`UsageError`."""
    pattern = SnapshotPattern(config.paths.snapshot_pattern)
    configured = [volume.number for volume in config.volumes]
    volumes: dict[int, str] = {}
    for path in files:
        reason = unusable_reason(path)
        if reason is not None:
            raise UsageError(f"{reason}; every FILE must be a snapshot file")
        parsed = (pattern.parse(os.path.basename(os.path.realpath(path)))
                  or pattern.parse(os.path.basename(path)))
        if parsed is None:
            raise UsageError(f"{path}: not a snapshot file name ([paths] snapshot_pattern is "
                             f"{pattern.text!r})")
        named_date, volume = parsed
        if named_date != date:
            raise UsageError(f"{path}: its name is of {named_date:%Y-%m-%d}, not {date:%Y-%m-%d}; "
                             "a report holds one date's snapshots only")
        if volume not in configured:
            raise UsageError(f"{path}: volume {volume} is not configured in {config.source}")
        if volume in volumes:
            raise UsageError(f"{path}: volume {volume} given twice (also {volumes[volume]})")
        volumes[volume] = path
    missing = [str(volume) for volume in configured if volume not in volumes]
    if missing and not partial:
        raise UsageError(f"no file given for volume(s) {', '.join(missing)} of {date:%Y-%m-%d}: "
                         "a date's report covers every configured volume; give them all, or "
                         "--partial to report only these (see docs/recovery.md)")
    if missing:
        log.warning("--partial: reporting %s without volume(s) %s; the date counts as reported",
                    date, ", ".join(missing))
    return volumes


def check_arguments(args: argparse.Namespace) -> None:
    """FILEs are needed for a report and refused with ``--html-only``."""
    if not args.html_only:
        if not args.files:
            raise UsageError("no FILE given: a report reads the date's snapshot files "
                             "(or use --html-only DATE to write its page from the database)")
        return
    extra = [name for name, given in (("FILE", args.files), ("--force", args.force),
                                      ("--partial", args.partial)) if given]
    if extra:
        raise UsageError(f"--html-only takes no {' or '.join(extra)}: it writes DATE's page from "
                         "the database alone")


def html_only(config: Config, date: dt.date) -> int:
    """Write the page of ``date`` from the database (no snapshot is read)."""
    with run_lock(report_dir(config)):
        with connect(config.database.url, timeout=config.database.timeout) as db:
            ensure_schema(db)
            path = regenerate_html(db, config, date)
    log.info("%s: page written from the database", path)
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    check_arguments(args)
    config = load_config(args.config)
    if args.html_only:
        return html_only(config, args.date)
    volumes = snapshot_volumes(config, args.date, args.files, partial=args.partial)
    with run_lock(report_dir(config)):
        outcome = run_report(config, args.date, volumes, force=args.force)
    if outcome.summary:
        log.info("%s %s", args.date, outcome.summary)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
