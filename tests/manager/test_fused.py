"""manager.py both reads each snapshot once, and publishes what the separate stages publish.

One set of snapshots (three volumes, two with inspection roots) is reported
in two report folders with their own SQLite databases: once by
``manager.py report`` then ``manager.py inspector`` (two reads per inspected
volume), once by ``manager.py both`` (one read per volume).  Every database
row (ids and load times aside) and every byte of the TSVs and the HTML page
must be the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.configs import base_sections, write_config
from tests.fixtures.database import connect
from tests.fixtures.slapd import DIRECTORY_LDIF
from tests.manager.test_manager_run import TODAY
from tests.scripts import run_script
from utils.demo.synthetic import SyntheticOptions, synthetic_lines, write_snapshot
from utils.snapshots.discovery import snapshot_filename

WITH_ROOTS = (118, 119)
VOLUMES = (*WITH_ROOTS, 121)  # 121 has no inspection roots
SNAPSHOT_TIME = 1_764_000_000  # the generated entries' clock; the files are dated today

QUERIES = {
    "lustre_usage": """
        SELECT v.scratch_disk, g.group_name, g.is_humgen, p.pi_name, u.used, u.quota,
               u.quota_used, u.record_date, u.archived, u.last_modified, u.inodes, u.inode_quota,
               u.inode_quota_used, u.days_until_full_bytes, u.days_until_full_inodes, u.status
        FROM lustre_usage u JOIN volume v ON v.volume_id = u.volume_id
        JOIN unix_group g ON g.group_id = u.unix_id LEFT JOIN pi p ON p.pi_id = u.pi_id""",
    "user_usage": """
        SELECT v.scratch_disk, n.user_name, g.group_name, g.is_humgen, u.used, u.inodes,
               u.record_date, u.last_modified
        FROM user_usage u JOIN volume v ON v.volume_id = u.volume_id
        JOIN unix_user n ON n.user_id = u.user_id JOIN unix_group g ON g.group_id = u.unix_id""",
    "directory": """
        SELECT v.scratch_disk, d.project_name, d.directory_path, d.num_files, d.size,
               d.last_modified, p.pi_name, g.group_name, g.is_humgen
        FROM directory d JOIN volume v ON v.volume_id = d.volume_id
        LEFT JOIN pi p ON p.pi_id = d.pi_id LEFT JOIN unix_group g ON g.group_id = d.group_id""",
    "file_size": """
        SELECT v.scratch_disk, d.project_name, d.directory_path, t.filetype_name, s.size
        FROM file_size s JOIN directory d ON d.directory_id = s.directory_id
        JOIN volume v ON v.volume_id = d.volume_id
        JOIN filetype t ON t.filetype_id = s.filetype_id""",
    "inspection": """
        SELECT v.scratch_disk, i.snapshot_date FROM inspection i
        JOIN volume v ON v.volume_id = i.volume_id""",
}


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Today's set, shared by every report folder of this module."""
    folder = tmp_path_factory.mktemp("mpistat")
    for volume in VOLUMES:
        options = SyntheticOptions(seed=volume, lines=6000, snapshot_time=SNAPSHOT_TIME,
                                   uids=(0, 501, 10001, 10002, 10012), malformed_fraction=0.002)
        write_snapshot(str(folder / snapshot_filename(TODAY, volume)),
                       synthetic_lines(f"/lustre/scratch{volume}", options), mtime=SNAPSHOT_TIME)
    return folder


def configure(root: Path, snapshots: Path) -> Path:
    root.mkdir()
    volumes = [{"number": n, "mount": f"/lustre/scratch{n}",
                "inspect_roots": [f"/lustre/scratch{n}/humgen/projects"] if n in WITH_ROOTS else []}
               for n in VOLUMES]
    sections = base_sections(root, f"sqlite:///{root}/lurge.db", f"ldif:{DIRECTORY_LDIF}",
                             volumes)
    sections["paths"]["mpistat_dir"] = str(snapshots)
    sections["paths"]["max_days_ago"] = 1
    return write_config(root / "lurge.toml", sections)


def manager(config: Path, *args: str) -> str:
    return run_script("manager.py", *args, "--config", str(config), check=0).stderr


def published(root: Path) -> dict[str, object]:
    """Every row the runs loaded (names, not ids; no load times), the TSVs' and the page's bytes."""
    outputs = root / "reports" / "report-output-files"
    with connect(f"sqlite:///{root}/lurge.db") as db:
        found: dict[str, object] = {
            table: sorted(db.query(query), key=lambda row: tuple((v is not None, v) for v in row))
            for table, query in QUERIES.items()}
    for name in (f"report-{TODAY:%Y%m%d}.tsv", f"user-report-{TODAY:%Y%m%d}.tsv",
                 f"report-{TODAY:%Y%m%d}.html"):
        found[name] = (outputs / name).read_bytes()
    return found


def reads(stderr: str) -> dict[str, int]:
    """How many times each snapshot file was read to its end."""
    counts: dict[str, int] = {}
    for path in re.findall(r"skipped \d+ malformed lines of \d+ in (\S+)", stderr):
        counts[Path(path).name] = counts.get(Path(path).name, 0) + 1
    return counts


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory, snapshots: Path) -> dict[str, object]:
    """What ``report`` then ``inspector`` publish."""
    root = tmp_path_factory.mktemp("separate") / "run"
    config = configure(root, snapshots)
    stderr = manager(config, "report") + manager(config, "inspector")
    assert reads(stderr) == {snapshot_filename(TODAY, v): 2 if v in WITH_ROOTS else 1
                             for v in VOLUMES}
    return published(root)


def test_both_reads_once_and_publishes_what_the_stages_publish(
        tmp_path: Path, snapshots: Path, separate: dict[str, object]) -> None:
    config = configure(tmp_path / "run", snapshots)
    stderr = manager(config, "both")
    assert reads(stderr) == {snapshot_filename(TODAY, v): 1 for v in VOLUMES}
    for volume in WITH_ROOTS:
        assert (f"volume scratch{volume}: inspecting {snapshots / snapshot_filename(TODAY, volume)}"
                f", the snapshot of {TODAY}, in the report's read") in stderr
    assert "scratch121: inspecting" not in stderr
    fused = published(tmp_path / "run")
    assert all(fused[table] for table in QUERIES)  # every table has rows to compare
    assert fused == separate


def test_both_after_the_inspector_reads_for_the_report_only(
        tmp_path: Path, snapshots: Path, separate: dict[str, object]) -> None:
    config = configure(tmp_path / "run", snapshots)
    manager(config, "inspector")
    database = f"sqlite:///{tmp_path}/run/lurge.db"
    with connect(database) as db:
        loaded = db.query("SELECT volume_id, loaded_at FROM inspection ORDER BY volume_id")
    stderr = manager(config, "both")
    assert reads(stderr) == {snapshot_filename(TODAY, v): 1 for v in VOLUMES}
    assert "inspecting" not in stderr
    with connect(database) as db:  # the inspections were not redone
        assert db.query("SELECT volume_id, loaded_at FROM inspection ORDER BY volume_id") == loaded
    assert published(tmp_path / "run") == separate


def test_both_inspects_only_the_volumes_not_loaded_from_the_date(
        tmp_path: Path, snapshots: Path, separate: dict[str, object]) -> None:
    config = configure(tmp_path / "run", snapshots)
    manager(config, "inspector")
    with connect(f"sqlite:///{tmp_path}/run/lurge.db") as db:
        db.query("DELETE FROM inspection WHERE volume_id = "
                 "(SELECT volume_id FROM volume WHERE scratch_disk = 'scratch119')")
    stderr = manager(config, "both")
    assert reads(stderr) == {snapshot_filename(TODAY, v): 1 for v in VOLUMES}
    assert f"inspector: volume scratch118 already loaded from {TODAY}; skipped" in stderr
    assert "volume scratch118: inspecting" not in stderr
    assert "volume scratch119: inspecting" in stderr
    assert published(tmp_path / "run") == separate


def test_both_after_the_report_reads_for_the_inspector_only(
        tmp_path: Path, snapshots: Path, separate: dict[str, object]) -> None:
    config = configure(tmp_path / "run", snapshots)
    manager(config, "report")
    stderr = manager(config, "both")
    assert f"report for {TODAY}: done already; running the inspector only" in stderr
    assert reads(stderr) == {snapshot_filename(TODAY, v): 1 for v in WITH_ROOTS}
    assert published(tmp_path / "run") == separate
