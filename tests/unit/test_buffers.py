"""Block buffers: uninitialised bytearrays behave as bytearrays; allocator tuning is harmless."""

from __future__ import annotations

from utils.buffers import keep_freed_memory, uninitialized_bytearray


def test_uninitialized_bytearray_is_an_ordinary_resizable_bytearray() -> None:
    block = uninitialized_bytearray(1 << 20)
    assert type(block) is bytearray and len(block) == 1 << 20
    block[:6] = b"line\n\n"
    del block[6:]
    block += b"more"
    assert block == bytearray(b"line\n\nmore")
    assert uninitialized_bytearray(0) == bytearray()


def test_keep_freed_memory_can_be_called_again() -> None:
    keep_freed_memory()
    keep_freed_memory()
    assert bytes(bytearray(1 << 22))[:3] == b"\0\0\0"  # allocation still works
