#!/usr/bin/env python3
"""Split the newest snapshots into one file per group and publish the set (docs/splitter.md).

    python group_splitter.py [--config F] [-o DIR] [--date DATE] [--id] [--no-upload]
                             [--delete-removed] [-v]

Writes ``<group>.dat.gz`` (``<gid>.dat.gz`` with ``--id``), ``index.txt``,
``groupfile`` and ``passwdfile`` into DIR (default ``[splitter] output_dir``),
replacing the previous set whole, then syncs DIR to ``s3://<bucket>/<prefix>``.
Each splitter volume's newest snapshot within ``[paths] max_days_ago`` is
read, or the one of ``--date``.  What the files hold: docs/outputs.md.
DIR must be new, empty, or a set this script wrote (it holds ``.lurge-split-set``).
"""

from __future__ import annotations

import sys

from utils.common.pyversion import require_python

require_python("group_splitter.py")

import argparse  # noqa: E402

from utils.common.cli import (EXIT_OK, add_common_arguments, make_parser, parse_date,  # noqa: E402
                              run_script)
from utils.common.config import load_config  # noqa: E402
from utils.directory.ldap import load_directory  # noqa: E402
from utils.snapshots.discovery import choose_snapshots  # noqa: E402
from utils.splitter.run import preflight, run_splitter  # noqa: E402

EPILOG = """\
examples:
  python group_splitter.py --config /etc/lurge.toml       the nightly run (what
                                                          group_splitter_cron.sh submits)
  python group_splitter.py --no-upload -o /tmp/groups     split only, into another folder
  python group_splitter.py --date 20240105 --no-upload    split that date's snapshots

outputs:
  DIR/<group>.dat.gz      each group's lines, byte for byte, in input order
  DIR/index.txt           build time and memory estimate per group file
  DIR/groupfile, DIR/passwdfile   `getent group` and `getent passwd`
  s3://<bucket>/<prefix>  DIR's files, unless --no-upload
"""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("group_splitter.py", __doc__.splitlines()[0], EPILOG)
    add_common_arguments(parser)
    parser.add_argument("-o", "--output-dir", metavar="DIR",
                        help="where the split set goes (default: [splitter] output_dir, "
                             "else <report_dir>/groups); it is replaced whole, so it must be new, "
                             "empty, or a set this script wrote")
    parser.add_argument("--date", type=parse_date, metavar="DATE",
                        help="split this date's snapshots (YYYYMMDD or YYYY-MM-DD) instead of "
                             "the newest")
    parser.add_argument("--id", dest="by_gid", action="store_true",
                        help="name the files by gid (<gid>.dat.gz) instead of group name")
    parser.add_argument("--no-upload", dest="upload", action="store_false",
                        help="do not sync the set to S3")
    parser.add_argument("--delete-removed", action="store_true",
                        help="delete objects under the S3 prefix that the set no longer has")
    return parser


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    out_dir = args.output_dir or config.splitter_output_dir
    preflight(config, out_dir, upload=args.upload, delete_removed=args.delete_removed)
    snapshots = choose_snapshots(config, date=args.date)
    directory = load_directory(config.ldap)
    run_splitter(config, directory, snapshots, out_dir,
                 by_gid=args.by_gid, upload=args.upload, delete_removed=args.delete_removed)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
