"""From per-image measurements to the run's tables: points, matched rates, smallest files, BD-rates."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from .interface import Codec
from .measure import budget_bytes
from .metrics import bd_psnr, bd_rate, pareto_front
from .poster import POSTER_IMAGES
from .records import BDEntry, MatchedCodec, MatchedTarget, Mean, Measurement, Pick, RDPoint, SmallestFile

__all__ = ["bd_tables", "matched_tables", "rd_point", "smallest_files"]


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
    """Per target and codec family: reach, means over reached images, scales that won.

    Parameters
    ----------
    picks : mapping
        By target rate (bpp), then by codec family: one pick per image.

    Returns
    -------
    dict of str to MatchedTarget
        By target, written ``f"{bpp:g}"``.
    """
    return {
        f"{target:g}": MatchedTarget(
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
    for name, keys in ladders.items():
        test = _frontier([(points[k].mean.bpp, points[k].mean.psnr) for k in keys])
        out[name] = {}
        for family in families:
            # Only targets every image reached: a mean over a subset would flatter a codec.
            reached = [m.codecs[family] for m in matched.values() if m.codecs[family].n_reached == n_images]
            anchor = _frontier([(c.mean.bpp, c.mean.psnr) for c in reached])
            out[name][family] = _bd_entry(anchor, test)
    return out


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
