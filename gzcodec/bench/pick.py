"""The matched-rate pick: which file of a codec family stands for it at a byte budget.

For each scale variant, the largest file within the budget
(:func:`~gzcodec.bench.ratecontrol.match_budget`); among the variants, the one
of best PSNR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .measure import Record, measure
from .ratecontrol import EncodeCache, match_budget

__all__ = ["best_within"]


def best_within(
    caches: Sequence[EncodeCache],
    budget: int,
    reference: np.ndarray,
    name: str,
    measured: dict[tuple[str, int], Record],
) -> Record:
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
    dict
        The winner's measurement with ``reached=True``, ``budget_bytes`` and
        ``variants`` (each variant's setting, bytes and PSNR); or, when no
        variant fits, ``reached=False`` and ``min_bytes``, the smallest file
        any variant can make.
    """
    variants: dict[str, Any] = {}
    best: Record | None = None
    for cache in caches:
        codec = cache.codec
        trial = match_budget(cache, budget)
        if trial is None:
            variants[codec.name] = {"reached": False, "min_bytes": cache.size(codec.param_values[0])}
            continue
        key = (codec.name, trial.param)
        if key not in measured:
            measured[key] = measure(codec, trial, reference, name)
        record = measured[key]
        variants[codec.name] = {"param": trial.param, "bytes": trial.nbytes, "psnr": record["psnr"]}
        if best is None or record["psnr"] > best["psnr"]:
            best = record
    if best is None:
        return {
            "image": name,
            "reached": False,
            "budget_bytes": budget,
            "min_bytes": min(v["min_bytes"] for v in variants.values()),
            "variants": variants,
        }
    return {**best, "reached": True, "budget_bytes": budget, "variants": variants}
