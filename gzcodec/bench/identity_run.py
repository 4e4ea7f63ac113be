"""The identity column's work: judge the decodes of chosen picks, image by image.

:func:`judge_picks` decodes, for each image, the files that the chosen codec
families' picks stand for (each file once, however many budgets it serves),
and has :class:`~gzcodec.bench.identity.FaceIdentity` compare each with the
original, whose face box, landmarks and descriptor are computed once. The
descriptors are the slow part (about a quarter of a second each on one core),
so images go to a process pool when there are workers to spare, a few at a
time so that the decodes in flight stay few.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from .identity import FaceIdentity
from .pool import worker_pool
from .records import Measurement, Pick

__all__ = ["IdentityJob", "init_worker", "judge_picks", "run_identity_job"]

_CHUNK = 16
"""Images decoded ahead of the judge: enough to keep a pool busy, few enough to hold."""


@dataclasses.dataclass(frozen=True)
class IdentityJob:
    """One original and the decodes to compare with it (``128 x 128 x 3`` uint8 each)."""

    original: np.ndarray
    decodes: tuple[np.ndarray, ...]


_judge: list[FaceIdentity] = []


def init_worker() -> None:
    """Load dlib's models in this process, once."""
    if not _judge:
        _judge.append(FaceIdentity())


def run_identity_job(job: IdentityJob) -> tuple[bool, list[float]]:
    """Whether the original's face was detected, and each decode's descriptor distance from it."""
    init_worker()
    reference = _judge[0].reference(job.original)
    return reference.detected, [_judge[0].distance(reference, decoded) for decoded in job.decodes]


def _results(jobs: Iterator[IdentityJob], workers: int) -> Iterator[tuple[bool, list[float]]]:
    if workers <= 1:
        yield from map(run_identity_job, jobs)
        return
    with worker_pool(workers, initializer=init_worker) as pool:
        while chunk := [job for _, job in zip(range(_CHUNK), jobs, strict=False)]:
            yield from pool.map(run_identity_job, chunk)


def judge_picks(
    picks: Mapping[float, Mapping[str, Sequence[Pick]]],
    chosen: Mapping[float, Sequence[str]],
    originals: Sequence[np.ndarray],
    decode: Callable[[int, Measurement], np.ndarray],
    *,
    workers: int = 1,
    advance: Callable[[], None] = lambda: None,
) -> tuple[dict[float, dict[str, list[Pick]]], int]:
    """The picks, with ``face_distance`` set on those of the chosen families.

    Parameters
    ----------
    picks : mapping
        By budget's rate, then by family: one pick per image.
    chosen : mapping of float to sequence of str
        By budget's rate, the families whose picks are judged.
    originals : sequence of numpy.ndarray
        The images, in the picks' order.
    decode : callable
        ``decode(image index, measurement)``: the decoded pixels of that
        pick's file, ``128 x 128 x 3`` uint8.
    workers : int
        Processes; one: judge in this process.
    advance : callable
        Called once per image judged (a progress bar).

    Returns
    -------
    picks : dict
        As given, the chosen families' reached picks with their distance.
    undetected : int
        Originals where dlib's detector found no face (judged with the whole
        image as the face box).
    """
    # Per image, the files to judge, each once: by (variant, setting), a measurement of it.
    wanted: list[dict[tuple[str, int], Measurement]] = [{} for _ in originals]
    for target, families in chosen.items():
        for family in families:
            for files, pick in zip(wanted, picks[target][family], strict=True):
                if pick.measurement is not None:
                    files.setdefault((pick.measurement.codec, pick.measurement.param), pick.measurement)

    def jobs() -> Iterator[IdentityJob]:
        for image, files in enumerate(wanted):
            yield IdentityJob(originals[image], tuple(decode(image, m) for m in files.values()))

    distances: list[dict[tuple[str, int], float]] = []
    undetected = 0
    for files, (detected, found) in zip(wanted, _results(jobs(), workers), strict=True):
        undetected += not detected
        distances.append(dict(zip(files, found, strict=True)))
        advance()

    out: dict[float, dict[str, list[Pick]]] = {}
    for target, by_family in picks.items():
        out[target] = {}
        for family, row in by_family.items():
            if family not in chosen.get(target, ()):
                out[target][family] = list(row)
                continue
            out[target][family] = [
                pick if pick.measurement is None
                else dataclasses.replace(
                    pick, face_distance=distances[i][pick.measurement.codec, pick.measurement.param]
                )
                for i, pick in enumerate(row)
            ]
    return out, undetected
