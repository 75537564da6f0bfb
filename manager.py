#!/usr/bin/env python3
"""Nightly driver: pick the newest complete snapshot set and run the stages not done for it.

    python manager.py {report|inspector|both} [--config F] [--date DATE] [--force] [--dry-run]

The set is the newest date within ``[paths] max_days_ago`` with a snapshot
of every configured volume (a newer, incomplete date gets a warning naming
what is missing).  The report is done for a date when its TSV exists and the
database holds its rows; the inspector when every volume with inspection
roots was loaded from that date.  Stages already done are skipped, so a run
that stopped half-way is finished by the next one.  Details:
docs/recovery.md.
"""

from __future__ import annotations

import sys

from utils.common.pyversion import require_python

require_python("manager.py")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402

from utils.common.cli import (EXIT_OK, add_common_arguments, make_parser, parse_date,  # noqa: E402
                              run_script)
from utils.common.config import load_config  # noqa: E402
from utils.common.folders import report_dir, snapshot_dir  # noqa: E402
from utils.common.locking import run_lock  # noqa: E402
from utils.manager.stages import MODES, choose_set, describe_plan, run_stages  # noqa: E402
from utils.manager.status import read_status  # noqa: E402

EPILOG = """\
examples:
  python manager.py both --config /etc/lurge.toml          the nightly run (what cron.sh submits)
  python manager.py both --dry-run                         what a run would do; changes nothing
  python manager.py report --date 2024-01-05 --force       redo that date's report

outputs:
  database                lustre_usage rows of the date; directory/file_size/inspection rows
  TSV                     <report_dir>/report-output-files/report-<YYYYMMDD>.tsv (written last)
  links                   <report_dir>/latest-<volume>.dat.gz -> the snapshots reported
  lock, staging           <report_dir>/.lurge.lock, <report_dir>/.lurge-staging/ (private)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("manager.py", __doc__.splitlines()[0], EPILOG)
    parser.add_argument("mode", choices=MODES, help="which stages to run")
    add_common_arguments(parser)
    parser.add_argument("--date", type=parse_date, metavar="DATE",
                        help="use this date's snapshot set (YYYYMMDD or YYYY-MM-DD) "
                             "instead of searching")
    parser.add_argument("--force", action="store_true",
                        help="redo every stage for the date (replace rows, rewrite the TSV)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would run, checking what a real run checks, and change "
                             "nothing")
    return parser


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    reports = report_dir(config)
    snapshot_dir(config)
    today = dt.date.today()
    if args.dry_run:
        chosen = choose_set(config, today, date=args.date)
        status = read_status(config, chosen.date, dry_run=True)
        print("\n".join(describe_plan(config, args.mode, chosen, status, args.force)))
        return EXIT_OK
    with run_lock(reports):
        chosen = choose_set(config, today, date=args.date)
        run_stages(config, args.mode, chosen, read_status(config, chosen.date), args.force)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
