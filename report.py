#!/usr/bin/env python3
"""Usage report for one date from the given snapshot files (SPEC §2, §8).

    python report.py [--config F] [--force] YYYY-MM-DD FILE...

Each FILE is ``<YYYYMMDD>_<vol>.dat.gz`` (or a symlink to one) of a
configured volume.  Loads the database rows for the date and writes
``report-<YYYYMMDD>.tsv``; each is skipped when already present unless
``--force``.  Takes the report directory's run lock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from utils.common.cli import EXIT_OK, add_common_arguments, run_script
from utils.common.config import load_config
from utils.common.errors import UsageError
from utils.common.locking import run_lock
from utils.snapshots.discovery import parse_snapshot_filename
from utils.report.run import run_report


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="report.py", description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="replace the date's database rows and rewrite its TSV")
    parser.add_argument("date", type=parse_date, help="record date, YYYY-MM-DD")
    parser.add_argument("files", nargs="+", metavar="FILE", help="snapshot files, one per volume")
    return parser


def snapshot_volumes(files: list[str]) -> dict[int, str]:
    """volume number -> file, from the (resolved) file names."""
    volumes: dict[int, str] = {}
    for path in files:
        parsed = parse_snapshot_filename(os.path.basename(os.path.realpath(path)))
        if parsed is None:
            raise UsageError(f"{path}: not a snapshot file name (YYYYMMDD_<volume>.dat.gz)")
        if parsed[1] in volumes:
            raise UsageError(f"{path}: volume {parsed[1]} given twice")
        volumes[parsed[1]] = path
    return volumes


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    volumes = snapshot_volumes(args.files)
    with run_lock(config.paths.report_dir):
        run_report(config, args.date, volumes, force=args.force)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
