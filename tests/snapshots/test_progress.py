"""Reading a snapshot reports how much of the compressed file it has read."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from utils.snapshots.reader import FilePosition, read_blocks


def test_a_snapshot_read_reports_its_compressed_position(tmp_path: Path) -> None:
    path = tmp_path / "s.dat.gz"
    data = os.urandom(3 * 1024 * 1024).hex().encode()  # incompressible text, ~6 MiB
    path.write_bytes(gzip.compress(b"\n".join(data[i:i + 1000] for i in range(0, len(data), 1000))))
    position = FilePosition()
    assert position.fraction() == 0.0
    seen = [position.fraction()
            for _ in read_blocks(str(path), 1024 * 1024, fast=False, position=position)]
    assert 0 < seen[0] < 1 and seen == sorted(seen)
    assert position.fraction() == 1.0  # closed once read
