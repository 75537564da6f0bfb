"""manager.py as an admin runs it: sets found by pattern, stages done per date, dry runs, refusals.

Every test drives the script in a subprocess on real files and an SQLite database.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from tests.configs import base_sections, write_config
from tests.faults.common import run
from tests.fixtures.slapd import DIRECTORY_LDIF
from tests.manager.test_manager_run import (TODAY, VOLUMES, add_snapshot, count, days_ago,
                                            make_config, tsv)
from tests.scripts import run_script
from utils.demo.synthetic import SyntheticOptions, synthetic_lines, write_snapshot

WRSTAT = "{date}_scratch{volume}.*.*.stats.gz"


def wrstat_config(tmp_path: Path) -> Path:
    volumes = [{"number": n, "mount": f"/lustre/scratch{n}",
                "inspect_roots": [f"/lustre/scratch{n}/humgen/projects"]} for n in VOLUMES]
    sections = base_sections(tmp_path, f"sqlite:///{tmp_path}/lurge.db", f"ldif:{DIRECTORY_LDIF}",
                             volumes)
    sections["paths"]["snapshot_pattern"] = WRSTAT
    return write_config(tmp_path / "lurge.toml", sections)


def add_named(tmp_path: Path, name: str, date: dt.date, volume: int, age: float = 0) -> Path:
    """A snapshot of ``volume`` under any name; its mtime ``age`` seconds before the date's time."""
    path = tmp_path / "mpistat" / name
    snapshot_time = time.time() - (TODAY - date).days * 86400 - age
    options = SyntheticOptions(seed=volume, lines=2000, snapshot_time=int(snapshot_time))
    write_snapshot(str(path), synthetic_lines(f"/lustre/scratch{volume}", options),
                   mtime=snapshot_time)
    return path


def links(tmp_path: Path) -> dict[int, str]:
    return {v: os.readlink(tmp_path / "reports" / f"latest-{v}.dat.gz") for v in VOLUMES
            if os.path.islink(tmp_path / "reports" / f"latest-{v}.dat.gz")}


# ------------------------------------------------------------------ finding sets by pattern

def test_wrstat_names_are_found_by_the_pattern(tmp_path: Path) -> None:
    config = wrstat_config(tmp_path)
    files = {v: add_named(tmp_path, f"{TODAY:%Y%m%d}_scratch{v}.abc123.def456.stats.gz", TODAY, v)
             for v in VOLUMES}
    add_named(tmp_path, f"{TODAY:%Y%m%d}_scratch1180.x.y.stats.gz", TODAY, 118)  # volume 1180
    add_named(tmp_path, f"{TODAY:%Y%m%d}_118.dat.gz", TODAY, 118)  # an mpistat name: not matched
    result = run_script("manager.py", "report", "--config", str(config), check=0)
    assert links(tmp_path) == {v: str(path) for v, path in files.items()}
    assert tsv(tmp_path, TODAY).exists()
    assert "files match" not in result.stderr  # one file per volume: no warning


def test_the_newest_of_two_matches_wins_and_the_other_is_named(tmp_path: Path) -> None:
    config = wrstat_config(tmp_path)
    older = add_named(tmp_path, f"{TODAY:%Y%m%d}_scratch118.aaa.zzz.stats.gz", TODAY, 118, age=600)
    newer = add_named(tmp_path, f"{TODAY:%Y%m%d}_scratch118.bbb.aaa.stats.gz", TODAY, 118)
    other = add_named(tmp_path, f"{TODAY:%Y%m%d}_scratch119.a.b.stats.gz", TODAY, 119)
    result = run_script("manager.py", "report", "--config", str(config), check=0)
    assert links(tmp_path) == {118: str(newer), 119: str(other)}
    assert (f"volume 118, {TODAY}: 2 files match {TODAY:%Y%m%d}_scratch118.*.*.stats.gz; using "
            f"{newer} (the newest), ignoring {older}") in result.stderr


def test_a_newer_set_missing_a_volume_is_named_and_the_complete_one_used(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, days_ago(1), volume)
    add_snapshot(tmp_path, TODAY, 119)
    result = run_script("manager.py", "report", "--config", str(config), check=0)
    assert (f"snapshot set {TODAY:%Y%m%d} is incomplete, so it is not used yet: volume 118: no file "
            f"matching {TODAY:%Y%m%d}_118.dat.gz in {tmp_path / 'mpistat'}") in result.stderr
    assert tsv(tmp_path, days_ago(1)).exists() and not tsv(tmp_path, TODAY).exists()


def test_a_folder_or_a_dangling_link_is_not_a_snapshot(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    mpistat = tmp_path / "mpistat"
    (mpistat / f"{TODAY:%Y%m%d}_118.dat.gz").mkdir()
    (mpistat / f"{TODAY:%Y%m%d}_119.dat.gz").symlink_to(mpistat / "gone.dat.gz")
    result = run_script("manager.py", "both", "--config", str(config), check=1)
    assert f"{mpistat}/{TODAY:%Y%m%d}_118.dat.gz is a folder, not a snapshot file" in result.stderr
    assert (f"{mpistat}/{TODAY:%Y%m%d}_119.dat.gz is a dangling symbolic link (to "
            f"{mpistat}/gone.dat.gz)") in result.stderr
    assert result.stderr.endswith("manager.py: failed: no complete snapshot set in "
                                  f"{mpistat} within the last 3 days (volumes 118, 119; files "
                                  "named like {date}_{volume}.dat.gz)\n")


@pytest.mark.parametrize("key", ["mpistat_dir", "report_dir"])
def test_a_missing_folder_is_a_configuration_error(tmp_path: Path, key: str) -> None:
    config = make_config(tmp_path)
    folder = tmp_path / ("mpistat" if key == "mpistat_dir" else "reports")
    folder.rmdir()
    for mode in ("both", "report"):
        result = run_script("manager.py", mode, "--config", str(config), check=2)
        assert result.stderr == (f"manager.py: error: {config}: [paths] {key} {folder} does not "
                                 "exist (lurge does not create it: check the path, or create the "
                                 "folder)\n")
    assert not folder.exists()


# ------------------------------------------------------------------ stages done per date

def test_an_interrupted_both_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """The report of `both` done, its inspector not: the next run does the inspector only."""
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    run_script("manager.py", "report", "--config", str(config), check=0)  # as if both stopped here
    report = tsv(tmp_path, TODAY).read_bytes()
    database = tmp_path / "lurge.db"
    assert count(database, "directory") == 0

    dry = run_script("manager.py", "both", "--dry-run", "--config", str(config), check=0)
    assert f"report for {TODAY}: done" in dry.stdout
    assert f"would inspect and load volumes scratch118, scratch119 from {TODAY}" in dry.stdout
    assert count(database, "directory") == 0  # the dry run changed nothing

    again = run_script("manager.py", "both", "--config", str(config), check=0)
    assert f"report for {TODAY}: done already; running the inspector only" in again.stderr
    assert count(database, "directory") > 0
    assert tsv(tmp_path, TODAY).read_bytes() == report

    for mode in ("both", "inspector", "report"):
        dry = run_script("manager.py", mode, "--dry-run", "--config", str(config), check=0)
        assert dry.stdout.endswith(f"nothing to do: every stage of {mode!r} is done for {TODAY}\n")
        assert "would" not in dry.stdout
    real = run_script("manager.py", "both", "--config", str(config), check=0)
    assert "nothing newer to do" in real.stderr and "inspecting" not in real.stderr


def test_dry_run_says_what_a_real_run_then_does(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    database = tmp_path / "lurge.db"
    dry = run_script("manager.py", "both", "--dry-run", "--config", str(config), check=0)
    assert not database.exists()  # not even created
    assert [line for line in dry.stdout.splitlines()
            if line.startswith("database: would create") and str(database) in line]
    assert f"would load database rows for {TODAY} into sqlite:///{database}\n" in dry.stdout
    assert f"would write {tsv(tmp_path, TODAY)}\n" in dry.stdout
    page = tsv(tmp_path, TODAY).with_suffix(".html")
    assert f"would write {page} from the database's rows of the date\n" in dry.stdout
    assert f"would then rewrite {page} if the database holds the date's report rows\n" in dry.stdout
    assert not page.parent.exists()
    run_script("manager.py", "both", "--config", str(config), check=0)

    tsv(tmp_path, TODAY).unlink()  # e.g. removed by hand: the report is not done any more
    dry = run_script("manager.py", "both", "--dry-run", "--config", str(config), check=0)
    assert (f"database rows for {TODAY} are already in sqlite:///{database}; they stay as they "
            "are") in dry.stdout
    assert f"would write {tsv(tmp_path, TODAY)}" in dry.stdout
    assert f"inspector for {TODAY}: done" in dry.stdout
    real = run_script("manager.py", "both", "--config", str(config), check=0)
    assert f"database: rows for {TODAY} already loaded; skipped" in real.stderr
    assert tsv(tmp_path, TODAY).exists()
    assert "inspecting" not in real.stderr  # the inspector was done


@pytest.mark.parametrize("written", ["%Y%m%d", "%Y-%m-%d"])
def test_date_in_either_form(tmp_path: Path, written: str) -> None:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, days_ago(5), volume)  # beyond max_days_ago
    run_script("manager.py", "report", "--date", f"{days_ago(5):{written}}", "--config",
               str(config), check=0)
    assert tsv(tmp_path, days_ago(5)).exists()


def test_an_invalid_date_is_called_invalid(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    result = run_script("manager.py", "both", "--date", "20261301", "--config", str(config),
                        check=2)
    assert result.stderr.endswith(
        "manager.py: error: argument --date: invalid date '20261301': month must be in 1..12\n")


# ------------------------------------------------------------------ files in the report folder

def test_a_latest_link_that_is_a_folder_is_refused_before_publishing(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    folder = tmp_path / "reports" / "latest-119.dat.gz"
    folder.mkdir()
    (folder / "kept").write_text("mine\n")
    result = run_script("manager.py", "both", "--config", str(config), check=1)
    assert result.stderr.endswith(
        f"manager.py: failed: {folder} is a folder; lurge keeps a symbolic link to the volume's "
        "latest snapshot there: move it away and run again (nothing was changed)\n")
    assert not tsv(tmp_path, TODAY).exists()
    assert count(tmp_path / "lurge.db", "lustre_usage") == 0
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [".lurge.lock",
                                                                       "latest-119.dat.gz"]
    assert (folder / "kept").read_text() == "mine\n"
    folder.joinpath("kept").unlink()
    folder.rmdir()
    run_script("manager.py", "both", "--config", str(config), check=0)
    assert set(links(tmp_path)) == set(VOLUMES)


@pytest.mark.parametrize("name", [".lurge.lock", ".lurge-staging"])
def test_a_planted_link_is_refused_and_its_target_untouched(tmp_path: Path, name: str) -> None:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    target = tmp_path / "precious"
    if name == ".lurge.lock":
        target.write_text("do not overwrite\n")
    else:
        target.mkdir()
        (target / "report-20990101-118-1.sqlite").write_text("not lurge's\n")
    before = {p.name: p.read_bytes() for p in ([target] if target.is_file() else target.iterdir())}
    (tmp_path / "reports" / name).symlink_to(target)
    result = run_script("manager.py", "report", "--config", str(config), check=1)
    assert f"{tmp_path / 'reports' / name} is a symbolic link" in result.stderr
    after = {p.name: p.read_bytes() for p in ([target] if target.is_file() else target.iterdir())}
    assert after == before
    assert not tsv(tmp_path, TODAY).exists()


@pytest.mark.parametrize("umask, tsv_mode", [(0o077, 0o600), (0o022, 0o644), (0o000, 0o644)])
def test_the_tsv_follows_the_umask_and_staging_stays_private(tmp_path: Path, umask: int,
                                                              tsv_mode: int) -> None:
    config = make_config(tmp_path)
    for volume in VOLUMES:
        add_snapshot(tmp_path, TODAY, volume)
    result, _ = run("manager.py", "report", "--config", str(config),
                    preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr
    assert tsv(tmp_path, TODAY).stat().st_mode & 0o777 == tsv_mode
    assert (tmp_path / "reports" / ".lurge-staging").stat().st_mode & 0o777 == 0o700
