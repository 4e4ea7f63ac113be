"""A gzcodec model's work on the bench's images: its ladder, and its picks from that ladder.

:func:`run_neural` encodes every image at every setting of the model's ladder
(in batches: the reversal is much faster on a batch), measures every file,
and picks, for each target rate, the largest file within the budget among
those already measured. It is the counterpart of
:func:`~gzcodec.bench.classic_run.run_classic_job`, which does the classic
codecs' work on one image.

With a cache folder (:mod:`gzcodec.bench.diskcache`, keyed by the image, the
model's id, the encode options, the package version and a hash of the
encoder's source: not the ladder), the files already there are taken from it,
only the images that lack a setting are encoded (still in batches), and each
batch's files are written there as soon as it is done: a ladder of hours that
is killed picks up where it stopped when run again with the same folder. A
file read from the cache carries the encode time measured when it was made
(its batch's time divided by the batch's images).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image
from rich.progress import Progress

from .diskcache import DiskEntry, image_key
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

    @property
    def encoder_calls(self) -> int:
        """Files encoded by this run (an image of a batch counts one)."""
        return sum(cache.encoder_calls for cache in self.caches)

    @property
    def cache_hits(self) -> int:
        """Files read from the persistent cache."""
        return sum(cache.disk_hits for cache in self.caches)


def encode_batched(codec: NeuralCodec, images: Sequence[Image.Image], param: int) -> list[Trial]:
    """``images`` at one setting, as one batch whose time is shared equally among them."""
    start = time.perf_counter()
    blobs = list(codec.encode_batch(list(images), param=param))
    share = (time.perf_counter() - start) / max(len(images), 1)
    return [Trial(param, bytes(data), share) for data in blobs]


def _caches(codec: NeuralCodec, references: Sequence[np.ndarray], cache_dir: str | None) -> list[EncodeCache]:
    """An :class:`EncodeCache` per image, each on its disk entry when there is a cache folder."""
    return [
        EncodeCache(codec, Image.fromarray(ref, "RGB"),
                    DiskEntry(cache_dir, image_key(ref), codec) if cache_dir is not None else None)
        for ref in references
    ]


def _encode_ladder(codec: NeuralCodec, caches: list[EncodeCache], advance: Callable[[int], None]) -> None:
    """Every image at every setting of ``codec``: those not in the caches, in batches of :data:`BATCH`.

    Each batch's files are added to the caches (so written to disk) as soon as it is done.
    """
    for param in codec.param_values:
        missing = [cache for cache in caches if not cache.recall(param)]
        advance(len(caches) - len(missing))
        for lo in range(0, len(missing), BATCH):
            batch = missing[lo : lo + BATCH]
            trials = encode_batched(codec, [cache.image for cache in batch], param)
            for cache, trial in zip(batch, trials, strict=True):
                cache.add(trial)
            advance(len(trials))


def run_neural(
    codec: NeuralCodec,
    names: Sequence[str],
    references: Sequence[np.ndarray],
    targets: Sequence[float],
    bar: Progress,
    cache_dir: str | None = None,
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
    cache_dir : str, optional
        Folder of the persistent encode cache (:mod:`gzcodec.bench.diskcache`):
        files found there are not encoded again, new ones are written there
        batch by batch. ``None``: no cache.

    Returns
    -------
    NeuralResult
    """
    caches = _caches(codec, references, cache_dir)
    total = len(names) * len(codec.param_values)
    task = bar.add_task(f"{codec.name} encode", total=total)
    _encode_ladder(codec, caches, lambda k: bar.advance(task, k))
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
