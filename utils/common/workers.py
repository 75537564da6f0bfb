"""Worker processes for the per-volume passes: they log like the parent and leave stopping to it.

Stopping (SIGTERM from ``bkill``, Ctrl-C) is the parent's decision: workers
ignore Ctrl-C, and a stop terminates the pool, so no worker is left behind
and no semaphore leaks.  Otherwise (every task done, or one failed) the
workers are simply told to leave and waited for.  A worker that receives SIGTERM itself (``bkill`` signals
every process of the job) ends at once when it is busy with a task; an idle
one first unwinds, which releases the pool's queue lock it holds while it
waits for a task (killed outright, it would keep that lock forever and the
parent's clean-up would wait for it forever).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.pool
import os
import pickle
import signal
import sys
from types import FrameType
from typing import Callable, Iterator, Sequence, TypeVar

from utils.common.errors import LurgeError
from utils.common.logs import setup_logging

T = TypeVar("T")
R = TypeVar("R")
_busy = False  # in a worker: whether a task is running


def map_in_workers(func: Callable[[T], R], items: Sequence[T], processes: int) -> list[R]:
    """``[func(item) for item in items]``, one task per item, on a pool of spawned workers.

    ``func`` must be a module-level function (it is pickled).  Workers log at
    the parent's level, so ``-v`` reaches them too.
    """
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    context = multiprocessing.get_context("spawn")
    with _main_script_hidden():
        pool = context.Pool(processes, initializer=start_worker, initargs=(verbose,))
    try:
        return pool.map(_Task(func), items, chunksize=1)
    except KeyboardInterrupt:  # a stop: abandon the tasks in progress
        pool.terminate()
        raise
    finally:  # every task has ended: the idle workers leave when told, no signal needed
        pool.close()
        pool.join()


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Start workers that import only the task's own module, not the script.

    A spawned worker first runs the imports of the script that started it
    (``report.py`` brings the database layer and the page's charts) when the
    main module has a file and no module name; hiding the file while the pool
    starts its workers spares each of them that memory (about 60 MB).  Tasks
    are module-level functions of ``utils``, which the workers import by name.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not hasattr(main, "__file__"):
        yield
        return
    script = main.__file__
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = script


class _Task:
    """``func`` run with the worker marked busy (picklable when ``func`` is)."""

    def __init__(self, func: Callable[[T], R]) -> None:
        self.func = func

    def __call__(self, item: T) -> R:
        global _busy
        _busy = True
        try:
            return self.func(item)
        except Exception as exc:
            if _can_travel(exc):
                raise
            # the parent would only learn that the error could not be pickled
            raise LurgeError(f"{type(exc).__name__}: {exc}") from None
        finally:
            _busy = False


def _can_travel(exc: BaseException) -> bool:
    """Whether ``exc`` survives the pickling that carries it back to the parent."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def start_worker(verbose: bool) -> None:
    """Pool initializer: logging as in the parent; SIGINT is the parent's business."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _leave)
    setup_logging(verbose)


def _leave(signum: int, frame: FrameType | None) -> None:
    """SIGTERM in a worker: end a task at once; when idle, unwind (see the module)."""
    if _busy or not _in_task_loop(frame):
        # the parent removes whatever the task had staged; a worker outside the
        # pool's task loop (starting, or ending) holds no queue lock, and
        # unwinding there would only print tracebacks from its exit handlers
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise SystemExit(128 + signum)


def _in_task_loop(frame: FrameType | None) -> bool:
    """Whether the signal interrupted the pool's task loop (where an idle worker
    waits for its next task, possibly holding the queue's lock)."""
    while frame is not None:
        if frame.f_code is _POOL_WORKER_CODE:
            return True
        frame = frame.f_back
    return False


_POOL_WORKER_CODE = multiprocessing.pool.worker.__code__
