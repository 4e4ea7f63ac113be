"""The bench's process pool ends its workers when the bench is interrupted.

Before ``worker_pool``, SIGTERM to ``gzcodec bench --workers 2`` left the
parent waiting for every queued image and the workers running on after it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gzcodec.bench.pool import worker_pool

from .helpers import faces

LONG = 600.0
"""A job's length that no test waits out: finishing means the pool was not stopped."""


def _wait_until_gone(pids: list[int], seconds: float = 15.0) -> list[int]:
    """The ``pids`` still running after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_normal_exit_waits_for_the_jobs():
    with worker_pool(2) as pool:
        futures = [pool.submit(time.sleep, 0.2) for _ in range(4)]
    assert all(f.done() and f.exception() is None for f in futures)


@pytest.mark.slow
def test_an_interrupt_ends_the_workers_without_waiting_for_the_queued_jobs():
    before = set(multiprocessing.active_children())
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:
        results = pool.map(time.sleep, [LONG] * 6)
        while len(set(multiprocessing.active_children()) - before) < 2:
            time.sleep(0.05)
        workers = [child.pid for child in set(multiprocessing.active_children()) - before]
        time.sleep(0.5)  # both asleep in their first job
        raise KeyboardInterrupt
    assert time.monotonic() - started < LONG / 4
    assert _wait_until_gone(workers, 0) == []
    # Nothing else the pool started outlives it (one still starting or exiting may take a moment).
    others = [child.pid for child in multiprocessing.active_children() if child not in before]
    assert _wait_until_gone(others) == []
    del results


def _workers_of(pid: int) -> list[int]:
    """The pool workers among ``pid``'s children (spawned: ``spawn_main`` in their command line)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    workers = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(int(child))
        except FileNotFoundError:
            pass
    return workers


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the workers through /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_bench_stops_with_its_workers(tmp_path, signum):
    images = tmp_path / "faces"
    images.mkdir()
    # Far more work than the test waits for (each image takes the classic codecs
    # seconds): a bench that finished its queue before exiting would time out.
    for i in range(40):
        faces(5)[i % 5].rotate(i * 7).save(images / f"{i:06d}.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "gzcodec.cli", "bench", str(images), "--n", "40", "--classic-only",
               "--no-identity", "--workers", "2", "--no-cache", "--out", str(out)]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(workers := _workers_of(child.pid)) < 2:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the bench never started its workers"
            time.sleep(0.1)
        time.sleep(2)  # at work on their first images
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        # A failed test leaves nothing running (the workers would hold the pipes open).
        if child.poll() is None:
            for pid in _workers_of(child.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            child.kill()
        child.wait()
    assert child.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _wait_until_gone(workers) == [], "the workers outlived the bench"
    assert not (out / "results.json").exists()
