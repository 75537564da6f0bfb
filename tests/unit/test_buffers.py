"""Block buffers: uninitialised bytearrays behave as bytearrays; allocator tuning is harmless."""

from __future__ import annotations

import platform

import pytest

from utils.buffers import keep_freed_memory, uninitialized_bytearray


def test_uninitialized_bytearray_is_an_ordinary_resizable_bytearray() -> None:
    block = uninitialized_bytearray(1 << 20)
    assert type(block) is bytearray and len(block) == 1 << 20
    block[:6] = b"line\n\n"
    del block[6:]
    block += b"more"
    assert block == bytearray(b"line\n\nmore")
    assert uninitialized_bytearray(0) == bytearray()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning is glibc's")
def test_glibc_accepts_the_allocator_settings_once() -> None:
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # already applied: not tried again
