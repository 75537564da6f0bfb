#!/usr/bin/env python3
"""Per-project directory breakdowns: sizes by file type, files, last modified.

    python project_inspector.py [--config F] [PATH] [--date DATE] [--depth N] [--generic]
                                [--noheader] [--tosql] [--bytes] [--format tsv|table]

With PATH (a configured inspection root or a folder under one), only that
tree is printed.  Without it, every volume's ``inspect_roots`` are inspected
and printed, or with ``--tosql`` loaded into the database instead (under the
report folder's run lock).  Each volume's newest snapshot within
``[paths] max_days_ago`` is read, or the one of ``--date``.  What the columns
mean: docs/outputs.md.
"""

from __future__ import annotations

import sys

from utils.common.pyversion import require_python

require_python("project_inspector.py")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime as dt  # noqa: E402
import logging  # noqa: E402

from utils.common.cli import (EXIT_OK, add_common_arguments, make_parser, parse_date,  # noqa: E402
                              run_script)
from utils.common.config import Config, load_config  # noqa: E402
from utils.common.errors import UsageError  # noqa: E402
from utils.common.folders import report_dir  # noqa: E402
from utils.common.locking import run_lock  # noqa: E402
from utils.directory.ldap import load_directory  # noqa: E402
from utils.inspector.output import render_table, render_tsv  # noqa: E402
from utils.inspector.run import (check_database, configured_tasks, load_records,  # noqa: E402
                                 refuse_tosql_with_path, resolve_path, run_tasks)
from utils.inspector.worker import InspectTask  # noqa: E402
from utils.snapshots.discovery import choose_snapshots  # noqa: E402

log = logging.getLogger("lurge.inspector")

EPILOG = """\
examples:
  python project_inspector.py /lustre/scratch118/humgen/projects/p1 --format table
  python project_inspector.py --date 20240105 --bytes > projects-20240105.tsv
  python project_inspector.py --tosql                  load every configured root (nightly)

outputs:
  stdout    one row per project directory (TSV with a header, or a table on a terminal)
  --tosql   the database's directory/file_size rows of the inspected volumes, replaced in
            one transaction, and inspection.snapshot_date of each volume
"""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("project_inspector.py", __doc__.splitlines()[0], EPILOG)
    add_common_arguments(parser)
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="inspect only this tree (a configured root or under one)")
    parser.add_argument("--date", type=parse_date, metavar="DATE",
                        help="read this date's snapshots (YYYYMMDD or YYYY-MM-DD) instead of the "
                             "newest")
    parser.add_argument("--depth", type=int, help="levels below the root (default: [inspector] depth)")
    parser.add_argument("--generic", action="store_true",
                        help="one Directory column instead of Project/Directory/PI/group/volume")
    parser.add_argument("--noheader", action="store_true", help="omit the header line")
    parser.add_argument("--tosql", action="store_true",
                        help="replace the configured volumes' rows in the database")
    parser.add_argument("--bytes", action="store_true", help="exact byte counts, not KiB/MiB/…")
    parser.add_argument("--format", choices=("tsv", "table"),
                        help="output format (default: table on a terminal, tsv otherwise)")
    return parser


def build_tasks(config: Config, path: str | None, depth: int, today: dt.date,
                date: dt.date | None = None) -> list[InspectTask]:
    if path is not None:
        volume, root = resolve_path(config, path)
        snapshot, = choose_snapshots(config, [volume], today, date=date)
        directory = load_directory(config.ldap)
        return [InspectTask(volume, snapshot, (root,), depth, config.inspector.filetypes, directory)]
    with_roots = [volume for volume in config.volumes if volume.inspect_roots]
    snapshots = choose_snapshots(config, with_roots, today, date=date)
    return configured_tasks(config, {snapshot.volume: snapshot for snapshot in snapshots}, depth,
                            load_directory(config.ldap))


def main(args: argparse.Namespace) -> int:
    refuse_tosql_with_path(args.path, args.tosql)
    config = load_config(args.config)
    depth = config.inspector.depth if args.depth is None else args.depth
    if depth < 0:
        raise UsageError("--depth must not be negative")
    lock = run_lock(report_dir(config)) if args.tosql else contextlib.nullcontext()
    with lock:
        if args.tosql:
            check_database(config)
        tasks = build_tasks(config, args.path, depth, dt.date.today(), args.date)
        records = run_tasks(tasks, config.paths.workers)
        if args.tosql:
            load_records(config, records, {task.volume.name: task.snapshot.date for task in tasks})
            return EXIT_OK
    if args.path is not None and not any(records.values()):
        log.warning("nothing under %s in %s (the snapshot of %s): no entry there, or a mistyped "
                    "path", args.path, tasks[0].snapshot.path, tasks[0].snapshot.date)
    ordered = [record for name in sorted(records) for record in records[name]]
    filetypes = list(config.inspector.filetypes)
    options = dict(generic=args.generic, exact_bytes=args.bytes, header=not args.noheader)
    output_format = args.format or ("table" if sys.stdout.isatty() else "tsv")
    if output_format == "tsv":
        sys.stdout.buffer.write(render_tsv(ordered, filetypes, **options))
    else:
        sys.stdout.write(render_table(ordered, filetypes, **options))
    sys.stdout.flush()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_script(build_parser(), main))
