"""Worker processes for the per-volume passes: they log like the parent and leave stopping to it."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.pool
import signal

from utils.common.logs import setup_logging


def worker_pool(processes: int) -> multiprocessing.pool.Pool:
    """A pool of ``processes`` spawned workers with the parent's log level (``-v`` included).

    Workers ignore Ctrl-C, which the terminal sends to every process of the
    job: the parent alone decides to stop, and leaving the ``with`` block
    terminates the pool (no worker left behind, no leaked semaphores).
    """
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    context = multiprocessing.get_context("spawn")
    return context.Pool(processes, initializer=start_worker, initargs=(verbose,))


def start_worker(verbose: bool) -> None:
    """Pool initializer: logging as in the parent; SIGINT is the parent's business."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(verbose)

