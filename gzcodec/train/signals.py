"""Ctrl-C and SIGTERM as a flag the loop checks between steps: a run stops with a checkpoint."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["StopFlag"]


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag that the loop checks between steps.

    ``forward_to``: process ids that receive the same signal (the processes of
    a run started here); the list may be filled after the flag is set up.
    """

    def __init__(self, forward_to: list[int] | None = None) -> None:
        self.raised = False
        # What signal.signal returned: the handler in place before, to put back on exit.
        self._old: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}
        self._forward = forward_to if forward_to is not None else []

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread there are no handlers, and so no flag.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.raised = True
        for pid in self._forward:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
