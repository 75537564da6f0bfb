"""utils/report/tsv.py: the per-user TSV's exact bytes — order, NULLs, escapes, names that are not UTF-8."""

from __future__ import annotations

from pathlib import Path

from utils.report.rows import UserUsageRow
from utils.report.tsv import render_users, write_user_report

NOT_UTF8 = b"bad\xff\xfeutf8".decode("utf-8", "surrogateescape")


def test_rows_are_ordered_by_volume_user_and_group_with_exact_cells(tmp_path: Path) -> None:
    rows = [
        UserUsageRow("scratch119", "aa9", "hgi", True, 1, 1, 0.0),
        UserUsageRow("scratch118", "mm2", "ops", False, 7, 3, None),
        UserUsageRow("scratch118", NOT_UTF8, "tab\there", False, 2**70, 2, 12.5),
        UserUsageRow("scratch118", "mm2", "hgi", True, 0, 1, 3.0),
        UserUsageRow("scratch118", "10005", "back\\slash", False, 5, 1, 100.0),
    ]
    expected = (b"Lustre Volume\tUser\tUnix Group\tUsed (bytes)\tInodes\tLast Modified (days)\n"
                b"scratch118\t10005\tback\\\\slash\t5\t1\t100.0\n"
                b"scratch118\tbad\xff\xfeutf8\ttab\\there\t1180591620717411303424\t2\t12.5\n"
                b"scratch118\tmm2\thgi\t0\t1\t3.0\n"
                b"scratch118\tmm2\tops\t7\t3\t-\n"
                b"scratch119\taa9\thgi\t1\t1\t0.0\n")
    assert render_users(rows) == expected
    path = tmp_path / "report-output-files" / "user-report-20231114.tsv"
    write_user_report(str(path), rows)
    assert path.read_bytes() == expected
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    write_user_report(str(path), [])
    assert path.read_bytes() == expected.splitlines(keepends=True)[0]
