#!/usr/bin/env python3
"""Nightly driver: pick the newest complete snapshot set and run the stages (SPEC §6).

    python manager.py {report|inspector|both} [--config F] [--date YYYYMMDD] [--force] [--dry-run]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from utils.common.cli import EXIT_OK, add_common_arguments, run_script
from utils.common.config import load_config
from utils.common.locking import run_lock
from utils.manager.stages import MODES, choose_set, describe_plan, run_stages


def parse_compact_date(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYYMMDD form: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manager.py", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES, help="which stages to run")
    add_common_arguments(parser)
    parser.add_argument("--date", type=parse_compact_date, metavar="YYYYMMDD",
                        help="use this date's snapshot set instead of searching")
    parser.add_argument("--force", action="store_true",
                        help="redo every stage for the date (replace rows, rewrite the TSV)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would run and change nothing")
    return parser


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    today = dt.date.today()
    if args.dry_run:
        chosen = choose_set(config, args.mode, today, date=args.date, force=args.force)
        print("\n".join(describe_plan(config, args.mode, chosen, args.force)))
        return EXIT_OK
    with run_lock(config.paths.report_dir):
        chosen = choose_set(config, args.mode, today, date=args.date, force=args.force)
        if chosen is not None:
            run_stages(config, args.mode, chosen, args.force)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
