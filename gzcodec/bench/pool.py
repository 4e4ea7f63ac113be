"""``worker_pool``: the bench's process pool, whose workers end with the bench.

``concurrent.futures.ProcessPoolExecutor`` used as a context manager waits, on
any way out of the ``with`` block, for every job already handed to it
(``pool.map`` hands over all of them at once). A bench stopped by Ctrl-C or
SIGTERM therefore went on until its last image, and its workers, which the
signal never reaches (only the parent gets it), went on even after the parent
was killed. Here an interruption cancels the jobs not yet started and ends the
workers, so the command stops within a second or two. Every file the bench
keeps is written atomically, so a worker ended mid-write leaves that file
absent, never half-written (at worst a hidden ``.part`` temporary beside it,
which no reader opens).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
from collections.abc import Callable, Iterator

__all__ = ["worker_pool"]

_JOIN_SECONDS = 10.0
"""How long a terminated worker may take to go before it is killed."""


@contextlib.contextmanager
def worker_pool(
    workers: int, *, initializer: Callable[..., object] | None = None, initargs: tuple = ()
) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """A process pool of ``workers`` that, when interrupted, ends its workers at once.

    Parameters
    ----------
    workers : int
        Worker processes (started as jobs arrive).
    initializer, initargs
        As for :class:`concurrent.futures.ProcessPoolExecutor`: run once in
        each worker.

    Yields
    ------
    concurrent.futures.ProcessPoolExecutor
        A normal exit from the ``with`` block waits for the jobs handed over;
        an exception (``KeyboardInterrupt`` from Ctrl-C or gzcodec's SIGTERM
        handler, a generator closed early) cancels them and terminates the
        workers before it goes on.

    Examples
    --------
    >>> import math
    >>> with worker_pool(2) as pool:
    ...     list(pool.map(math.isqrt, [4, 9, 16]))
    [2, 3, 4]
    """
    before = set(multiprocessing.active_children())
    # spawn, not fork: the parent has torch's OpenMP pool running, which fork breaks.
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer, initargs=initargs
    )
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        # The pool's own workers: the processes this process started since. (Python 3.14's
        # ProcessPoolExecutor.terminate_workers does this; 3.11 has no public way to it.)
        ours = [child for child in multiprocessing.active_children() if child not in before]
        for child in ours:
            child.terminate()
        for child in ours:
            child.join(_JOIN_SECONDS)
            if child.is_alive():
                child.kill()
                child.join()
        raise
    else:
        pool.shutdown(wait=True)
