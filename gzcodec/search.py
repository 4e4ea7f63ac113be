"""The "largest setting that fits" search, shared by every encoder that aims at a target.

Settings are indices ``0..n-1`` of an increasing ladder (``bits`` 2..8, the
256 rate indices of a v2 model, a classic codec's quality values). A
*probe* answers whether a setting is still **below** what was asked (its file
fits ``max_bytes``, its SSIM is under ``target_ssim``); the answer is assumed
true up to some index and false after it. A :class:`Bracket` holds what is
known of one image, and :func:`bisect` narrows many brackets in lock step, so
that each round's probes can run as one batch.

Examples
--------
>>> sizes = [100, 200, 300, 400]
>>> bracket = Bracket.over(len(sizes))
>>> bisect([bracket], lambda probes: [sizes[p] <= 250 for p in probes])
>>> bracket.lo, bracket.hi
(1, 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

__all__ = ["Bracket", "bisect"]


@dataclasses.dataclass
class Bracket:
    """What is known of one search over ladder indices ``0..n-1``.

    ``lo`` is the highest index known to be below (-1: none is known), ``hi``
    the lowest index known not to be (``n``: none is known). When the search
    is done, ``hi == lo + 1``: ``lo`` is the largest setting that fits and
    ``hi`` the smallest that reaches.
    """

    lo: int
    hi: int

    @classmethod
    def over(cls, n: int) -> Bracket:
        """A bracket over ``n`` settings, nothing known yet."""
        return cls(-1, n)

    @property
    def open(self) -> bool:
        """Whether a setting between ``lo`` and ``hi`` is still unknown."""
        return self.hi - self.lo > 1

    @property
    def middle(self) -> int:
        """The next setting to probe."""
        return (self.lo + self.hi) // 2

    def record(self, index: int, below: bool) -> None:
        """Narrow the bracket with the answer at ``index``."""
        if below:
            self.lo = index
        else:
            self.hi = index


def bisect(brackets: Sequence[Bracket],
           below: Callable[[list[int | None]], Sequence[bool]]) -> None:
    """Narrow every bracket until it is closed, all in lock step.

    Each round calls ``below`` once with one probe per bracket: the index to
    try, or ``None`` for a bracket already closed (whose answer is ignored).
    """
    while any(b.open for b in brackets):
        probes = [b.middle if b.open else None for b in brackets]
        for bracket, probe, answer in zip(brackets, probes, below(probes), strict=True):
            if probe is not None:
                bracket.record(probe, bool(answer))
