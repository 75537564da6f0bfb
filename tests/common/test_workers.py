"""The worker pool: results in order, and every error a task raises reaches the parent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from utils.common.errors import LurgeError, SnapshotError
from utils.common.workers import map_in_workers

REPO = Path(__file__).resolve().parents[2]


class _Unpicklable(Exception):
    """An error that cannot be pickled (like ISA-L's, whose module cannot be imported by name)."""

    def __reduce__(self):
        raise TypeError("cannot pickle this error")


def square_or_fail(item: int) -> int:
    """Runs in a worker: the square of ``item``; 3 raises a picklable error, 4 one that is not."""
    if item == 3:
        raise SnapshotError("failed snapshot three.dat.gz: damaged")
    if item == 4:
        raise _Unpicklable("four is damaged")
    return item * item


def test_results_come_back_in_order() -> None:
    assert map_in_workers(square_or_fail, [5, 1, 2], processes=2) == [25, 1, 4]


def test_a_picklable_error_reaches_the_parent_as_itself() -> None:
    with pytest.raises(SnapshotError, match=r"^failed snapshot three.dat.gz: damaged$"):
        map_in_workers(square_or_fail, [1, 3], processes=2)


def test_an_unpicklable_error_reaches_the_parent_with_its_message() -> None:
    with pytest.raises(LurgeError, match=r"^_Unpicklable: four is damaged$"):
        map_in_workers(square_or_fail, [1, 4], processes=2)


def heavy_modules_loaded(_: int) -> list[str]:
    """Runs in a worker: which of the suite's heavy libraries it has imported."""
    return sorted({name.split(".")[0] for name in sys.modules} & {"sqlalchemy", "matplotlib", "db"})


def test_workers_do_not_import_the_script_that_started_them(tmp_path) -> None:
    """A script that imports the database layer and the charts (as report.py does) starts
    workers that import only the task's own module, so each stays small."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import db.connection, matplotlib
        from utils.common.workers import map_in_workers
        from tests.common.test_workers import heavy_modules_loaded
        if __name__ == "__main__":
            print(map_in_workers(heavy_modules_loaded, [1, 2], processes=2))
            print(sorted(name for name in ("db", "matplotlib") if name in sys.modules))
        """), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout == "[[], []]\n['db', 'matplotlib']\n"


def test_worker_modules_import_no_database_or_page_code() -> None:
    """What runs in a worker (each pass's read and aggregation) stays free of the
    database layer, the page's templates and its charts."""
    workers = ("utils.report.worker", "utils.inspector.worker", "utils.manager.fused_worker",
               "utils.splitter.split")
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); "
            + "; ".join(f"import {module}" for module in workers)
            + "; print(sorted({name.split('.')[0] for name in sys.modules}"
              " & {'db', 'sqlalchemy', 'alembic', 'jinja2', 'matplotlib', 'boto3'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout == "[]\n"
