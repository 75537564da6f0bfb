"""The README's Quick start: the demo runs the nightly job on generated data, and says so."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from tests.scripts import REPO

MAX_PAGE_BYTES = 5 * 1000 * 1000  # the demo's page must stay under 5 MB


def demo(run: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "utils.demo", "--dir", str(run), "--lines", "3000"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_demo_runs_and_says_what_it_generated(tmp_path: Path) -> None:
    first = demo(tmp_path / "run")
    assert first.returncode == 0, first.stderr
    assert f"demo: generating 3 mpistat snapshots of 3,000 lines in {tmp_path}/run/mpistat\n" in first.stdout
    tsv = tmp_path / "run" / "reports" / "report-output-files" / f"report-{dt.date.today():%Y%m%d}.tsv"
    assert f"demo: TSV report:  {tsv}\n" in first.stdout and tsv.exists()
    page = tsv.with_suffix(".html")
    assert (f"demo: HTML report: {page}\n"
            "demo:              (open it in a browser; it needs no network: docs/html-report.md)\n"
            ) in first.stdout
    assert 100_000 < page.stat().st_size < MAX_PAGE_BYTES

    again = demo(tmp_path / "run")
    assert again.returncode == 0, again.stderr
    assert "generating" not in again.stdout
    assert f"demo: today's 3 snapshots are already in {tmp_path}/run/mpistat\n" in again.stdout
    assert "nothing newer to do" in again.stderr
