"""``train(..., nproc=N)``: the processes of a run on this machine, their log and their errors."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..distributed import free_port
from ..errors import GzcodecError
from .signals import StopFlag

__all__ = ["spawn", "ORPHAN_GRACE_S"]


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if the queue home surely carries it (Python's and gzcodec's), else its words."""
    if type(exc).__module__ == "builtins" or isinstance(exc, GzcodecError):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


#: Seconds a process of ``train(..., nproc=N)`` whose parent died has to stop with a
#: checkpoint before it leaves without one.
ORPHAN_GRACE_S = 60.0


def _follow_parent(queue: Any, grace_s: float = ORPHAN_GRACE_S) -> None:
    """Stop this process, with a checkpoint, when the one that spawned it dies.

    torch signals the processes it spawned when their parent dies, and they
    stop at the next step; but a process writing its log home when that
    happened blocked for ever once the pipe was full (nobody reads it any
    more), and never got to its next step. A thread watches the parent; once
    it is gone, it signals this process too and empties the pipe, so that the
    process gets on and stops. Still running ``grace_s`` later (blocked on a
    peer that died), the process is ended without a last checkpoint.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            while not queue.empty():
                queue.get()
            time.sleep(0.05)
        os._exit(1)

    threading.Thread(target=watch, name="gzcodec-parent-watch", daemon=True).start()


def _rank_main(rank: int, world: int, port: int, queue: Any, train: Callable[..., Path],
               kwargs: dict[str, Any]) -> None:
    """One process of ``train(..., nproc=world)``: rank 0 sends its log and progress home.

    ``train`` is :func:`gzcodec.train.train`, passed in (by its name, as spawning
    pickles it) so that this module needs not import the loop that starts it.
    """
    _follow_parent(queue)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        train(**kwargs, log=lambda line: queue.put(("log", line)),
              on_step=lambda step, last: queue.put(("step", step, last)))
    except BaseException as exc:
        queue.put(("error", _portable(exc)))
        raise
    # The run is over (checkpoint written, gloo group left) and everything has been
    # sent home: leave without the interpreter's finalisation, where gloo's threads
    # aborted a finished process now and then ("terminate called without an active
    # exception", seen in CI) although its training had succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Home:
    """What the processes send home (rank 0's log and progress, the first error), delivered here."""

    def __init__(self, queue: Any, log: Callable[[str], None],
                 on_step: Callable[[int, int], None] | None) -> None:
        self.queue, self.log, self.on_step = queue, log, on_step
        self.error: BaseException | None = None

    def drain(self) -> None:
        while not self.queue.empty():
            kind, *rest = self.queue.get()
            if kind == "log":
                self.log(rest[0])
            elif kind == "step" and self.on_step is not None:
                self.on_step(*rest)
            elif kind == "error" and self.error is None:
                self.error = rest[0]

    def discard(self) -> None:
        while not self.queue.empty():
            self.queue.get()


def _stop_processes(processes: list[Any], home: _Home) -> None:
    """Stop ``processes`` as a signal would, with a checkpoint, and wait for them."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    while any(process.is_alive() for process in processes):
        home.discard()  # unread, rank 0's last lines could block it
        time.sleep(0.05)
    for process in processes:
        process.join()


def spawn(nproc: int, kwargs: dict[str, Any], log: Callable[[str], None],
          on_step: Callable[[int, int], None] | None, *, train: Callable[..., Path]) -> Path:
    """Run ``train`` (:func:`gzcodec.train.train`) on ``nproc`` new processes of this machine.

    Returns the checkpoint path. The processes meet on a free port of
    127.0.0.1. Rank 0's log lines and progress come back to ``log`` and
    ``on_step`` here; a SIGINT or SIGTERM sent here is passed on to them (they
    stop together, with a checkpoint); the first error raised in any of them is
    raised here.
    """
    import multiprocessing as mp

    import torch.multiprocessing as tmp

    home = _Home(mp.get_context("spawn").SimpleQueue(), log, on_step)
    pids: list[int] = []
    with StopFlag(forward_to=pids) as stop:
        context = tmp.start_processes(_rank_main,
                                      args=(nproc, free_port(), home.queue, train, kwargs),
                                      nprocs=nproc, join=False, start_method="spawn")
        pids.extend(p.pid for p in context.processes)
        try:
            while not context.join(timeout=0.1):
                home.drain()
        except (tmp.ProcessRaisedException, tmp.ProcessExitedException):
            home.drain()
            if home.error is not None:
                raise home.error from None
            if stop.raised:  # a process killed by the signal before it could say so
                raise KeyboardInterrupt from None
            raise
        except BaseException:
            # Here, not there (a log or on_step callback raised): stop them as a
            # signal would, with a checkpoint, before going.
            _stop_processes(context.processes, home)
            raise
        home.drain()
    if home.error is not None:
        # torch's process wrapper exits with 0 after a KeyboardInterrupt (a Ctrl-C
        # before the training loop): the error sent home is the only trace of it.
        raise home.error
    return Path(kwargs["out_dir"]) / "checkpoint.safetensors"
