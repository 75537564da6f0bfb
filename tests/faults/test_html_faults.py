"""A full disk while the HTML page is written: the previous page stays, no temporary file is left.

The writer runs in its own process with a file-size limit (RLIMIT_FSIZE,
SIGXFSZ ignored), so the write that crosses the limit fails with EFBIG as
on a full disk.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.faults.common import listing
from tests.faults.test_disk_faults import file_size_limit
from tests.report.html_samples import DATE
from tests.scripts import REPO
from utils.report.html import html_path

LIMIT = 64 * 1024  # the sample page is several times larger
WRITER = """
import sys
from tests.report.html_samples import sample_report
from utils.report.html import write_html
write_html(sys.argv[1], sample_report())
"""


def write_page(path: str, limit: int | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WRITER, path], cwd=REPO, capture_output=True,
                          text=True, timeout=300,
                          preexec_fn=None if limit is None else file_size_limit(limit))


def test_a_page_too_large_for_the_disk_leaves_the_previous_one(tmp_path: Path) -> None:
    path = html_path(str(tmp_path), DATE)
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(b"yesterday's run of the same date\n")

    result = write_page(path, LIMIT)
    assert result.returncode == 1
    assert "OSError: [Errno 27] File too large" in result.stderr
    assert Path(path).read_bytes() == b"yesterday's run of the same date\n"
    assert listing(tmp_path / "report-output-files") == ["report-20240314.html"]

    result = write_page(path, None)
    assert result.returncode == 0, result.stderr
    assert Path(path).stat().st_size > LIMIT
    assert listing(tmp_path / "report-output-files") == ["report-20240314.html"]
