"""One benchmark pass in a fresh process: ``python bench/passes.py PASS FILE [REPEATS]``.

Runs the pass over the snapshot FILE and prints one JSON line: the best wall
time and the best CPU time (all threads) of the repetitions, the process's
peak RSS, and the error when the file is a failed snapshot (bench/memory.py
runs such files on purpose).  Each pass is
the production code path (the same functions report.py, project_inspector.py
and group_splitter.py call).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils.snapshots.compression import open_gzip_reader  # noqa: E402
from utils.common.config import DEFAULT_FILETYPES, DEFAULT_ANY_GROUP_PREFIXES, SplitterConfig  # noqa: E402
from utils.inspector.aggregate import InspectionConsumer, inspect_snapshot, plan_for_roots  # noqa: E402
from utils.snapshots.consumers import read_once  # noqa: E402
from utils.directory.ldap import DirectorySnapshot  # noqa: E402
from utils.snapshots.discovery import Snapshot  # noqa: E402
from utils.snapshots.reader import LEAN_BLOCK_SIZE  # noqa: E402
from utils.common.errors import SnapshotError  # noqa: E402
from utils.splitter.split import make_plan, split_snapshots  # noqa: E402
from utils.report.usage import (OwnerUsageConsumer, aggregate_owner_usage, aggregate_usage,  # noqa: E402
                                group_totals)

MOUNT = "/lustre/scratch118"
ROOTS = (f"{MOUNT}/humgen/projects", f"{MOUNT}/realdata/mdt[0-9]/projects")
# The groups utils.synthetic uses by default (as in demo/directory.ldif).
DIRECTORY = DirectorySnapshot(
    humgen={1001: "genomics-a", 1002: "genomics-b", 1003: "cohort-c", 1004: "cohort-d",
            1005: "shared-e"},
    pis={1001: "Byron", 1002: "Franklin", 1003: "Mendel", 1004: "Franklin"},
    posix={1001: "genomics-a", 1002: "genomics-b", 1003: "cohort-c", 1004: "cohort-d",
           1005: "shared-e", 2001: "hgi", 2002: "users"},
)
READ_SIZE = 8 * 1024 * 1024


def decompress(path: str, fast: bool) -> int:
    """Bytes of decompressed text (the ceiling every pass is compared with)."""
    total = 0
    with open_gzip_reader(path, fast=fast) as stream:
        while chunk := stream.read(READ_SIZE):
            total += len(chunk)
    return total


def snapshot_of(path: str) -> Snapshot:
    return Snapshot(path, 118, dt.date.today(), os.stat(path).st_mtime)


def report_pass(path: str) -> None:
    """What a report worker reads: sums per (uid, gid), the group totals derived from them."""
    group_totals(aggregate_owner_usage(snapshot_of(path)))


def report_groups_pass(path: str) -> None:
    """The sums per gid alone (the report before the per-user sums), for comparison."""
    aggregate_usage(snapshot_of(path))


def inspector_pass(path: str) -> None:
    snapshot = snapshot_of(path)
    plan = plan_for_roots(ROOTS, 2, DEFAULT_FILETYPES, snapshot.time)
    inspect_snapshot(snapshot, "scratch118", plan, DIRECTORY)


def fused_pass(path: str) -> None:
    """One read feeding the report's sums and the inspector, as ``manager.py both`` reads."""
    snapshot = snapshot_of(path)
    usage = OwnerUsageConsumer(snapshot.time)
    inspection = InspectionConsumer(plan_for_roots(ROOTS, 2, DEFAULT_FILETYPES, snapshot.time))
    read_once(snapshot, [usage, inspection], label="usage and inspection",
              block_size=LEAN_BLOCK_SIZE)
    group_totals(usage.result())
    inspection.records(snapshot, "scratch118", DIRECTORY)


def splitter_pass(path: str) -> None:
    out = tempfile.mkdtemp(prefix="lurge-bench-split-", dir=os.path.dirname(path))
    try:
        plan = make_plan(DIRECTORY, SplitterConfig(special_prefixes=DEFAULT_ANY_GROUP_PREFIXES))
        split_snapshots([snapshot_of(path)], plan, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


PASSES: dict[str, Callable[[str], object]] = {
    "decompress": lambda path: decompress(path, fast=True),
    "decompress-stdlib": lambda path: decompress(path, fast=False),
    "report": report_pass,
    "report-groups": report_groups_pass,
    "inspector": inspector_pass,
    "report+inspector": fused_pass,
    "splitter": splitter_pass,
}


def main() -> None:
    name, path = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    timings, cpu = [], []
    failed = None
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            PASSES[name](path)
        except SnapshotError as exc:
            failed = str(exc)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    print(json.dumps({"pass": name, "seconds": min(timings), "cpu_seconds": min(cpu),
                      "peak_rss_bytes": peak_rss_bytes(), "failed": failed}))


def peak_rss_bytes() -> int:
    """This process's own peak resident memory.

    Linux's ``VmHWM`` belongs to the process's own address space; ``ru_maxrss``
    also keeps the peak of the process that started it (it survives the
    fork and exec), so it is only the fallback elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
