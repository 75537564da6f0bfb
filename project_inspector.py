#!/usr/bin/env python3
"""Per-project directory breakdowns: sizes by file type, files, last modified (SPEC §3, §8).

    python project_inspector.py [--config F] [PATH] [--depth N] [--generic] [--noheader]
                                [--tosql] [--bytes] [--format tsv|table]

With PATH, only that tree (on its volume's newest snapshot) is printed.
Without it, every volume's configured ``inspect_roots`` are inspected and
printed, or with ``--tosql`` loaded into the database instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from utils.common.cli import EXIT_OK, add_common_arguments, run_script
from utils.common.config import Config, load_config
from utils.common.errors import UsageError
from utils.inspector.output import render_table, render_tsv
from utils.inspector.run import (InspectTask, check_database, configured_tasks, load_records,
                                 refuse_tosql_with_path, resolve_path, run_tasks, snapshot_for)
from utils.directory.ldap import load_directory


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="project_inspector.py",
                                     description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("path", nargs="?", metavar="PATH", help="inspect only this tree")
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


def build_tasks(config: Config, path: str | None, depth: int, today: dt.date) -> list[InspectTask]:
    directory = load_directory(config.ldap)
    if path is not None:
        volume, root = resolve_path(config, path)
        snapshot = snapshot_for(config, volume, today)
        return [InspectTask(volume, snapshot, (root,), depth, config.inspector.filetypes, directory)]
    snapshots = {v.number: snapshot_for(config, v, today) for v in config.volumes if v.inspect_roots}
    return configured_tasks(config, snapshots, depth, directory)


def main(args: argparse.Namespace) -> int:
    refuse_tosql_with_path(args.path, args.tosql)
    config = load_config(args.config)
    depth = config.inspector.depth if args.depth is None else args.depth
    if depth < 0:
        raise UsageError("--depth must not be negative")
    if args.tosql:
        check_database(config)
    tasks = build_tasks(config, args.path, depth, dt.date.today())
    records = run_tasks(tasks, config.paths.workers)
    if args.tosql:
        load_records(config, records, {task.volume.name: task.snapshot.date for task in tasks})
        return EXIT_OK
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
