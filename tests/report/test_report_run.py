"""The usage report end to end: known answers, generated data, reruns and failures."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.fixtures.database import connect
from tests.configs import base_sections, write_config
from tests.fixtures.slapd import DIRECTORY_LDIF
from tests.report.test_html import group_cells, parse, volume_section
from tests.reference import inodes_by_gid, read_lines, usage_by_gid
from tests.scripts import run_script
from utils.manager.status import existing_tables
from utils.snapshots.discovery import snapshot_filename
from utils.demo.synthetic import SyntheticOptions, format_line, synthetic_lines, write_snapshot

T = 1_700_000_000  # snapshot time (file mtime): 2023-11-14
DAY = 86400
DATE = dt.date(2023, 11, 14)
MOUNT = "/lustre/scratch118"

USAGE_QUERY = """
SELECT v.scratch_disk, p.pi_name, g.group_name, g.is_humgen, u.used, u.quota, u.quota_used,
       u.record_date, u.archived, u.last_modified
FROM lustre_usage u
JOIN volume v ON v.volume_id = u.volume_id
JOIN unix_group g ON g.group_id = u.unix_id
LEFT JOIN pi p ON p.pi_id = u.pi_id
"""


def usage_rows(db_url: str, date: dt.date | None = None) -> list[tuple]:
    """The loaded report rows, normalised so both engines compare equal."""
    with connect(db_url) as db:
        where = " WHERE u.record_date = ?" if date else ""
        rows = db.query(USAGE_QUERY + where, (date,) if date else ())
    return sort_db([(vol, pi, group, bool(humgen), used, quota, quota_used, day, bool(archived),
                     last) for vol, pi, group, humgen, used, quota, quota_used, day, archived, last
                    in rows])


def line(path: str, size: int, gid: int, mtime: int, kind: str = "f", nlink: int = 1,
         uid: int = 501) -> bytes:
    return format_line(path.encode(), size, uid, gid, mtime, mtime, mtime, kind, 1000 + size,
                       nlink, 64768)


def known_snapshot_118() -> list[bytes]:
    """Owners (uids) from tests/data/ldap/directory.ldif: 10001 jd1, 10002 mm2, 10010
    svc-build, 10012 jürgen, 10020 aa9; 10004, 10005, 0 and 99999 have no user name there."""
    p = MOUNT + "/humgen/projects"
    return [
        # hgi (1001, humgen, PI Doe)
        line(f"{p}/hgi/a.bam", 1000, 1001, T - 10 * DAY, uid=10001),
        line(f"{p}/hgi/hard.bam", 3001, 1001, T - 5 * DAY, nlink=3, uid=10002),  # hard link: 1000
        line(f"{p}/hgi/deleting", 5000, 1001, T - 1 * DAY, nlink=0, uid=10005),  # nothing, but dated
        line(f"{p}/hgi", 4096, 1001, T - 20 * DAY, kind="d", nlink=2, uid=10001),  # 2048
        line(f"{p}/hgi/skewed", 10, 1001, T + 100, uid=10004),  # counted, its mtime ignored
        # mueller-lab (1002): 200 MiB, so never "archived"
        line(f"{p}/mueller/big.cram", 200 * 1024 * 1024, 1002, T - int(2.5 * DAY) - 3600,
             uid=10002),
        # orphans (1005, humgen without PI): nothing used but dated -> reported
        line(f"{p}/orphans/empty", 0, 1005, T - 3 * DAY, uid=10020),
        # ghosts (1006, PI entry missing): used, but only a future mtime
        line(f"{p}/ghosts/f", 500, 1006, T + 5000, uid=10012),
        # ops (2001, posix only): a directory
        line(MOUNT + "/ops", 4096, 2001, T - 7 * DAY, kind="d", nlink=4, uid=0),  # 1024
        # shared-dev (2002): nothing used, no valid mtime -> dropped
        line(MOUNT + "/shared/gone", 100, 2002, T + 50, nlink=0, uid=10010),
        # alpha (2004): a symlink
        line(MOUNT + "/alpha/link", 30, 2004, T - 100 * DAY, kind="l", uid=10010),
        # an unknown gid
        line(MOUNT + "/tmp/x", 123, 77777, T - 3456, uid=99999),
        # malformed lines for équipe-rouge (2003): never counted
        line(MOUNT + "/bad/1", 999, 2003, T - DAY).replace(b"\t64768", b""),
        line(MOUNT + "/bad/2", 999, 2003, T - DAY).replace(b"\t999\t", b"\t-999\t"),
        b"\n",
    ]


def known_snapshot_119() -> list[bytes]:
    return [line("/lustre/scratch119/humgen/projects/tanaka/x.vcf.gz", 7, 1003, T - DAY,
                 uid=10003)]


EXPECTED_TSV = """\
Lustre Volume\tPI\tUnix Group\tUsed (bytes)\tQuota (bytes)\tLast Modified (days)\tArchived Directories\tIs Humgen?\tQuota Used (bytes)\tInodes\tInode Quota\tInode Quota Used\tDays Until Full (bytes)\tDays Until Full (inodes)\tStatus
scratch118\t-\t77777\t123\t-\t0.0\t-\tFalse\t0\t1\t-\t0\t-\t-\t-
scratch118\t-\talpha\t30\t-\t100.0\t-\tFalse\t0\t1\t-\t0\t-\t-\t-
scratch118\t-\tghosts\t500\t-\t-\t-\tTrue\t1024\t1\t-\t0\t-\t-\t-
scratch118\t-\tops\t1024\t-\t7.0\t{archive_a}/ops\tFalse\t0\t1\t-\t0\t-\t-\t-
scratch118\t-\torphans\t0\t-\t3.0\t-\tTrue\t-\t1\t-\t-\t-\t-\t-
scratch118\tDoe\thgi\t4058\t102400\t1.0\t{archive_b}/hgi\tTrue\t4096\t5\t-\t0\t-\t-\tOK
scratch118\tMüller-Lüdenscheidt\tmueller-lab\t209715200\t204800000\t2.5\t-\tTrue\t307200000\t1\t-\t0\t0.0\t-\tNot OK
scratch119\tTanaka\ttanaka-lab\t7\t1024000\t1.0\t-\tTrue\t8192\t1\t-\t0\t-\t-\tOK
"""


def sort_db(rows: list[tuple]) -> list[tuple]:
    """Rows sorted with NULLs first in every column."""
    return sorted(rows, key=lambda r: tuple((v is not None, v) for v in r))


def expected_db_rows() -> list[tuple]:
    return sort_db([
        ("scratch118", None, "77777", False, 123, None, 0, DATE, False, 0.0),
        ("scratch118", None, "alpha", False, 30, None, 0, DATE, False, 100.0),
        ("scratch118", None, "ghosts", True, 500, None, 1024, DATE, False, None),
        ("scratch118", None, "ops", False, 1024, None, 0, DATE, True, 7.0),
        ("scratch118", None, "orphans", True, 0, None, None, DATE, False, 3.0),
        ("scratch118", "Doe", "hgi", True, 4058, 102400, 4096, DATE, True, 1.0),
        ("scratch118", "Müller-Lüdenscheidt", "mueller-lab", True, 209715200, 204800000,
         307200000, DATE, False, 2.5),
        ("scratch119", "Tanaka", "tanaka-lab", True, 7, 1024000, 8192, DATE, False, 1.0),
    ])


@pytest.fixture
def known_setup(tmp_path: Path, db_url: str, slapd_server, fake_lfs):
    """Config, snapshots and archive markers for the known-answer report."""
    archive_a, archive_b = tmp_path / "archive-a", tmp_path / "archive-b"
    for root, group in ((archive_a, "ops"), (archive_b, "ops"), (archive_b, "hgi"),
                        (archive_a, "mueller-lab")):
        (root / group).mkdir(parents=True, exist_ok=True)
        (root / group / ".imirrored").touch()
    (archive_a / "alpha").mkdir()  # a directory without the marker
    fake_lfs.default(used=0, soft=0, hard=0)
    fake_lfs.set("hgi", used=4, soft=50, hard=100)
    fake_lfs.set("mueller-lab", used=300000, soft=100000, hard=200000, over=True)
    fake_lfs.set("orphans", exit=3)
    fake_lfs.set("ghosts", used=1, soft=0, hard=0)
    fake_lfs.set("tanaka-lab", used=8, soft=500, hard=1000, wrap=True)
    volumes = [
        {"number": 118, "mount": MOUNT, "archive_roots": [str(archive_a), str(archive_b)]},
        {"number": 119, "mount": "/lustre/scratch119", "archive_roots": [str(archive_a)]},
    ]
    sections = base_sections(tmp_path, db_url, slapd_server.url, volumes,
                             quota={"lfs": fake_lfs.command, "timeout": 10})
    config = write_config(tmp_path / "lurge.toml", sections)
    files = []
    for number, lines in ((118, known_snapshot_118()), (119, known_snapshot_119())):
        path = tmp_path / "mpistat" / snapshot_filename(DATE, number)
        write_snapshot(str(path), lines, mtime=T)
        files.append(str(path))
    expected_tsv = EXPECTED_TSV.format(archive_a=archive_a, archive_b=archive_b)
    return config, files, expected_tsv, tmp_path / "reports"


def test_known_snapshot_gives_exact_tsv_and_rows(known_setup, db_url: str, fake_lfs) -> None:
    config, files, expected_tsv, reports = known_setup
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    tsv = reports / "report-output-files" / "report-20231114.tsv"
    assert tsv.read_text(encoding="utf-8") == expected_tsv
    assert usage_rows(db_url) == expected_db_rows()
    assert "skipped 3 malformed lines of 15" in result.stderr
    queried = sorted(tuple(call) for call in fake_lfs.calls())
    assert queried == sorted(
        [("quota", "-q", "-g", name, MOUNT)
         for name in ("77777", "alpha", "ghosts", "hgi", "mueller-lab", "ops", "orphans")]
        + [("quota", "-q", "-g", "tanaka-lab", "/lustre/scratch119")])
    assert not list((reports / ".lurge-staging").glob("*"))


def test_rerun_adds_nothing_and_force_replaces_exactly(known_setup, db_url: str) -> None:
    config, files, expected_tsv, reports = known_setup
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    tsv = reports / "report-output-files" / "report-20231114.tsv"
    first = usage_rows(db_url)
    tsv.write_text("edited by hand\n")
    rerun = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert "nothing to do" in rerun.stderr
    assert usage_rows(db_url) == first
    assert tsv.read_text() == "edited by hand\n"
    run_script("report.py", "--force", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert usage_rows(db_url) == first
    assert tsv.read_text(encoding="utf-8") == expected_tsv
    with connect(db_url) as db:
        assert db.query("SELECT COUNT(*) FROM lustre_usage")[0][0] == len(expected_db_rows())


def test_missing_tsv_is_rewritten_without_reloading(known_setup, db_url: str) -> None:
    config, files, expected_tsv, reports = known_setup
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    tsv = reports / "report-output-files" / "report-20231114.tsv"
    tsv.unlink()
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert "database: rows for 2023-11-14 already loaded; skipped" in result.stderr
    assert tsv.read_text(encoding="utf-8") == expected_tsv
    assert usage_rows(db_url) == expected_db_rows()


def test_the_page_is_written_from_the_loaded_rows_before_the_tsv(known_setup) -> None:
    config, files, expected_tsv, reports = known_setup
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    page = reports / "report-output-files" / "report-20231114.html"
    tsv = reports / "report-output-files" / "report-20231114.tsv"
    wrote_page = result.stderr.index(f"html: wrote {page} (2 volumes, 8 groups, ")
    assert wrote_page < result.stderr.index(f"tsv: wrote {tsv} (8 rows)")
    document = parse(page.read_bytes())
    tsv_rows = [line.split("\t") for line in expected_tsv.splitlines()[1:]]
    for number, volume in enumerate(("scratch118", "scratch119"), 1):
        cells = group_cells(volume_section(document, number))
        # one table row per TSV row: group, PI, used and archive folder as the TSV has them
        assert sorted((row[0], row[1], row[-1]) for row in cells) == sorted(
            (group, pi, "" if archived == "-" else archived)
            for vol, pi, group, _, _, _, archived, *_ in tsv_rows if vol == volume)
    assert [row[0] for row in group_cells(volume_section(document, 1))][0] == "mueller-lab"

    tsv.unlink()  # the page is rewritten whenever the report publishes
    page.write_bytes(b"stale\n")
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert page.read_bytes() != b"stale\n" and tsv.read_text(encoding="utf-8") == expected_tsv


def test_html_only_rewrites_the_page_from_the_database(known_setup, tmp_path: Path) -> None:
    config, files, _, reports = known_setup
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    page = reports / "report-output-files" / "report-20231114.html"
    written = page.read_bytes()
    page.unlink()
    for snapshot in files:  # no snapshot is read
        os.unlink(snapshot)
    result = run_script("report.py", "--config", str(config), "--html-only", "20231114", check=0)
    assert page.read_bytes() == written
    assert f"{page}: page written from the database" in result.stderr
    assert sorted(os.listdir(page.parent)) == ["report-20231114.html", "report-20231114.tsv",
                                               "user-report-20231114.tsv"]

    refused = run_script("report.py", "--config", str(config), "--html-only", "2023-11-15", check=2)
    assert refused.stderr.endswith(
        " holds no report rows for 2023-11-15: there is nothing to build its page from (report "
        "the date first: report.py DATE FILE...)\n")
    assert refused.stderr.startswith("report.py: error: the database ")
    assert sorted(os.listdir(page.parent)) == ["report-20231114.html", "report-20231114.tsv",
                                               "user-report-20231114.tsv"]


def test_a_link_planted_at_the_page_is_replaced_not_followed(known_setup, tmp_path: Path) -> None:
    config, files, _, reports = known_setup
    target = tmp_path / "precious.txt"
    target.write_bytes(b"not yours\n")
    page = reports / "report-output-files" / "report-20231114.html"
    page.parent.mkdir()
    page.symlink_to(target)
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert not page.is_symlink() and page.read_bytes().startswith(b"<!DOCTYPE html>")
    assert target.read_bytes() == b"not yours\n"


@pytest.mark.parametrize("args, message", [
    (["--html-only", "2023-11-14", "x.dat.gz"], "--html-only takes no FILE"),
    (["--html-only", "--force", "2023-11-14"], "--html-only takes no --force"),
    (["--html-only", "--partial", "--force", "2023-11-14", "x"],
     "--html-only takes no FILE or --force or --partial"),
    (["2023-11-14"], "no FILE given: a report reads the date's snapshot files (or use --html-only "
                     "DATE to write its page from the database)"),
])
def test_what_html_only_refuses(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_script("report.py", "--config", str(tmp_path / "absent.toml"), *args, check=2)
    suffix = "" if message.startswith("no FILE") else ": it writes DATE's page from the database alone"
    assert result.stderr == f"report.py: error: {message}{suffix}\n"


def test_truncated_snapshot_publishes_nothing(known_setup, db_url: str, tmp_path: Path) -> None:
    config, files, _, reports = known_setup
    big = tmp_path / "mpistat" / snapshot_filename(DATE, 119)
    write_snapshot(str(big), synthetic_lines("/lustre/scratch119", SyntheticOptions(lines=30_000)),
                   mtime=T, truncate_bytes=500)
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), files[0], str(big),
                        check=1)
    assert f"failed snapshot {big}" in result.stderr
    assert not list((reports / "report-output-files").glob("*"))  # no TSV, no temporary
    assert usage_rows(db_url) == []
    assert not list((reports / ".lurge-staging").glob("*"))


def test_unconfigured_volume_is_a_usage_error(known_setup, tmp_path: Path) -> None:
    config, _, _, _ = known_setup
    stray = tmp_path / "mpistat" / snapshot_filename(DATE, 555)
    write_snapshot(str(stray), [line("/x", 1, 1, T)], mtime=T)
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), str(stray), check=2)
    assert "volume 555 is not configured" in result.stderr


def generated_setup(tmp_path: Path, db_url: str, ldap_url: str, volumes=(118, 119, 121)):
    snapshot_time = 1_764_000_000
    date = dt.datetime.fromtimestamp(snapshot_time).date()
    files = {}
    for index, number in enumerate(volumes):
        path = tmp_path / "mpistat" / snapshot_filename(date, number)
        path.parent.mkdir(exist_ok=True)
        options = SyntheticOptions(seed=10 + index, lines=40_000, snapshot_time=snapshot_time,
                                   project_gids=(1001, 1002, 1005), other_gids=(2001, 4242, 99999),
                                   malformed_fraction=0.01, unusual_fraction=0.01,
                                   bad_base64_fraction=0.005)
        write_snapshot(str(path), synthetic_lines(f"/lustre/scratch{number}", options),
                       mtime=snapshot_time + 0.5)
        files[number] = str(path)
    config = write_config(tmp_path / "lurge.toml", base_sections(
        tmp_path, db_url, ldap_url, [{"number": n, "mount": f"/lustre/scratch{n}"} for n in volumes]))
    return config, date, files


def test_generated_tsv_equals_db_and_independent_sums(tmp_path: Path, db_url: str,
                                                      slapd_server) -> None:
    config, date, files = generated_setup(tmp_path, db_url, slapd_server.url)
    run_script("report.py", "--config", str(config), date.isoformat(), *files.values(), check=0)
    tsv = tmp_path / "reports" / "report-output-files" / f"report-{date:%Y%m%d}.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()[1:]
    null = lambda v: None if v == "-" else v  # noqa: E731
    from_tsv = sort_db([
        (vol, null(pi), group, humgen == "True", int(used), None if quota == "-" else int(quota),
         None if qused == "-" else int(qused), date, arch != "-", None if lm == "-" else float(lm))
        for vol, pi, group, used, quota, lm, arch, humgen, qused, *_ in (l.split("\t") for l in lines)
    ])
    assert usage_rows(db_url) == from_tsv
    for number, path in files.items():
        snapshot_time = os.stat(path).st_mtime
        lines_read = read_lines(path)
        expected = {gid: used for gid, (used, mtime) in usage_by_gid(lines_read,
                                                                      snapshot_time).items()
                    if used or mtime is not None}
        inodes = inodes_by_gid(lines_read)
        volume_rows = [r for r in from_tsv if r[0] == f"scratch{number}"]
        assert sum(r[4] for r in volume_rows) == sum(expected.values())
        assert len(volume_rows) == len(expected)
        tsv_inodes = sum(int(cells[9]) for cells in (l.split("\t") for l in lines)
                         if cells[0] == f"scratch{number}")
        assert tsv_inodes == sum(inodes[gid] for gid in expected)


# ------------------------------------------------------------------ what report.py refuses

def nothing_loaded(db_url: str) -> bool:
    """No report rows (refused runs stop before they even create the tables)."""
    with connect(db_url) as db:
        return "lustre_usage" not in existing_tables(db.database) or not db.query(
            "SELECT 1 FROM lustre_usage LIMIT 1")


def test_a_file_of_another_date_is_refused(known_setup, db_url: str, tmp_path: Path) -> None:
    config, files, _, reports = known_setup
    result = run_script("report.py", "--config", str(config), "2023-11-13", *files, check=2)
    assert result.stderr == (f"report.py: error: {files[0]}: its name is of 2023-11-14, not "
                             "2023-11-13; a report holds one date's snapshots only\n")
    assert not (reports / "report-output-files").exists()
    assert nothing_loaded(db_url)


def test_a_set_without_every_volume_needs_partial(known_setup, db_url: str, tmp_path: Path) -> None:
    config, files, expected_tsv, reports = known_setup
    result = run_script("report.py", "--config", str(config), "20231114", files[0], check=2)
    assert result.stderr == ("report.py: error: no file given for volume(s) 119 of 2023-11-14: a "
                             "date's report covers every configured volume; give them all, or "
                             "--partial to report only these (see docs/recovery.md)\n")
    assert nothing_loaded(db_url) and not (reports / "report-output-files").exists()

    partial = run_script("report.py", "--partial", "--config", str(config), "20231114", files[0],
                         check=0)
    assert "--partial: reporting 2023-11-14 without volume(s) 119" in partial.stderr
    tsv = reports / "report-output-files" / "report-20231114.tsv"
    assert tsv.read_text(encoding="utf-8") == "".join(
        line for line in expected_tsv.splitlines(keepends=True) if "scratch119" not in line)
    assert usage_rows(db_url) == [row for row in expected_db_rows() if row[0] == "scratch118"]


@pytest.mark.parametrize("kind", ["folder", "dangling link", "missing", "not a snapshot name"])
def test_a_file_that_is_not_a_snapshot_is_named(known_setup, tmp_path: Path, kind: str) -> None:
    config, files, _, _ = known_setup
    path = tmp_path / "mpistat" / "20231114_121.dat.gz"
    reason = {"folder": f"{path} is a folder, not a snapshot file",
              "dangling link": f"{path} is a dangling symbolic link (to {tmp_path / 'gone'})",
              "missing": f"{path} does not exist",
              "not a snapshot name": f"{tmp_path / 'notes.txt'}: not a snapshot file name ([paths] "
                                     "snapshot_pattern is '{date}_{volume}.dat.gz')"}[kind]
    if kind == "folder":
        path.mkdir()
    elif kind == "dangling link":
        path.symlink_to(tmp_path / "gone")
    elif kind == "not a snapshot name":
        path = tmp_path / "notes.txt"
        path.write_text("hello\n")
    result = run_script("report.py", "--config", str(config), "2023-11-14", *files, str(path),
                        check=2)
    suffix = "" if kind == "not a snapshot name" else "; every FILE must be a snapshot file"
    assert result.stderr == f"report.py: error: {reason}{suffix}\n"


def test_the_date_in_either_form_and_an_invalid_one(known_setup, tmp_path: Path) -> None:
    config, files, expected_tsv, reports = known_setup
    bad = run_script("report.py", "--config", str(config), "2023-02-30", *files, check=2)
    assert bad.stderr.endswith("report.py: error: argument DATE: invalid date '2023-02-30': day is "
                               "out of range for month\n")
    run_script("report.py", "--config", str(config), "20231114", *files, check=0)
    assert (reports / "report-output-files" / "report-20231114.tsv").read_text(
        encoding="utf-8") == expected_tsv


def test_the_date_and_volume_come_from_the_configured_pattern(tmp_path: Path, db_url: str) -> None:
    sections = base_sections(tmp_path, db_url, f"ldif:{DIRECTORY_LDIF}",
                             [{"number": 118, "mount": MOUNT}])
    sections["paths"]["snapshot_pattern"] = "{date}_scratch{volume}.*.*.stats.gz"
    config = write_config(tmp_path / "lurge.toml", sections)
    snapshot = tmp_path / "mpistat" / "20231114_scratch118.1a2b.3c4d.stats.gz"
    write_snapshot(str(snapshot), known_snapshot_118(), mtime=T)
    link = tmp_path / "latest.gz"  # a link's target names the file
    link.symlink_to(snapshot)
    result = run_script("report.py", "--config", str(config), "20231114", str(link), check=0)
    assert "report for 2023-11-14: 1 volume on 1 worker\n" in result.stderr
    assert [row[2] for row in usage_rows(db_url)] == [
        "77777", "alpha", "ghosts", "ops", "orphans", "hgi", "mueller-lab"]
    wrong = run_script("report.py", "--config", str(config), "20231114",
                       str(tmp_path / "mpistat" / "20231114_118.dat.gz"), check=2)
    assert "does not exist" in wrong.stderr


def test_verbose_reaches_the_workers(tmp_path: Path) -> None:
    config, date, files = generated_setup(tmp_path, f"sqlite:///{tmp_path}/lurge.db",
                                          f"ldif:{DIRECTORY_LDIF}", volumes=(118, 119))
    quiet = run_script("report.py", "--config", str(config), date.isoformat(), *files.values(),
                       check=0)
    assert " DEBUG " not in quiet.stderr
    assert "report for 2025-11-24: 2 volumes on 2 workers" in quiet.stderr
    loud = run_script("report.py", "-v", "--force", "--config", str(config), date.isoformat(),
                      *files.values(), check=0)
    debug = [line for line in loud.stderr.splitlines()
             if " DEBUG utils.report.quota[" in line and "quotas disabled" in line]
    # one per volume (quotas are disabled in this set-up), each logged by the pool
    # worker that read it: one worker may take both volumes when it is quick
    assert len(debug) == 2
    assert sorted(line.rsplit(" on ", 1)[1].split()[0] for line in debug) == sorted(
        f"/lustre/scratch{volume}" for volume in files)
    parent = {line.split("[")[1].split("]")[0] for line in loud.stderr.splitlines()
              if " utils.report.run[" in line}
    workers = {line.split("[")[1].split("]")[0] for line in debug}
    assert len(parent) == 1 and workers and not workers & parent


# ------------------------------------------------------------------ staging files

def test_staging_is_private_whatever_the_umask(tmp_path: Path) -> None:
    from utils.report.rows import UsageRow
    from utils.report.staging import prepare_staging, read_rows, staging_path, write_rows
    row = UsageRow("scratch118", None, "hgi", 1, None, 1.0, None, True, None)
    previous = os.umask(0)
    try:
        assert prepare_staging(str(tmp_path)) == []
        path = staging_path(str(tmp_path), "report", "20231114", 118)
        write_rows(path, [row])
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / ".lurge-staging").st_mode & 0o777 == 0o700
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_rows(path) == [row]
    assert prepare_staging(str(tmp_path)) == [os.path.basename(path)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the folder's mode")
def test_an_unwritable_report_folder_is_one_clear_line(known_setup, tmp_path: Path) -> None:
    config, files, _, reports = known_setup
    reports.chmod(0o555)
    try:
        result = run_script("report.py", "--config", str(config), "2023-11-14", *files, check=1)
    finally:
        reports.chmod(0o755)
    assert result.stderr == (f"report.py: failed: cannot write in the report folder {reports} "
                             "([paths] report_dir): permission denied or a read-only file system\n")
