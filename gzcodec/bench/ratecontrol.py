"""Rate control: the largest setting whose file fits a byte budget.

For each image, each codec and each target rate, the bench wants the setting
whose file is the *largest not above* the budget (CompressAI's ``find_close``
bisects the quality the same way, for the closest rate). File size is assumed
to grow with the setting, which holds for every codec here to within a few
bytes; whatever the search returns was measured to fit, so a non-monotone
blip can only cost a step of quality, never break the budget.

Encodes are memoised per image and codec (:class:`EncodeCache`), and every
size already measured narrows the next search, so a ladder of targets costs
far fewer encodes than one bisection per target. With a
:class:`~gzcodec.bench.diskcache.DiskEntry` they are also kept on disk, and a
later run replays them without calling the encoder.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from PIL import Image

from ..search import Bracket, bisect
from .interface import Codec, Trial

if TYPE_CHECKING:
    from .diskcache import DiskEntry

__all__ = ["EncodeCache", "Trial", "largest_within", "match_budget"]


class EncodeCache:
    """Memoised encodes of one image by one codec.

    Parameters
    ----------
    codec : Codec
        The codec (one scale variant).
    image : PIL.Image.Image
        The original RGB image.
    disk : DiskEntry, optional
        Persistent encodes of this image by this codec: read before encoding,
        written after. A trial read from disk carries the encode time measured
        when it was made.

    Attributes
    ----------
    encoder_calls : int
        Encodes actually run (not memoised, not from disk); an image of a batch
        counts one.
    disk_hits : int
        Trials read from ``disk``.
    """

    def __init__(self, codec: Codec, image: Image.Image, disk: DiskEntry | None = None) -> None:
        self.codec = codec
        self.image = image
        self.disk = disk
        self.trials: dict[int, Trial] = {}
        self.encoder_calls = 0
        self.disk_hits = 0

    def __call__(self, param: int) -> Trial:
        """The trial at ``param``, encoding it the first time it is asked for."""
        if not self.recall(param):
            start = time.perf_counter()
            data = bytes(self.codec.encode(self.image, param=param))
            self.add(Trial(param, data, time.perf_counter() - start))
        return self.trials[param]

    def recall(self, param: int) -> bool:
        """Whether the trial at ``param`` is known, taking it from ``disk`` if it is there."""
        if param not in self.trials and self.disk is not None:
            trial = self.disk.get(param)
            if trial is not None:
                self.trials[param] = trial
                self.disk_hits += 1
        return param in self.trials

    def add(self, trial: Trial) -> None:
        """Record a new encode (made here, or in a batch): one encoder call, written to ``disk``."""
        self.trials[trial.param] = trial
        self.encoder_calls += 1
        if self.disk is not None:
            self.disk.put(trial)

    def size(self, param: int) -> int:
        """File size at ``param`` in bytes."""
        return self(param).nbytes

    def known_sizes(self) -> dict[int, int]:
        """Sizes measured so far, by setting."""
        return {p: t.nbytes for p, t in self.trials.items()}


def largest_within(
    size_of: Callable[[int], int],
    values: Sequence[int],
    budget: int,
    *,
    known: Mapping[int, int] | None = None,
) -> int | None:
    """The largest of ``values`` whose size is at most ``budget``, by bisection.

    Parameters
    ----------
    size_of : callable
        File size in bytes at a setting; assumed non-decreasing along ``values``.
    values : sequence of int
        Allowed settings in increasing order.
    budget : int
        Largest acceptable size in bytes.
    known : mapping, optional
        Sizes already measured, by setting: they narrow the starting bracket
        and are not measured again.

    Returns
    -------
    int or None
        The setting, or ``None`` when even ``values[0]`` is over budget.

    Examples
    --------
    >>> largest_within(lambda q: 100 + 10 * q, range(101), 555)
    45
    >>> largest_within(lambda q: 100 + 10 * q, range(101), 99) is None
    True
    """
    if not values:
        raise ValueError("no settings to search")
    index = {v: i for i, v in enumerate(values)}
    sizes = _Sizes(size_of, values, budget, {index[v]: s for v, s in (known or {}).items()
                                             if v in index})
    # Bracket: lo fits (or is unknown, -1), hi does not fit (or is past the end).
    fits = [i for i, s in sizes.measured.items() if s <= budget]
    lo = max(fits, default=-1)
    hi = min((i for i, s in sizes.measured.items() if s > budget and i > lo), default=len(values))
    if lo < 0:
        if not sizes.fits([0])[0]:
            return None
        lo = 0
    if hi == len(values):
        if sizes.fits([len(values) - 1])[0]:
            return values[-1]
        hi = len(values) - 1
    bracket = Bracket(lo, hi)
    bisect([bracket], sizes.fits)
    return values[bracket.lo]


@dataclasses.dataclass
class _Sizes:
    """File sizes by position in ``values``, each measured at most once."""

    size_of: Callable[[int], int]
    values: Sequence[int]
    budget: int
    measured: dict[int, int]

    def fits(self, positions: Sequence[int]) -> list[bool]:
        """Whether the file at each position is within the budget (the probe of :func:`bisect`)."""
        for i in positions:
            if i not in self.measured:
                self.measured[i] = self.size_of(self.values[i])
        return [self.measured[i] <= self.budget for i in positions]


def match_budget(cache: EncodeCache, budget: int) -> Trial | None:
    """The trial of ``cache``'s codec whose file is the largest within ``budget`` bytes.

    Parameters
    ----------
    cache : EncodeCache
        Encodes of one image by one codec; filled as the search needs.
    budget : int
        Largest acceptable file size in bytes.

    Returns
    -------
    Trial or None
        ``None`` when the codec cannot make a file that small.
    """
    param = largest_within(cache.size, cache.codec.param_values, budget, known=cache.known_sizes())
    return None if param is None else cache(param)
