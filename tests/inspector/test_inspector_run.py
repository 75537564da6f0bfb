"""The project inspector end to end: known answers at several depths, output formats, --tosql."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.fixtures.database import connect
from tests.configs import base_sections, write_config
from tests.fixtures.slapd import DIRECTORY_LDIF
from tests.report.test_html import parse, volume_section
from tests.scripts import run_script
from utils.common.locking import run_lock
from utils.report.html import shown
from utils.snapshots.discovery import snapshot_filename
from utils.demo.synthetic import format_line, write_snapshot

T = 1_700_000_000
DAY = 86400
MIB = 1 << 20
MOUNT = "/lustre/scratch118"
R0 = MOUNT + "/realdata/mdt0/projects"
R1 = MOUNT + "/realdata/mdt1/projects"
ROOT = MOUNT + "/realdata/mdt[0-9]/projects"


def entry(path: str | bytes, size_mib: float, gid: int, age_days: float, kind: str = "f",
          nlink: int = 1) -> bytes:
    raw = path.encode() if isinstance(path, str) else path
    mtime = T - int(age_days * DAY)
    return format_line(raw, int(size_mib * MIB), 501, gid, mtime, mtime, mtime, kind, 7, nlink,
                       64768)


def tree() -> list[bytes]:
    """The hand-built snapshot (sizes in MiB; answers worked out in EXPECTED_DEPTH_2)."""
    return [
        entry(R0, 0, 2001, 100, "d"),
        entry(f"{R0}/p1", 0, 1001, 50, "d"),
        entry(f"{R0}/p1/top.txt", 100, 1001, 40),                 # a file in the project root
        entry(f"{R0}/p1/sub", 0, 1001, 30, "d"),
        entry(f"{R0}/p1/sub/a.bam", 1000, 1001, 20),
        entry(f"{R0}/p1/sub/a.bam.bai", 50, 1001, 20),            # an index is not a BAM
        entry(f"{R0}/p1/sub/deep/x.CRAM", 2000, 1002, 10),        # upper case; no entry for deep/
        entry(f"{R0}/p1/sub/deep/v.vcf.gz", 3000, 1002, 5, nlink=2),  # hard link: 1500
        entry(f"{R0}/p1/sub/gone.bam", 999, 1001, 1, nlink=0),    # being deleted: a file, 0 bytes
        entry(f"{R0}/p1/sub/link", 10, 1001, 0, "l"),             # links are ignored
        entry(R0.encode() + b"/p1/sub/caf\xe9.bam", 11, 1001, 3),  # non-UTF-8 file name
        entry(f"{R0}/p1/users", 0, 1001, 60, "d"),
        entry(f"{R0}/p1/users/bob", 0, 1001, 65, "d"),
        entry(f"{R0}/p1/users/bob/r.ped", 400, 1001, 2),
        entry(f"{R0}/p1/users/bob/deeper/s.sam.gz", 600, 1001, 4),
        entry(f"{R0}/p2/data/a", 10, 1001, 8),                    # no directory entries: the
        entry(f"{R0}/p2/data/b", 30, 1002, 9),                    # group owning most bytes
        entry(f"{R0}/p3/t/a", 5, 2001, 11),                       # a tie: the lowest gid
        entry(f"{R0}/p3/t/b", 5, 1001, 12),
        entry(R0.encode() + b"/p4\xff", 0, 2001, 1, "d"),          # non-UTF-8 directory
        entry(R0.encode() + b"/p4\xff/z.txt", 1, 2001, 1),
        entry(f"{R0}/rootfile.txt", 7, 2001, 1),                  # counts toward "projects" only
        entry(R1, 0, 2001, 100, "d"),                             # mdt1 merges into the same keys
        entry(f"{R1}/p1", 0, 1001, 70, "d"),
        entry(f"{R1}/p1/other/y.bam", 5000, 1002, -1),            # future mtime: no date
        entry(MOUNT + "/realdata/mdt0/other/z.bam", 1, 1001, 1),  # outside the root
        entry(MOUNT + "/realdata/mdtX/projects/p9/q.bam", 1, 1001, 1),  # glob does not match
        entry(MOUNT + "/humgen/projects/p1/w.bam", 1, 1001, 1),
    ]


HEADER = ("Project\tDirectory\tTotal\tBAM\tCRAM\tVCF\tPED/BED\tFiles\tLast Modified (days)\tPI\t"
          "Unix Group\tVolume")
# key: (total, bam, cram, vcf, pedbed (MiB), files, last modified, PI, group)
EXPECTED_DEPTH_2 = {
    b"projects": (10719, 6611, 2000, 1500, 400, 16, "1.0", None, "ops"),
    b"projects/p1": (10661, 6611, 2000, 1500, 400, 10, "1.0", "Doe", "hgi"),
    b"projects/p1/other": (5000, 5000, 0, 0, 0, 1, None, "Müller-Lüdenscheidt", "mueller-lab"),
    b"projects/p1/sub": (4561, 1011, 2000, 1500, 0, 6, "1.0", "Doe", "hgi"),
    b"projects/p1/users": (1000, 600, 0, 0, 400, 2, "2.0", "Doe", "hgi"),
    b"projects/p1/users/bob": (1000, 600, 0, 0, 400, 2, "2.0", "Doe", "hgi"),
    b"projects/p2": (40, 0, 0, 0, 0, 2, "8.0", "Müller-Lüdenscheidt", "mueller-lab"),
    b"projects/p2/data": (40, 0, 0, 0, 0, 2, "8.0", "Müller-Lüdenscheidt", "mueller-lab"),
    b"projects/p3": (10, 0, 0, 0, 0, 2, "11.0", "Doe", "hgi"),
    b"projects/p3/t": (10, 0, 0, 0, 0, 2, "11.0", "Doe", "hgi"),
    b"projects/p4\xff": (1, 0, 0, 0, 0, 1, "1.0", None, "ops"),
}


def expected_tsv(expected: dict[bytes, tuple]) -> bytes:
    lines = [HEADER.encode()]
    for key, (total, bam, cram, vcf, ped, files, modified, pi, group) in expected.items():
        parts = key.split(b"/")
        project, rest = b"/".join(parts[:2]), b"/".join(parts[2:]) or b"Total"
        numbers = [str(n * MIB) for n in (total, bam, cram, vcf, ped)] + [str(files), modified or "-"]
        text = [n.encode() for n in numbers] + [(v or "-").encode() for v in (pi, group, "scratch118")]
        lines.append(b"\t".join([project, rest, *text]))
    return b"".join(line + b"\n" for line in lines)


@pytest.fixture
def inspector_setup(tmp_path: Path) -> tuple[Path, Path]:
    return make_setup(tmp_path, f"sqlite:///{tmp_path}/lurge.db")


def make_setup(tmp_path: Path, db_url: str) -> tuple[Path, Path]:
    volumes = [{"number": 118, "mount": MOUNT, "inspect_roots": [ROOT]}]
    sections = base_sections(tmp_path, db_url, f"ldif:{DIRECTORY_LDIF}", volumes,
                             inspector={"aliases": {"/lustre/scratch118/humgen/pr": R0}})
    sections["paths"]["max_days_ago"] = 10_000  # the snapshot is from 2023
    config = write_config(tmp_path / "lurge.toml", sections)
    snapshot = tmp_path / "mpistat" / snapshot_filename(dt.date(2023, 11, 14), 118)
    write_snapshot(str(snapshot), tree(), mtime=T)
    return config, snapshot


def inspect(config: Path, *args: str, check: int = 0) -> bytes:
    result = run_script("project_inspector.py", "--config", str(config), *args, check=check)
    return result.stdout.encode("utf-8", "surrogateescape")


def test_depth_2_tsv_bytes_is_exact(inspector_setup) -> None:
    config, _ = inspector_setup
    assert inspect(config, "--format", "tsv", "--bytes") == expected_tsv(EXPECTED_DEPTH_2)


def test_noheader_and_generic(inspector_setup) -> None:
    config, _ = inspector_setup
    generic = inspect(config, "--format", "tsv", "--bytes", "--generic", "--noheader")
    expected = [b"\t".join([key, *(str(n * MIB).encode() for n in values[:5]),
                            str(values[5]).encode(), (values[6] or "-").encode()])
                for key, values in EXPECTED_DEPTH_2.items()]
    assert generic == b"".join(line + b"\n" for line in expected)


@pytest.mark.parametrize("depth, keys", [
    ("1", [b"projects", b"projects/p1", b"projects/p1/users", b"projects/p2", b"projects/p3",
           b"projects/p4\xff"]),
    ("3", [b"projects", b"projects/p1", b"projects/p1/other", b"projects/p1/sub",
           b"projects/p1/sub/deep", b"projects/p1/users", b"projects/p1/users/bob",
           b"projects/p1/users/bob/deeper", b"projects/p2", b"projects/p2/data", b"projects/p3",
           b"projects/p3/t", b"projects/p4\xff"]),
])
def test_other_depths(inspector_setup, depth: str, keys: list[bytes]) -> None:
    config, _ = inspector_setup
    output = inspect(config, "--format", "tsv", "--bytes", "--generic", "--noheader",
                     "--depth", depth)
    rows = {line.split(b"\t")[0]: line.split(b"\t")[1:] for line in output.splitlines()}
    assert list(rows) == keys
    assert rows[b"projects"][0] == str(10719 * MIB).encode()
    if depth == "1":  # users/ goes one level deeper: bob's files land in projects/p1/users
        assert rows[b"projects/p1/users"][:6] == [str(n).encode() for n in
                                                   (1000 * MIB, 600 * MIB, 0, 0, 400 * MIB, 2)]
    else:  # deep/ has no directory entry; the group owning most bytes there is mueller-lab
        assert rows[b"projects/p1/sub/deep"][:6] == [str(n).encode() for n in
                                                      (3500 * MIB, 0, 2000 * MIB, 1500 * MIB, 0, 2)]


def test_path_argument_prints_only_that_tree(inspector_setup) -> None:
    config, _ = inspector_setup
    output = inspect(config, "--format", "tsv", "--bytes", "--generic", "--noheader",
                     R0 + "/p1/users")
    keys = [line.split(b"\t")[0] for line in output.splitlines()]
    assert keys == [b"users", b"users/bob", b"users/bob/deeper"]
    aliased = inspect(config, "--format", "tsv", "--bytes", "--noheader", "--generic",
                      "/lustre/scratch118/humgen/pr/p2")
    assert [line.split(b"\t")[:3] for line in aliased.splitlines()] == [
        [b"p2", str(40 * MIB).encode(), b"0"], [b"p2/data", str(40 * MIB).encode(), b"0"]]


def test_path_on_no_volume_is_an_error(inspector_setup) -> None:
    config, _ = inspector_setup
    result = run_script("project_inspector.py", "--config", str(config), "/nowhere/x", check=2)
    assert "/nowhere/x" in result.stderr and "not on any configured volume" in result.stderr
    assert result.stderr.endswith(f"the roots are: {ROOT}\n") and result.stdout == ""


def test_tosql_with_path_is_refused(inspector_setup) -> None:
    config, _ = inspector_setup
    result = run_script("project_inspector.py", "--config", str(config), "--tosql", R0, check=2)
    assert "--tosql cannot be used with an explicit PATH" in result.stderr


def test_humanised_table(inspector_setup) -> None:
    config, _ = inspector_setup
    table = inspect(config, "--format", "table").decode("utf-8", "backslashreplace")
    lines = table.splitlines()
    assert [cell for cell in lines[0].split("  ") if cell.strip()] == [
        cell if cell in ("Project", "Directory") else cell for cell in lines[0].split("  ")
        if cell.strip()]
    assert lines[0].split() == HEADER.replace("\t", " ").split()
    first = lines[2].split()
    assert first[:5] == ["projects", "Total", "10.47", "GiB", "6.46"]
    assert "projects/p4\\xff" in table


DIRECTORY_QUERY = """
SELECT v.scratch_disk, d.project_name, d.directory_path, d.num_files, d.size, d.last_modified,
       p.pi_name, g.group_name, g.is_humgen
FROM directory d JOIN volume v ON v.volume_id = d.volume_id
LEFT JOIN pi p ON p.pi_id = d.pi_id LEFT JOIN unix_group g ON g.group_id = d.group_id
"""


def directory_rows(db_url: str) -> list[tuple]:
    with connect(db_url) as db:
        rows = db.query(DIRECTORY_QUERY)
        sizes = db.query("SELECT d.project_name, d.directory_path, f.filetype_name, s.size"
                         " FROM file_size s JOIN directory d ON d.directory_id = s.directory_id"
                         " JOIN filetype f ON f.filetype_id = s.filetype_id")
    by_dir: dict[tuple, dict] = {}
    for project, path, name, size in sizes:
        by_dir.setdefault((project, path), {})[name] = size
    return sorted(((vol, project, path, files, size, modified, pi, group, bool(humgen),
                    by_dir.get((project, path)))
                   for vol, project, path, files, size, modified, pi, group, humgen in rows),
                  key=lambda r: (r[1], r[2] or ""))


def expected_directory_rows() -> list[tuple]:
    rows = []
    for key, (total, bam, cram, vcf, ped, files, modified, pi, group) in EXPECTED_DEPTH_2.items():
        parts = key.decode("utf-8", "backslashreplace").split("/")
        gib = lambda mib: round(mib / 1024, 2)  # noqa: E731
        rows.append(("scratch118", "/".join(parts[:2]), "/".join(parts[2:]) or None, files,
                     gib(total), None if modified is None else float(modified), pi, group,
                     group != "ops",
                     {"BAM": gib(bam), "CRAM": gib(cram), "VCF": gib(vcf), "PEDBED": gib(ped)}))
    return sorted(rows, key=lambda r: (r[1], r[2] or ""))


def test_tosql_loads_exact_rows(tmp_path: Path, db_url: str) -> None:
    config, _ = make_setup(tmp_path, db_url)
    assert inspect(config, "--tosql") == b""
    assert directory_rows(db_url) == expected_directory_rows()
    with connect(db_url) as db:
        assert [tuple(r) for r in db.query("SELECT v.scratch_disk, i.snapshot_date FROM inspection i"
                                           " JOIN volume v ON v.volume_id = i.volume_id")] == [
            ("scratch118", dt.date(2023, 11, 14))]
    inspect(config, "--tosql")  # a second load replaces, never duplicates
    assert directory_rows(db_url) == expected_directory_rows()


def test_tosql_rewrites_the_page_of_a_reported_date(tmp_path: Path) -> None:
    config, snapshot = make_setup(tmp_path, f"sqlite:///{tmp_path}/lurge.db")
    page = tmp_path / "reports" / "report-output-files" / "report-20231114.html"
    early = run_script("project_inspector.py", "--config", str(config), "--tosql", check=0)
    assert ("html: no report rows for 2023-11-14 in the database; its page is left to the report"
            in early.stderr)
    assert not page.exists()

    run_script("report.py", "--config", str(config), "2023-11-14", str(snapshot), check=0)
    document = parse(page.read_bytes())  # the report's page shows the inspection already loaded
    projects = [row[0] for row in project_cells(document)]
    expected = sorted(((r[1], r[4]) for r in expected_directory_rows()
                       if r[2] is None and "/" in r[1]), key=lambda r: (-r[1], r[0]))
    assert projects == [shown(name) for name, _ in expected]
    assert "projects/p4\\xff" in projects and len(projects) == 4

    page.write_bytes(b"before the inspection\n")
    result = run_script("project_inspector.py", "--config", str(config), "--tosql", check=0)
    assert "html: rewrote the page of 2023-11-14 with the inspection's projects" in result.stderr
    assert [row[0] for row in project_cells(parse(page.read_bytes()))] == projects


def project_cells(document) -> list[list[str]]:
    table = volume_section(document, 1).find("table", class_="projects")
    return [[cell.content for cell in row.find_all("td")] for row in table.find("tbody").find_all("tr")]


def _create_failing_trigger(db_url: str) -> None:
    with connect(db_url) as db:
        if db.engine == "mysql":
            db.execute("CREATE TRIGGER fail_file_size BEFORE INSERT ON file_size FOR EACH ROW"
                       " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'")
        else:
            db.execute("CREATE TRIGGER fail_file_size BEFORE INSERT ON file_size"
                       " BEGIN SELECT RAISE(ABORT, 'injected failure'); END")


def _tagged_rows(db_url: str) -> int:
    with connect(db_url) as db:
        return db.query("SELECT COUNT(*) FROM directory WHERE project_name LIKE '.hgi.old.%'")[0][0]


def test_tosql_failure_keeps_previous_rows_and_next_run_recovers(tmp_path: Path, db_url: str) -> None:
    config, _ = make_setup(tmp_path, db_url)
    inspect(config, "--tosql")
    before = directory_rows(db_url)
    _create_failing_trigger(db_url)
    result = run_script("project_inspector.py", "--config", str(config), "--tosql", check=1)
    assert "injected failure" in result.stderr
    assert directory_rows(db_url) == before
    assert _tagged_rows(db_url) == 0
    with connect(db_url) as db:
        db.execute("DROP TRIGGER fail_file_size")
        volume_id = db.query("SELECT volume_id FROM volume WHERE scratch_disk = 'scratch118'")[0][0]
        # a leftover of a crash outside a transaction (as older tools could leave)
        db.execute("INSERT INTO directory (project_name, directory_path, num_files, size, volume_id)"
                   " VALUES ('.hgi.old.projects/zz', NULL, 1, 1.0, ?)", (volume_id,))
    inspect(config, "--tosql")
    assert directory_rows(db_url) == expected_directory_rows()
    assert _tagged_rows(db_url) == 0


def test_loading_one_volume_never_touches_another(tmp_path: Path, db_url: str) -> None:
    config, _ = make_setup(tmp_path, db_url)
    with connect(db_url) as db:
        from db.migrate import ensure_schema
        ensure_schema(db.database)
        volume_id = db.insert("INSERT INTO volume (scratch_disk) VALUES ('scratch119')")
        db.execute("INSERT INTO directory (project_name, directory_path, num_files, size, volume_id)"
                   " VALUES ('projects/keep', NULL, 3, 2.5, ?)", (volume_id,))
        db.execute("INSERT INTO directory (project_name, directory_path, num_files, size, volume_id)"
                   " VALUES ('.hgi.old.projects/theirs', NULL, 3, 2.5, ?)", (volume_id,))
    inspect(config, "--tosql")
    with connect(db_url) as db:
        theirs = db.query("SELECT project_name, num_files, size FROM directory WHERE volume_id = ?"
                          " ORDER BY project_name", (volume_id,))
    assert [tuple(r) for r in theirs] == [(".hgi.old.projects/theirs", 3, 2.5),
                                          ("projects/keep", 3, 2.5)]
    assert [r for r in directory_rows(db_url) if r[0] == "scratch118"] == expected_directory_rows()


# ------------------------------------------------------------------ which snapshot, which path

def test_date_picks_that_snapshot_and_the_log_names_it(inspector_setup, tmp_path: Path) -> None:
    config, snapshot = inspector_setup
    newer = tmp_path / "mpistat" / snapshot_filename(dt.date(2023, 11, 20), 118)
    write_snapshot(str(newer), [entry(f"{R0}/new/f.bam", 1, 1001, 1)], mtime=T + 6 * DAY)
    newest = run_script("project_inspector.py", "--config", str(config), "--format", "tsv",
                        "--generic", "--noheader", check=0)
    assert [line.split("\t")[0] for line in newest.stdout.splitlines()] == [
        "projects", "projects/new"]
    assert f"volume scratch118: inspecting {newer}, the snapshot of 2023-11-20" in newest.stderr
    for written in ("20231114", "2023-11-14"):
        dated = inspect(config, "--format", "tsv", "--bytes", "--date", written)
        assert dated == expected_tsv(EXPECTED_DEPTH_2)
    result = run_script("project_inspector.py", "--config", str(config), "--date", "20231114",
                        check=0)
    assert f"volume scratch118: inspecting {snapshot}, the snapshot of 2023-11-14" in result.stderr
    missing = run_script("project_inspector.py", "--config", str(config), "--date", "20231115",
                         check=1)
    assert missing.stderr.endswith(
        f"project_inspector.py: failed: no snapshot for 20231115 in {tmp_path / 'mpistat'} for "
        "volume(s) 118 (volume 118: no file matching 20231115_118.dat.gz)\n")


def test_a_path_with_nothing_in_the_snapshot_gets_a_warning(inspector_setup) -> None:
    config, snapshot = inspector_setup
    result = run_script("project_inspector.py", "--config", str(config), "--format", "tsv",
                        "--generic", R0 + "/p1/tpyo", check=0)
    assert result.stdout == "Directory\tTotal\tBAM\tCRAM\tVCF\tPED/BED\tFiles\tLast Modified (days)\n"
    assert (f"nothing under {R0}/p1/tpyo in {snapshot} (the snapshot of 2023-11-14): no entry "
            "there, or a mistyped path") in result.stderr


def test_a_path_on_a_volume_but_under_no_root_is_refused(inspector_setup) -> None:
    config, _ = inspector_setup
    result = run_script("project_inspector.py", "--config", str(config),
                        MOUNT + "/realdata/mdt0/other", check=2)
    assert result.stderr == (f"project_inspector.py: error: {MOUNT}/realdata/mdt0/other is under "
                             "no configured inspection root (it is on volume 118); the roots are: "
                             f"{ROOT}\n")
    assert result.stdout == ""


def test_tosql_takes_the_run_lock_and_says_loaded_or_replaced(tmp_path: Path) -> None:
    config, _ = make_setup(tmp_path, f"sqlite:///{tmp_path}/lurge.db")
    with run_lock(str(tmp_path / "reports")):
        locked = run_script("project_inspector.py", "--config", str(config), "--tosql", check=1)
    assert (f"another lurge run (pid {os.getpid()}) holds {tmp_path / 'reports'}/.lurge.lock; not "
            "starting") in locked.stderr
    assert not (tmp_path / "lurge.db").exists()
    first = run_script("project_inspector.py", "--config", str(config), "--tosql", check=0)
    assert "database: 11 directory rows: loaded scratch118 (no earlier rows)" in first.stderr
    second = run_script("project_inspector.py", "--config", str(config), "--tosql", check=0)
    assert "database: 11 directory rows: replaced the rows of scratch118" in second.stderr
