#!/usr/bin/env python3
"""Each pass on the dirty file against the same pass on the clean file, in one process.

    python bench/dirty_vs_clean.py [--lines N] [--rounds R] [PASS ...]

Uses the clean and dirty files of ``bench/run.py`` (generated here when
missing, as there).  For each pass (default: report, inspector, splitter) the
clean and the dirty file are passed in turn, R rounds, in alternating order
(clean first, then dirty first, ...), so that a slow spell of a shared host
hits both alike.  Prints, per pass, the median and quartiles over the rounds
of the clean run's time over the dirty run's, in wall and in CPU time (1.0:
the malformed lines cost nothing; the target is at least 0.9).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from passes import PASSES  # noqa: E402
from run import dirty_snapshot, snapshot  # noqa: E402

DEFAULT_PASSES = ("report", "inspector", "splitter")


def timed(name: str, path: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one pass over ``path``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    PASSES[name](path)
    return time.perf_counter() - started, time.process_time() - cpu_started


def spread(values: list[float]) -> str:
    low, _, high = statistics.quantiles(values, n=4)
    return f"{statistics.median(values):.3f}x ({low:.3f}-{high:.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("passes", nargs="*", metavar="PASS",
                        help=f"among {', '.join(sorted(PASSES))} "
                             f"(default: {' '.join(DEFAULT_PASSES)})")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the bench files")
    parser.add_argument("--rounds", type=int, default=12, help="clean/dirty pairs per pass")
    parser.add_argument("--data", default=os.path.join(HERE, "data"), help="generated inputs")
    args = parser.parse_args()
    unknown = sorted(set(args.passes) - set(PASSES))
    if unknown:
        parser.error(f"unknown passes: {', '.join(unknown)}")
    clean, dirty = snapshot(args.data, args.lines), dirty_snapshot(args.data, args.lines)
    logging.disable(logging.WARNING)  # the dirty file's "skipped N malformed lines"
    print("pass         clean/dirty wall: median (quartiles)  CPU: median (quartiles)")
    for pass_name in args.passes or DEFAULT_PASSES:
        timed(pass_name, clean), timed(pass_name, dirty)  # warm caches and imports
        walls, cpus = [], []
        for round_number in range(args.rounds):
            order = (clean, dirty) if round_number % 2 == 0 else (dirty, clean)
            times = {path: timed(pass_name, path) for path in order}
            walls.append(times[clean][0] / times[dirty][0])
            cpus.append(times[clean][1] / times[dirty][1])
        print(f"{pass_name:12s} {spread(walls):>36s}  {spread(cpus):>24s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
