"""The per-user report: known answers for the TSV and the database, reruns, and the write order.

The snapshots are those of tests/report/test_report_run.py, whose lines carry
owners named in tests/data/ldap/directory.ldif (and some uids it does not
name).  Runs on SQLite and MariaDB (the ``db_url`` fixture).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.fixtures.database import connect
from tests.report.test_report_run import DATE, known_setup, sort_db  # noqa: F401 (a fixture)
from tests.scripts import run_script

USER_QUERY = """
SELECT v.scratch_disk, n.user_name, g.group_name, g.is_humgen, u.used, u.inodes,
       u.record_date, u.last_modified
FROM user_usage u
JOIN volume v ON v.volume_id = u.volume_id
JOIN unix_user n ON n.user_id = u.user_id
JOIN unix_group g ON g.group_id = u.unix_id
"""

EXPECTED_USER_TSV = """\
Lustre Volume\tUser\tUnix Group\tUsed (bytes)\tInodes\tLast Modified (days)
scratch118\t0\tops\t1024\t1\t7.0
scratch118\t10004\thgi\t10\t1\t-
scratch118\t10005\thgi\t0\t1\t1.0
scratch118\t99999\t77777\t123\t1\t0.0
scratch118\taa9\torphans\t0\t1\t3.0
scratch118\tjd1\thgi\t3048\t2\t10.0
scratch118\tjürgen\tghosts\t500\t1\t-
scratch118\tmm2\thgi\t1000\t1\t5.0
scratch118\tmm2\tmueller-lab\t209715200\t1\t2.5
scratch118\tsvc-build\talpha\t30\t1\t100.0
scratch119\tkt3\ttanaka-lab\t7\t1\t1.0
"""


def expected_user_rows() -> list[tuple]:
    return sort_db([
        ("scratch118", "0", "ops", False, 1024, 1, DATE, 7.0),
        ("scratch118", "10004", "hgi", True, 10, 1, DATE, None),
        ("scratch118", "10005", "hgi", True, 0, 1, DATE, 1.0),
        ("scratch118", "99999", "77777", False, 123, 1, DATE, 0.0),
        ("scratch118", "aa9", "orphans", True, 0, 1, DATE, 3.0),
        ("scratch118", "jd1", "hgi", True, 3048, 2, DATE, 10.0),
        ("scratch118", "jürgen", "ghosts", True, 500, 1, DATE, None),
        ("scratch118", "mm2", "hgi", True, 1000, 1, DATE, 5.0),
        ("scratch118", "mm2", "mueller-lab", True, 209715200, 1, DATE, 2.5),
        ("scratch118", "svc-build", "alpha", False, 30, 1, DATE, 100.0),
        ("scratch119", "kt3", "tanaka-lab", True, 7, 1, DATE, 1.0),
    ])


def user_rows(db_url: str, date: dt.date | None = None) -> list[tuple]:
    """The loaded per-user rows, normalised so both engines compare equal."""
    with connect(db_url) as db:
        where = " WHERE u.record_date = ?" if date else ""
        rows = db.query(USER_QUERY + where, (date,) if date else ())
    return sort_db([(volume, user, group, bool(humgen), used, inodes, day, last)
                    for volume, user, group, humgen, used, inodes, day, last in rows])


def count(db_url: str, table: str) -> int:
    with connect(db_url) as db:
        return db.query(f"SELECT COUNT(*) FROM {table}")[0][0]


def user_tsv(reports: Path) -> Path:
    return reports / "report-output-files" / "user-report-20231114.tsv"


def test_known_snapshot_gives_exact_user_tsv_and_rows(known_setup, db_url: str) -> None:  # noqa: F811
    config, files, _, reports = known_setup
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert user_tsv(reports).read_text(encoding="utf-8") == EXPECTED_USER_TSV
    assert user_rows(db_url) == expected_user_rows()
    with connect(db_url) as db:
        names = sorted(name for (name,) in db.query("SELECT user_name FROM unix_user"))
    assert names == ["0", "10004", "10005", "99999", "aa9", "jd1", "jürgen", "kt3", "mm2",
                     "svc-build"]
    assert "database: loaded 8 rows for 2023-11-14 (and 11 user rows)" in result.stderr
    assert not [path for path in (reports / "report-output-files").iterdir()
                if path.name.startswith(".lurge-tmp-")]


def test_user_rows_are_skipped_and_replaced_with_the_group_rows(known_setup,  # noqa: F811
                                                                db_url: str) -> None:
    config, files, _, reports = known_setup
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    user_tsv(reports).write_text("edited by hand\n")
    rerun = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert "nothing to do" in rerun.stderr
    assert user_tsv(reports).read_text() == "edited by hand\n"  # the group TSV marks it done
    assert count(db_url, "user_usage") == len(expected_user_rows())
    run_script("report.py", "--force", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert user_rows(db_url) == expected_user_rows()
    assert count(db_url, "user_usage") == len(expected_user_rows())
    assert count(db_url, "unix_user") == 10
    assert user_tsv(reports).read_text(encoding="utf-8") == EXPECTED_USER_TSV


def test_a_missing_group_tsv_rewrites_both_without_reloading(known_setup,  # noqa: F811
                                                             db_url: str) -> None:
    config, files, _, reports = known_setup
    run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    (reports / "report-output-files" / "report-20231114.tsv").unlink()
    user_tsv(reports).unlink()
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=0)
    assert "database: rows for 2023-11-14 already loaded; skipped" in result.stderr
    assert user_tsv(reports).read_text(encoding="utf-8") == EXPECTED_USER_TSV
    assert user_rows(db_url) == expected_user_rows()


def test_the_user_tsv_is_written_before_the_group_tsv(known_setup, db_url: str) -> None:  # noqa: F811
    """A group TSV that cannot be written leaves the user TSV complete: it came first."""
    config, files, _, reports = known_setup
    group_tsv = reports / "report-output-files" / "report-20231114.tsv"
    group_tsv.mkdir(parents=True)  # the rename onto a folder fails
    result = run_script("report.py", "--config", str(config), DATE.isoformat(), *files, check=1)
    assert f"could not write {group_tsv}" in result.stderr
    assert user_tsv(reports).read_text(encoding="utf-8") == EXPECTED_USER_TSV
    assert [path.name for path in (reports / "report-output-files").iterdir()
            if path.name.startswith(".lurge-tmp-")] == []
