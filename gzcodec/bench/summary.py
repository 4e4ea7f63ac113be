"""From per-image measurements to the run's tables: points, matched rates, the best classic
codec at each budget, smallest files, BD-rates."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from .identity import SAME_PERSON_DISTANCE
from .interface import Codec
from .measure import budget_bytes
from .metrics import bd_psnr, bd_rate, pareto_front
from .poster import POSTER_IMAGES
from .records import (
    AgainstBestClassic,
    BDEntry,
    MatchedCodec,
    MatchedTarget,
    Mean,
    Measurement,
    Pick,
    RDPoint,
    SmallestFile,
)

__all__ = [
    "CLASSIC_FAMILIES",
    "against_best_classic",
    "bd_between_models",
    "bd_tables",
    "best_classic",
    "matched_tables",
    "rd_point",
    "smallest_files",
]

CLASSIC_FAMILIES: tuple[str, ...] = ("webp", "avif", "jxl", "jpeg")
"""The classic codecs that may be "the best classic codec" at a budget (the poster's
KNN palette is a baseline, not a contender)."""


def rd_point(codec: Codec, param: int, measurements: Sequence[Measurement]) -> RDPoint:
    """``codec`` at setting ``param`` on every image: the measurements and their means."""
    return RDPoint(
        codec=codec.name,
        family=codec.family,
        param_name=codec.param_name,
        param=param,
        images=tuple(measurements),
        mean=Mean.of(measurements),
        mean_poster_images=Mean.of(measurements[:POSTER_IMAGES]),
    )


def matched_tables(picks: Mapping[float, Mapping[str, Sequence[Pick]]]) -> dict[str, MatchedTarget]:
    """Per budget and codec family: reach, means over reached images, scales that won.

    Parameters
    ----------
    picks : mapping
        By budget's rate (bpp), then by codec family: one pick per image.

    Returns
    -------
    dict of str to MatchedTarget
        By budget in bytes, written ``str(bytes)``.
    """
    return {
        str(budget_bytes(target)): MatchedTarget(
            target_bpp=target,
            budget_bytes=budget_bytes(target),
            codecs={family: MatchedCodec.of(entries) for family, entries in by_family.items()},
        )
        for target, by_family in picks.items()
    }


def smallest_files(sizes: Mapping[str, Sequence[int]]) -> dict[str, SmallestFile]:
    """Per codec family: the smallest file it can make, over the images (one size per image)."""
    return {family: SmallestFile.of(per_image) for family, per_image in sizes.items()}


def bd_tables(
    points: Mapping[str, RDPoint],
    ladders: Mapping[str, Sequence[str]],
    families: Iterable[str],
    matched: Mapping[str, MatchedTarget],
    n_images: int,
) -> dict[str, dict[str, BDEntry]]:
    """BD-rate and BD-PSNR of each gzcodec ladder against each classic family.

    Parameters
    ----------
    points : mapping of str to RDPoint
        The run's fixed-setting measurements.
    ladders : mapping of str to sequence of str
        Each gzcodec model's point keys.
    families : iterable of str
        The classic codec families, the anchors.
    matched : mapping of str to MatchedTarget
        The matched-rate tables, whose means are the anchors' curves.
    n_images : int
        Images in the run: only targets every image reached are on a curve.

    Returns
    -------
    dict
        By gzcodec model, then by family.
    """
    families = list(families)
    out: dict[str, dict[str, BDEntry]] = {}
    for name, test in _ladder_curves(points, ladders).items():
        out[name] = {}
        for family in families:
            # Only targets every image reached: a mean over a subset would flatter a codec.
            reached = [m.codecs[family] for m in matched.values() if m.codecs[family].n_reached == n_images]
            anchor = _frontier([(c.mean.bpp, c.mean.psnr) for c in reached])
            out[name][family] = _bd_entry(anchor, test)
    return out


def bd_between_models(points: Mapping[str, RDPoint], ladders: Mapping[str, Sequence[str]]
                      ) -> dict[str, dict[str, BDEntry]]:
    """BD-rate and BD-PSNR of each gzcodec ladder against each other one (two models or more).

    Both curves are fixed-setting ladders measured on every image (mean bpp,
    mean PSNR), each cut to its Pareto front, as in :func:`bd_tables`: what a
    data-specific model gains over another on the run's images (issue 23's
    "each domain's own model wins on it").

    Parameters
    ----------
    points, ladders
        As for :func:`bd_tables`.

    Returns
    -------
    dict
        By gzcodec model (the test), then by the model it is compared with
        (the anchor); empty with fewer than two models.

    Examples
    --------
    >>> from gzcodec.bench.records import Mean
    >>> def point(bpp, psnr):
    ...     return RDPoint("m", "m", "rate", 0, (), Mean(bpp=bpp, psnr=psnr), Mean())
    >>> points = {f"{m} {i}": point(bpp * (2 if m == "b" else 1), 20 + i)
    ...           for m in "ab" for i, bpp in enumerate([0.1, 0.2, 0.4, 0.8])}
    >>> table = bd_between_models(points, {m: [f"{m} {i}" for i in range(4)] for m in "ab"})
    >>> round(table["b"]["a"].bd_rate_pct, 6), round(table["a"]["b"].bd_rate_pct, 6)
    (100.0, -50.0)
    """
    curves = _ladder_curves(points, ladders)
    return {test: {anchor: _bd_entry(curves[anchor], curves[test]) for anchor in curves if anchor != test}
            for test in curves} if len(curves) > 1 else {}


def _ladder_curves(points: Mapping[str, RDPoint], ladders: Mapping[str, Sequence[str]]
                   ) -> dict[str, list[tuple[float, float]]]:
    """Each gzcodec model's curve: its ladder's mean (bpp, PSNR), cut to the Pareto front."""
    return {name: _frontier([(points[k].mean.bpp, points[k].mean.psnr) for k in keys])
            for name, keys in ladders.items()}


def _frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (rate, PSNR) points on the curve's Pareto front, by increasing rate."""
    keep = pareto_front([p[0] for p in points], [p[1] for p in points])
    return [points[i] for i in keep]


def _bd_entry(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> BDEntry:
    curves = ([a[0] for a in anchor], [a[1] for a in anchor], [t[0] for t in test], [t[1] for t in test])
    low = max(min(curves[1], default=math.inf), min(curves[3], default=math.inf))
    high = min(max(curves[1], default=-math.inf), max(curves[3], default=-math.inf))
    if len(anchor) < 4 or len(test) < 4:
        note = "fewer than 4 points on a curve"
    elif not high > low:
        note = "PSNR ranges do not overlap"
    else:
        note = ""
    return BDEntry(
        bd_rate_pct=bd_rate(*curves),
        bd_psnr_db=bd_psnr(*curves),
        anchor_points=len(anchor),
        test_points=len(test),
        psnr_overlap_db=(low, high) if high > low else None,
        note=note,
    )


def best_classic(
    codecs: Mapping[str, MatchedCodec], candidates: Sequence[str] = CLASSIC_FAMILIES
) -> str | None:
    """The classic codec of best mean PSNR on the faces it reaches, at one budget.

    Parameters
    ----------
    codecs : mapping of str to MatchedCodec
        Every codec family at the budget.
    candidates : sequence of str
        The families that may win; those absent or reaching no face are passed over.

    Returns
    -------
    str or None
        The winner (the first listed among equals); ``None`` when none reaches a face.

    Examples
    --------
    >>> from gzcodec.bench.records import MatchedCodec, Mean
    >>> def reaching(n, psnr):
    ...     return MatchedCodec(n, 4, Mean(n=n, psnr=psnr), {}, ())
    >>> best_classic({"webp": reaching(4, 26.3), "avif": reaching(1, 27.0), "jpeg": reaching(0, 0)})
    'avif'
    """
    reaching = [f for f in candidates if f in codecs and codecs[f].n_reached > 0]
    if not reaching:
        return None
    return max(reaching, key=lambda f: (codecs[f].mean.psnr, -reaching.index(f)))


def against_best_classic(block: MatchedTarget, model: str) -> AgainstBestClassic:
    """gzcodec model ``model`` against the best classic codec at one budget.

    Parameters
    ----------
    block : MatchedTarget
        Every codec family at the budget, ``model`` among them.
    model : str
        The gzcodec model's family name in ``block``.

    Returns
    -------
    AgainstBestClassic
        gzcodec on the faces it fits; the best classic codec and gzcodec on
        the faces both reach, and their differences; the identity counts
        where identity was measured for both.
    """
    ours = block.codecs[model]
    family = best_classic(block.codecs)
    theirs = block.codecs[family].images if family is not None else ()
    pairs = [
        (mine, other)
        for mine, other in zip(ours.images, theirs, strict=family is not None)
        if mine.measurement is not None and other.measurement is not None
    ]
    gz_shared = Mean.of(mine.measurement for mine, _ in pairs)
    classic_shared = Mean.of(other.measurement for _, other in pairs)
    judged = all(p.face_distance is not None for pair in pairs for p in pair)
    return AgainstBestClassic(
        budget_bytes=block.budget_bytes,
        n=ours.n,
        gzcodec=ours.mean,
        family=family,
        classic_reached=block.codecs[family].n_reached if family is not None else 0,
        shared=len(pairs),
        classic=classic_shared,
        gzcodec_on_shared=gz_shared,
        delta_psnr_db=gz_shared.psnr - classic_shared.psnr,
        delta_ssim=gz_shared.ssim - classic_shared.ssim,
        gzcodec_same_person=ours.n_same_person,
        classic_same_person=_same_person(other for _, other in pairs) if judged and pairs else None,
        gzcodec_same_person_on_shared=_same_person(mine for mine, _ in pairs) if judged and pairs else None,
    )


def _same_person(picks: Iterable[Pick]) -> int:
    return sum(1 for p in picks if p.face_distance is not None and p.face_distance < SAME_PERSON_DISTANCE)
