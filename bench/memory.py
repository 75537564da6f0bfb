#!/usr/bin/env python3
"""Peak memory of every pass on the two hostile snapshots of docs/snapshots.md.

    python bench/memory.py [--data DIR] [--scale S]

Writes (once, streaming, under bench/data/) a snapshot that is one line of
1 GiB without a newline and one that is 256 MiB of newlines (``--scale``
divides both sizes, for a quick look), then runs the report, inspector and
splitter passes on each in a fresh process (bench/passes.py) and prints each
one's peak RSS and how it ended.  Both must end as failed snapshots with a
peak RSS under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from utils.snapshots.compression import open_gzip_writer  # noqa: E402

PASSES = ("report", "inspector", "splitter")
LIMIT_BYTES = 500 * 10**6
_PIECE = 8 * 1024 * 1024


def hostile_file(data: str, name: str, byte: bytes, size: int) -> str:
    """A gzip file of ``size`` copies of ``byte`` (written piece by piece, once)."""
    path = os.path.join(data, "memory", f"20251124_{name}.dat.gz")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        print(f"writing {path} ({size:,} bytes decompressed)", file=sys.stderr)
        piece = byte * _PIECE
        with open_gzip_writer(path + ".part", level=1) as handle:
            for start in range(0, size, _PIECE):
                handle.write(piece[:min(_PIECE, size - start)])
        os.replace(path + ".part", path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(HERE, "data"), help="generated inputs")
    parser.add_argument("--scale", type=int, default=1, help="divide both sizes by this")
    args = parser.parse_args()
    files = {
        "1 GiB line": hostile_file(args.data, f"118-line-{args.scale}", b"A", 2**30 // args.scale),
        "256 MiB of newlines": hostile_file(args.data, f"119-newlines-{args.scale}", b"\n",
                                            2**28 // args.scale),
    }
    worst = 0
    print(f"{'snapshot':22s} {'pass':10s} {'seconds':>8s} {'peak RSS (MB)':>14s}  ending")
    for label, path in files.items():
        for name in PASSES:
            command = [sys.executable, os.path.join(HERE, "passes.py"), name, path, "1"]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            result = json.loads(output.strip().splitlines()[-1])
            worst = max(worst, result["peak_rss_bytes"])
            ending = result["failed"] or "read (not a failed snapshot!)"
            print(f"{label:22s} {name:10s} {result['seconds']:8.1f} "
                  f"{result['peak_rss_bytes'] / 1e6:14.0f}  {ending.replace(path, 'FILE')}")
    print(f"\nworst peak RSS: {worst / 1e6:.0f} MB (limit {LIMIT_BYTES / 1e6:.0f} MB)")
    return 0 if worst < LIMIT_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
