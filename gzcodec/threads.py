"""How many torch threads gzcodec's own work runs on.

A decode is one small generator pass (about 10 ms of work). torch's default
of one thread per core pays off on a machine with idle cores, but on a busy
one (a server, a batch job, a training run beside it) its threads wait for
each other at every layer: one decode took 8-15 times longer and a batch
encode 2-3.6 times longer than on one thread (``results/threads/``). So:

* ``GZCODEC_THREADS=N`` in the environment, ``--threads N`` on the command
  line or :func:`set_threads` in Python: every gzcodec computation runs on
  ``N`` threads; ``0`` leaves torch's own setting alone.
* otherwise, :func:`gzcodec.decode` and :func:`gzcodec.encode_batch` run on
  one thread (see :data:`DEFAULT_THREADS` for why encodes too).

The count is set only for the duration of each call and restored afterwards,
so the rest of the caller's program keeps its own setting. Worker processes
that gzcodec starts (``gzcodec bench --workers``) run one thread each, so that
a pool never asks for more threads than there are cores.

Examples
--------
>>> from gzcodec import threads
>>> with threads.torch_threads(1):                # doctest: +SKIP
...     ...                                       # torch runs on one thread here
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import threading
from collections.abc import Iterator
from typing import Literal

__all__ = ["DEFAULT_THREADS", "ENV_VAR", "MAX_THREADS", "set_threads", "configured_threads", "threads_for",
           "torch_threads", "runs_on_threads_for", "same_pixels_on_any_threads"]

#: Environment variable that overrides the thread count of every gzcodec call.
ENV_VAR = "GZCODEC_THREADS"

#: Threads per kind of work when nothing is configured. One for both: with a
#: core to spare torch's default threads are faster (decode 1.3x, batch encode
#: 1.9x on 2 cores), but under contention they are 2-3.6x slower for encodes
#: and 3.7-15x for decodes (``results/threads/``); the milder worst case wins,
#: and machines with idle cores can ask for them with ``GZCODEC_THREADS``.
DEFAULT_THREADS: dict[str, int] = {"decode": 1, "encode": 1}

_override: int | None = None
_lock = threading.Lock()
_depth = 0
_saved: int | None = None
_exact_depth = 0
_exact_saved: bool | None = None


#: More threads than this is a typo, not a setting (torch would start them all).
MAX_THREADS = 1024


def _check(n: object, what: str) -> int:
    text = n.strip() if isinstance(n, str) else None
    if text is not None and text.isascii() and text.isdigit():
        n = int(text)
    elif not isinstance(n, (bool, int)) and hasattr(n, "__index__"):
        n = operator.index(n)  # a numpy integer, as a Python one
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_THREADS:
        # A GzcodecError (a ValueError too), so the command line reports a bad
        # GZCODEC_THREADS as one line like every other user error.
        from .errors import GzcodecError

        raise GzcodecError(f"{what} must be a whole number of threads 0..{MAX_THREADS}, not {n!r}")
    return n


def set_threads(n: int | None) -> None:
    """Run every later gzcodec call in this process on ``n`` threads.

    ``0`` leaves torch's own setting alone; ``None`` goes back to the
    environment variable and the default policy.
    """
    global _override
    _override = None if n is None else _check(n, "threads")


def configured_threads() -> int | None:
    """The explicit setting (:func:`set_threads`, then ``GZCODEC_THREADS``), or ``None``."""
    if _override is not None:
        return _override
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return None
    return _check(text, ENV_VAR)


def threads_for(work: Literal["decode", "encode"]) -> int | None:
    """Threads for ``work``: the explicit setting, else the default; ``None`` means torch's own."""
    n = configured_threads()
    if n is None:
        n = DEFAULT_THREADS[work]
    return n or None


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the body with torch on ``n`` threads (``None``: unchanged), then restore.

    Safe to nest and to enter from several Python threads at once: the first
    caller sets the count, the last one to leave restores the caller's.
    """
    global _depth, _saved
    if n is None:
        yield
        return
    import torch

    with _lock:
        if _depth == 0:
            _saved = torch.get_num_threads()
            if _saved != n:
                torch.set_num_threads(n)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                if torch.get_num_threads() != _saved:
                    torch.set_num_threads(_saved)
                _saved = None


def runs_on_threads_for(work: Literal["decode", "encode"]):
    """Decorator: run the function under the thread policy for ``work`` (:func:`threads_for`)."""

    def wrap(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with torch_threads(threads_for(work)):
                return function(*args, **kwargs)

        return wrapper

    return wrap


@contextlib.contextmanager
def same_pixels_on_any_threads() -> Iterator[None]:
    """Run the body (a generator pass) so that its result does not depend on the thread count.

    oneDNN's convolutions (torch's default on x86 CPUs) split their work by
    the thread count, and the float sums that come out differ in the last
    bits: 15 of 48 val faces decoded on 1 and 2 threads differed by 1 in a
    few values. torch's own convolutions (im2col and GEMM) give the same
    floats on 1 to 4 threads, for 8 % more decode time on one thread
    (``results/thread-exactness/``), so decoding runs with oneDNN off.
    Restored afterwards; safe to nest and to enter from several threads.
    """
    global _exact_depth, _exact_saved
    import torch

    with _lock:
        if _exact_depth == 0:
            _exact_saved = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False
        _exact_depth += 1
    try:
        yield
    finally:
        with _lock:
            _exact_depth -= 1
            if _exact_depth == 0 and _exact_saved is not None:
                torch.backends.mkldnn.enabled = _exact_saved
                _exact_saved = None
