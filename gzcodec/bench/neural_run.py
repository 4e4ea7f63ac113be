"""A gzcodec model's work on the bench's images: its ladder, and its picks from that ladder.

:func:`run_neural` encodes every image at every setting of the model's ladder
(in batches: the reversal is much faster on a batch), measures every file,
and picks, for each target rate, the largest file within the budget among
those already measured. It is the counterpart of
:func:`~gzcodec.bench.classic_run.run_classic_job`, which does the classic
codecs' work on one image.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image
from rich.progress import Progress

from .interface import NeuralCodec
from .measure import budget_bytes, measure
from .pick import best_within
from .ratecontrol import EncodeCache, Trial
from .records import Measurement, Pick, RDPoint
from .summary import rd_point

__all__ = ["BATCH", "NeuralResult", "encode_batched", "run_neural"]

BATCH = 16
"""Images per ``encode_batch`` call: enough to amortise, few enough to show progress."""


@dataclasses.dataclass
class NeuralResult:
    """What one gzcodec model made of the bench's images.

    Attributes
    ----------
    points : dict of str to RDPoint
        Its ladder: one point per setting, by ``"<name> <param name>=<value>"``.
    caches : list of EncodeCache
        Every file it made, per image (the grid's faces reuse them).
    matched : dict of float to list of Pick
        Per target rate, one pick per image.
    smallest : list of int
        Per image, its smallest file (at its lowest setting), bytes.
    """

    points: dict[str, RDPoint]
    caches: list[EncodeCache]
    matched: dict[float, list[Pick]]
    smallest: list[int]


def encode_batched(codec: NeuralCodec, images: Sequence[Image.Image], param: int) -> list[Trial]:
    """``images`` at one setting, as one batch whose time is shared equally among them."""
    start = time.perf_counter()
    blobs = list(codec.encode_batch(list(images), param=param))
    share = (time.perf_counter() - start) / max(len(images), 1)
    return [Trial(param, bytes(data), share) for data in blobs]


def _encode_ladder(
    codec: NeuralCodec, images: list[Image.Image], advance: Callable[[int], None]
) -> list[EncodeCache]:
    """Every image at every setting of ``codec``, in batches of :data:`BATCH`."""
    caches = [EncodeCache(codec, im) for im in images]
    for param in codec.param_values:
        for lo in range(0, len(images), BATCH):
            trials = encode_batched(codec, images[lo : lo + BATCH], param)
            for cache, trial in zip(caches[lo : lo + BATCH], trials, strict=True):
                cache.add(trial)
            advance(len(trials))
    return caches


def run_neural(
    codec: NeuralCodec,
    names: Sequence[str],
    references: Sequence[np.ndarray],
    targets: Sequence[float],
    bar: Progress,
) -> NeuralResult:
    """gzcodec's ladder on every image, and its matched-rate picks from that ladder.

    Parameters
    ----------
    codec : NeuralCodec
        The model.
    names : sequence of str
        Image names.
    references : sequence of numpy.ndarray
        The images, ``128 x 128 x 3`` uint8.
    targets : sequence of float
        Target rates in bpp.
    bar : rich.progress.Progress
        Shows an encode and a decode task.

    Returns
    -------
    NeuralResult
    """
    images = [Image.fromarray(a, "RGB") for a in references]
    total = len(names) * len(codec.param_values)
    task = bar.add_task(f"{codec.name} encode", total=total)
    caches = _encode_ladder(codec, images, lambda k: bar.advance(task, k))
    task = bar.add_task(f"{codec.name} decode", total=total)
    points: dict[str, RDPoint] = {}
    # Per image, by (codec, setting): the picks reuse the ladder's measurements (same file, same numbers).
    measured: list[dict[tuple[str, int], Measurement]] = [{} for _ in names]
    for param in codec.param_values:
        row = []
        for cache, ref, name, known in zip(caches, references, names, measured, strict=True):
            known[codec.name, param] = measure(codec, cache(param), ref, name)
            row.append(known[codec.name, param])
            bar.advance(task)
        points[f"{codec.name} {codec.param_name}={param}"] = rd_point(codec, param, row)
    matched = {
        target: [
            best_within([cache], budget_bytes(target), ref, name, known)
            for cache, ref, name, known in zip(caches, references, names, measured, strict=True)
        ]
        for target in targets
    }
    smallest = [cache(codec.param_values[0]).nbytes for cache in caches]
    return NeuralResult(points, caches, matched, smallest)
