"""The worker pool: results in order, and every error a task raises reaches the parent."""

from __future__ import annotations

import pytest

from utils.common.errors import LurgeError, SnapshotError
from utils.common.workers import map_in_workers


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
