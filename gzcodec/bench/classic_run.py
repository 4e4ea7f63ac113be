"""The classic codecs' work on one image, runnable in a worker process.

:func:`run_classic_job` does, for one image, everything the bench asks of the
classic codecs: the poster's fixed settings, the matched-rate pick at every
target, and the grid's pick at gzcodec's byte budget. It depends only on its
arguments, so :func:`gzcodec.bench.run_bench` can hand images to a process
pool (``workers > 1``) and get the same results as in one process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .classicstore import ClassicStore, StoredResult, settings_key
from .diskcache import DiskEntry, image_key
from .interface import Codec
from .measure import budget_bytes, measure
from .pick import best_within
from .ratecontrol import EncodeCache
from .records import Measurement, Pick

__all__ = [
    "GRID_FAMILIES",
    "POSTER_FIXED",
    "ClassicJob",
    "ClassicResult",
    "ClassicTotals",
    "init_worker",
    "run_classic_job",
]

POSTER_FIXED: tuple[tuple[str, int], ...] = (("jpeg", 1), ("jpeg", 10), ("knn", 4))
"""Fixed (codec, setting) pairs of the poster's baselines, at native scale."""

GRID_FAMILIES: tuple[str, ...] = ("webp", "avif", "jxl")
"""Classic codecs shown beside gzcodec in the grid, at gzcodec's byte budget."""


@dataclasses.dataclass(frozen=True)
class ClassicJob:
    """One image for the classic codecs."""

    name: str
    pixels: np.ndarray
    targets: tuple[float, ...]
    grid_budget: int | None = None  # gzcodec's file size, for grid faces
    cache_dir: str | None = None  # persistent encode cache (gzcodec.bench.diskcache), or none
    grid_only: bool = False  # only the grid's pick (a grid image that is not a bench image)
    keep_files: bool = False  # return the matched picks' files (to judge their identity)
    store_dir: str | None = None  # stored classic results (gzcodec.bench.classicstore), or none


@dataclasses.dataclass
class ClassicResult:
    """What the classic codecs made of one image."""

    fixed: dict[str, Measurement]  # by "<codec> <param name>=<value>"
    matched: dict[float, dict[str, Pick]]  # target -> family -> pick
    grid: dict[str, tuple[Pick, Image.Image | None]]  # family -> (pick, decoded or None)
    smallest: dict[str, int]  # family -> the smallest file any of its scales can make, bytes
    files: dict[tuple[str, int], bytes] = dataclasses.field(default_factory=dict)  # matched picks' files
    encoder_calls: int = 0  # encodes run for this image
    cache_hits: int = 0  # encodes replayed from the persistent cache
    stored: bool = False  # replayed from the classic store, not searched


@dataclasses.dataclass
class ClassicTotals:
    """What the classic codecs made of the bench's images, gathered image by image.

    Attributes
    ----------
    fixed : dict of str to list of Measurement
        The poster's fixed settings, by point key: one per image.
    matched : dict of float to dict of str to list of Pick
        By target, then family: one pick per image.
    smallest : dict of str to list of int
        By family: one size per image.
    files : list of dict
        Per image, the matched picks' files by (variant name, setting), when
        the jobs kept them.
    encoder_calls, cache_hits : int
        Encodes run, and replayed from the persistent cache (grid faces included).
    stored : int
        Images whose results were replayed from the classic store.
    """

    fixed: dict[str, list[Measurement]] = dataclasses.field(default_factory=dict)
    matched: dict[float, dict[str, list[Pick]]] = dataclasses.field(default_factory=dict)
    smallest: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    files: list[dict[tuple[str, int], bytes]] = dataclasses.field(default_factory=list)
    encoder_calls: int = 0
    cache_hits: int = 0
    stored: int = 0

    def add(self, result: ClassicResult) -> None:
        """Gather one image's result (in image order)."""
        for key, measurement in result.fixed.items():
            self.fixed.setdefault(key, []).append(measurement)
        for target, picks in result.matched.items():
            for family, pick in picks.items():
                self.matched.setdefault(target, {}).setdefault(family, []).append(pick)
        for family, nbytes in result.smallest.items():
            self.smallest.setdefault(family, []).append(nbytes)
        self.files.append(result.files)
        self.count(result)

    def count(self, result: ClassicResult) -> None:
        """Count the encodes of a result whose picks are not gathered (a grid-only face)."""
        self.encoder_calls += result.encoder_calls
        self.cache_hits += result.cache_hits
        self.stored += result.stored


_worker_codecs: list[Codec] = []


def init_worker(codecs: Sequence[Codec]) -> None:
    """Process-pool initializer: remember the codecs, run torch on one thread.

    One thread per worker: the pool already has a worker per core, and the
    only torch work here (MS-SSIM on 128x128) is too small to share.
    """
    import torch

    torch.set_num_threads(1)
    _worker_codecs[:] = list(codecs)


def run_classic_job(job: ClassicJob, codecs: Sequence[Codec] | None = None) -> ClassicResult:
    """Every classic codec on one image.

    Parameters
    ----------
    job : ClassicJob
        The image, the targets, and the grid budget if it is a grid face.
    codecs : sequence of Codec, optional
        Scale variants of the classic codecs; those given to
        :func:`init_worker` when omitted.

    Returns
    -------
    ClassicResult
    """
    codecs = list(_worker_codecs if codecs is None else codecs)
    by_name = {c.name: c for c in codecs}
    families: dict[str, list[Codec]] = {}
    for codec in codecs:
        families.setdefault(codec.family, []).append(codec)
    image = Image.fromarray(job.pixels, "RGB")
    keyed = job.cache_dir is not None or job.store_dir is not None
    image_hash = image_key(job.pixels) if keyed else ""
    caches = {
        c.name: EncodeCache(c, image, DiskEntry(job.cache_dir, image_hash, c) if job.cache_dir else None)
        for c in codecs
    }
    store = None
    if job.store_dir is not None and not job.grid_only:
        store = ClassicStore(job.store_dir, settings_key(codecs, job.targets, POSTER_FIXED))
        # A grid face also needs its grid picks' pictures, which are not stored.
        if job.grid_budget is None:
            replayed = _replay(store.load(image_hash, job.name), caches, keep_files=job.keep_files)
            if replayed is not None:
                return replayed
    measured: dict[tuple[str, int], Measurement] = {}

    fixed = {}
    for codec_name, param in () if job.grid_only else POSTER_FIXED:
        if codec_name in by_name:
            codec = by_name[codec_name]
            key = f"{codec.name} {codec.param_name}={param}"
            fixed[key] = measure(codec, caches[codec_name](param), job.pixels, job.name)

    matched: dict[float, dict[str, Pick]] = {}
    files: dict[tuple[str, int], bytes] = {}
    for target in () if job.grid_only else job.targets:
        matched[target] = {}
        for family, members in families.items():
            family_caches = [caches[c.name] for c in members]
            pick = best_within(family_caches, budget_bytes(target), job.pixels, job.name, measured)
            # Encodes the search has needed so far for this image (all targets).
            encodes = sum(len(c.trials) for c in family_caches)
            matched[target][family] = dataclasses.replace(pick, encodes=encodes)
            if job.keep_files and pick.measurement is not None:
                winner = pick.measurement
                files[winner.codec, winner.param] = caches[winner.codec](winner.param).data

    # Measured by every first search already (its lowest setting), so free here.
    smallest = {
        family: min(caches[c.name].size(c.param_values[0]) for c in members)
        for family, members in families.items()
        if not job.grid_only
    }

    grid: dict[str, tuple[Pick, Image.Image | None]] = {}
    if job.grid_budget is not None:
        for family in GRID_FAMILIES:
            if family not in families:
                continue
            family_caches = [caches[c.name] for c in families[family]]
            pick = best_within(family_caches, job.grid_budget, job.pixels, job.name, measured)
            picture = None
            if pick.measurement is not None:
                winner = pick.measurement.codec
                picture = by_name[winner].decode(caches[winner](pick.measurement.param).data)
            grid[family] = (pick, picture)
    encoder_calls = sum(c.encoder_calls for c in caches.values())
    if store is not None:
        store.save(image_hash, job.name, StoredResult(fixed, matched, smallest, encoder_calls))
    return ClassicResult(
        fixed=fixed,
        matched=matched,
        grid=grid,
        smallest=smallest,
        files=files,
        encoder_calls=encoder_calls,
        cache_hits=sum(c.disk_hits for c in caches.values()),
    )


def _replay(
    stored: StoredResult | None, caches: dict[str, EncodeCache], *, keep_files: bool
) -> ClassicResult | None:
    """A stored result as this run's (``None`` if there is none); with ``keep_files``,
    the matched picks' files are encoded again, one encode each, for the identity
    judge, and a file whose size differs from the stored one (another encoder
    build) makes the image be searched afresh."""
    if stored is None:
        return None
    files: dict[tuple[str, int], bytes] = {}
    for picks in stored.matched.values() if keep_files else ():
        for pick in picks.values():
            found = pick.measurement
            if found is None or (found.codec, found.param) in files:
                continue
            if found.codec not in caches:
                return None
            trial = caches[found.codec](found.param)
            if trial.nbytes != found.nbytes:
                return None
            files[found.codec, found.param] = trial.data
    return ClassicResult(
        fixed=stored.fixed,
        matched=stored.matched,
        grid={},
        smallest=stored.smallest,
        files=files,
        encoder_calls=sum(c.encoder_calls for c in caches.values()),
        cache_hits=sum(c.disk_hits for c in caches.values()),
        stored=True,
    )
