#!/usr/bin/env python3
"""Split the newest snapshots into one file per group and publish the set (docs/splitter.md).

    python group_splitter.py [--config F] [-o DIR] [--id] [--no-upload] [--delete-removed] [-v]

Writes ``<group>.dat.gz`` (``<gid>.dat.gz`` with ``--id``), ``index.txt``,
``groupfile`` and ``passwdfile`` into DIR (default ``[splitter] output_dir``),
replacing the previous set whole, then syncs DIR to ``s3://<bucket>/<prefix>``.
DIR must be new, empty, or a set this script wrote (it holds ``.lurge-split-set``).
"""

from __future__ import annotations

import argparse
import sys

from utils.common.cli import EXIT_OK, add_common_arguments, run_script
from utils.common.config import load_config
from utils.directory.ldap import load_directory
from utils.splitter.run import preflight, run_splitter
from utils.splitter.split import choose_snapshots


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="group_splitter.py", description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("-o", "--output-dir", metavar="DIR",
                        help="where the split set goes (default: [splitter] output_dir, "
                             "else <report_dir>/groups); it is replaced whole, so it must be new, "
                             "empty, or a set this script wrote")
    parser.add_argument("--id", dest="by_gid", action="store_true",
                        help="name the files by gid (<gid>.dat.gz) instead of group name")
    parser.add_argument("--no-upload", dest="upload", action="store_false",
                        help="do not sync the set to S3")
    parser.add_argument("--delete-removed", action="store_true",
                        help="delete objects under the S3 prefix that the set no longer has "
                             "(not with --no-upload)")
    return parser


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    out_dir = args.output_dir or config.splitter_output_dir
    preflight(config, out_dir, upload=args.upload, delete_removed=args.delete_removed)
    snapshots = choose_snapshots(config)
    directory = load_directory(config.ldap)
    run_splitter(config, directory, snapshots, out_dir,
                 by_gid=args.by_gid, upload=args.upload, delete_removed=args.delete_removed)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
