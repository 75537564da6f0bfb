"""run_lock: one holder at a time, and nothing planted at the lock's name is followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from utils.common.locking import AlreadyRunning, UnsafeLockFile, run_lock


def test_lock_writes_the_pid_and_refuses_a_second_holder(tmp_path: Path) -> None:
    with run_lock(str(tmp_path), ".test.lock"):
        assert (tmp_path / ".test.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(AlreadyRunning, match=rf"\(pid {os.getpid()}\) holds {tmp_path}/\.test\.lock"):
            with run_lock(str(tmp_path), ".test.lock"):
                pass
    with run_lock(str(tmp_path), ".test.lock"):  # released: taken again
        pass


def test_a_symlink_at_the_lock_name_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_bytes(b"keep me\n")
    (tmp_path / "reports").mkdir()
    lock = tmp_path / "reports" / ".lurge.lock"
    lock.symlink_to(victim)

    with pytest.raises(UnsafeLockFile, match=f"{lock} is a symbolic link"):
        with run_lock(str(tmp_path / "reports")):
            pytest.fail("the lock was taken through a link")

    assert victim.read_bytes() == b"keep me\n"
    assert lock.is_symlink()


def test_a_dangling_symlink_creates_nothing_at_its_target(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "created-by-a-follower"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / ".lurge.lock").symlink_to(target)

    with pytest.raises(UnsafeLockFile):
        with run_lock(str(tmp_path)):
            pass

    assert not target.exists()


def test_a_hard_link_or_a_directory_at_the_lock_name_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_bytes(b"keep me\n")
    os.link(victim, tmp_path / ".lurge.lock")
    with pytest.raises(UnsafeLockFile, match="has other hard links"):
        with run_lock(str(tmp_path)):
            pass
    assert victim.read_bytes() == b"keep me\n"

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".lurge.lock").mkdir()
    with pytest.raises(UnsafeLockFile, match="is a directory"):
        with run_lock(str(tmp_path / "sub")):
            pass
