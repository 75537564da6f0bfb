"""Block buffers: uninitialised bytearrays behave as bytearrays; allocator tuning is harmless;
the byte search finds what ``in`` finds."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils.snapshots import buffers
from utils.snapshots.buffers import contains_byte, uninitialized_bytearray


def test_uninitialized_bytearray_is_an_ordinary_resizable_bytearray() -> None:
    block = uninitialized_bytearray(1 << 20)
    assert type(block) is bytearray and len(block) == 1 << 20
    block[:6] = b"line\n\n"
    del block[6:]
    block += b"more"
    assert block == bytearray(b"line\n\nmore")
    assert uninitialized_bytearray(0) == bytearray()


# Bytes glibc holds in mmapped chunks, before and after a 16 MiB allocation.
MMAPPED_GROWTH = """
import ctypes, sys
sys.path.insert(0, {repo!r})
from utils.snapshots.buffers import keep_freed_memory
if {tuned}:
    keep_freed_memory()

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo2.restype = MallInfo2
before = mallinfo2().hblkhd
block = bytearray(16 * 1024 * 1024)
print(mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning is glibc's")
@pytest.mark.parametrize("tuned", [False, True])
def test_tuned_allocator_serves_blocks_from_its_heap(tuned: bool) -> None:
    code = MMAPPED_GROWTH.format(repo=str(Path(__file__).parents[2]), tuned=tuned)
    growth = int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True, timeout=60).stdout)
    assert (growth == 0) is tuned  # untuned, glibc maps a fresh 16 MiB region


@pytest.mark.parametrize("with_libc", [True, False])
def test_contains_byte_finds_what_in_finds(monkeypatch: pytest.MonkeyPatch, with_libc: bool) -> None:
    if not with_libc:
        monkeypatch.setattr(buffers, "_MEMCHR", None)
    elif buffers._MEMCHR is None:
        pytest.skip("no C library memchr here")
    block = bytearray(b"a\tb\n" * 100_000)
    for text in (b"", b"\r", b"x\r", b"\rx", bytes(block), bytes(block) + b"\r",
                 b"\r" + bytes(block), bytes(block[:1000]) + b"\r" + bytes(block[1000:])):
        assert contains_byte(np.frombuffer(text, dtype=np.uint8), 0x0D) is (b"\r" in text)
    view = np.frombuffer(block, dtype=np.uint8)
    block[-1] = 0x0D  # the array shares the bytearray's memory: the last byte is searched
    assert contains_byte(view, 0x0D) and not contains_byte(view[:-1], 0x0D)
    assert contains_byte(view[1::2], 0x0D) and not contains_byte(view[::2], 0x0D)  # strided
