"""Running the top-level scripts as real processes in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What would cite the private contract the project was built from (users never get it):
# its name, spelled apart here so that this line does not carry it, or a section sign.
CONTRACT_MARKS = "SP" "EC|\u00a7"


def run_script(script: str, *args: str, timeout: float = 300, env: dict | None = None,
               check: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python <script> args...`` from the repository; optionally assert its exit status."""
    environment = dict(os.environ, **(env or {}))
    result = subprocess.run([sys.executable, str(REPO / script), *args], cwd=REPO, env=environment,
                            capture_output=True, text=True, errors="surrogateescape",
                            timeout=timeout)
    if check is not None:
        assert result.returncode == check, (
            f"{script} exited {result.returncode}, expected {check}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result
