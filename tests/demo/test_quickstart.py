"""The Quick-start demo in each snapshot format."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reference import parse_line, read_lines
from tests.scripts import REPO, run_script
from utils.common.config import load_config
from utils.demo.quickstart import VOLUMES, prepare, snapshot_dir
from utils.demo.synthetic import SHAPES, snapshot_name, snapshot_pattern

LINES = 2000
TODAY = dt.date.today()
SNAPSHOT_TIME = time.time() - 60


@pytest.mark.parametrize("shape", SHAPES)
def test_prepare_writes_the_format_and_a_config_that_finds_it(tmp_path: Path, shape: str) -> None:
    config_path = prepare(str(tmp_path), 300, TODAY, shape, SNAPSHOT_TIME)
    config = load_config(config_path)
    assert config.paths.mpistat_dir == snapshot_dir(str(tmp_path), shape)
    assert config.paths.snapshot_pattern == snapshot_pattern(shape)
    names = sorted(os.listdir(config.paths.mpistat_dir))
    assert names == sorted(snapshot_name(shape, TODAY, volume) for volume in VOLUMES)
    lines = read_lines(os.path.join(config.paths.mpistat_dir, names[0]))
    records = [parse_line(line) for line in lines]
    assert len(lines) == 300 and all(records)
    assert all(r.path_field.startswith(b'"') == (shape == "wrstat6") for r in records)
    assert all((r.apparent_size is not None) == (shape == "wrstat6") for r in records)


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "utils.demo", "--lines", str(LINES),
                             "--dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    tsv = tmp_path / "reports" / "report-output-files" / f"report-{TODAY:%Y%m%d}.tsv"
    assert f"demo: TSV report:  {tsv}" in result.stdout
    assert [line.split("\t")[0] for line in tsv.read_text().splitlines()[1:]].count(
        "scratch118") > 3


def published(run: Path) -> tuple[bytes, list[tuple]]:
    """The TSV and the inspector's database rows of a demo run."""
    tsv = run / "reports" / "report-output-files" / f"report-{TODAY:%Y%m%d}.tsv"
    with sqlite3.connect(run / "lurge.db") as db:
        rows = db.execute("SELECT project_name, directory_path, num_files, size, last_modified "
                          "FROM directory ORDER BY project_name, directory_path").fetchall()
    return tsv.read_bytes(), rows


@pytest.fixture(scope="module")
def mpistat_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[tuple]]:
    run = tmp_path_factory.mktemp("demo-mpistat")
    run_script("manager.py", "both", "--config", prepare(str(run), LINES, TODAY, "mpistat",
                                                          SNAPSHOT_TIME), check=0)
    return published(run)


@pytest.mark.parametrize("shape", [
    "wrstat5",
    "wrstat6",
])
def test_every_format_publishes_the_same_report(tmp_path: Path, shape: str,
                                                mpistat_run: tuple[bytes, list[tuple]]) -> None:
    run_script("manager.py", "both", "--config", prepare(str(tmp_path), LINES, TODAY, shape,
                                                          SNAPSHOT_TIME), check=0)
    tsv, rows = published(tmp_path)
    assert tsv == mpistat_run[0]
    assert rows == mpistat_run[1] and len(rows) > 50
