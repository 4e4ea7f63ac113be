"""The matched-rate pick: which file of a codec family stands for it at a byte budget.

For each scale variant, the largest file within the budget
(:func:`~gzcodec.bench.ratecontrol.match_budget`); among the variants, the one
of best PSNR.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .measure import measure
from .ratecontrol import EncodeCache, match_budget
from .records import Measurement, Pick, Variant, VariantFit, VariantMiss

__all__ = ["best_within"]


def best_within(
    caches: Sequence[EncodeCache],
    budget: int,
    reference: np.ndarray,
    name: str,
    measured: dict[tuple[str, int], Measurement],
) -> Pick:
    """The best-PSNR scale variant of one codec family whose file fits ``budget``.

    Parameters
    ----------
    caches : sequence of EncodeCache
        One per scale variant, all of the same image.
    budget : int
        Byte budget.
    reference : numpy.ndarray
        The original image.
    name : str
        Image name.
    measured : dict
        Measurements already made, by (variant name, setting); filled in, so
        that several targets landing on one file measure it once.

    Returns
    -------
    Pick
        The winner's measurement and each variant's outcome (its setting,
        bytes and PSNR, or the smallest file it can make); when no variant
        fits, ``min_bytes``, the smallest file any variant can make.
    """
    variants: dict[str, Variant] = {}
    best: Measurement | None = None
    for cache in caches:
        codec = cache.codec
        trial = match_budget(cache, budget)
        if trial is None:
            variants[codec.name] = VariantMiss(cache.size(codec.param_values[0]))
            continue
        key = (codec.name, trial.param)
        if key not in measured:
            measured[key] = measure(codec, trial, reference, name)
        found = measured[key]
        variants[codec.name] = VariantFit(trial.param, trial.nbytes, found.psnr)
        if best is None or found.psnr > best.psnr:
            best = found
    if best is None:
        smallest = min(v.min_bytes for v in variants.values() if isinstance(v, VariantMiss))
        return Pick(name, budget, variants, min_bytes=smallest)
    return Pick(name, budget, variants, measurement=best)
