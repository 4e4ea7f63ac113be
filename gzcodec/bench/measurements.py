"""The measured parts of ``results.json``: files, picks, means, curves, grids."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Union

import numpy as np

from .identity import SAME_PERSON_DISTANCE
from .jsonrecord import Json, _decode, _encode, _key, _omitted_if_none, _Record

__all__ = ["Measurement", "VariantFit", "VariantMiss", "Variant", "Pick", "Mean", "RDPoint", "MatchedCodec",
           "MatchedTarget", "AgainstBestClassic", "SmallestFile", "BDEntry", "GridFace", "Grid", "PosterRow",
           "PosterFigures"]


@dataclasses.dataclass(frozen=True)
class Measurement(_Record):
    """One file decoded and compared with its original (128x128).

    Attributes
    ----------
    image : str
        Image file name.
    codec : str
        The codec variant that made the file, e.g. ``"webp@0.5"``.
    scale : float
        That variant's linear scale.
    param : int
        The setting the file was made at.
    nbytes : int
        File size in bytes (``"bytes"`` in JSON).
    bpp : float
        Bits per pixel of the original image.
    mse, psnr, ssim, ms_ssim : float
        Distortion of the decoded image (:func:`gzcodec.bench.metrics.quality_metrics`).
    encode_s, decode_s : float
        Wall-clock seconds.
    """

    image: str
    codec: str
    scale: float
    param: int
    nbytes: int = _key("bytes")
    bpp: float
    mse: float
    psnr: float
    ssim: float
    ms_ssim: float
    encode_s: float
    decode_s: float


@dataclasses.dataclass(frozen=True)
class VariantFit(_Record):
    """A scale variant's largest file within a pick's budget."""

    param: int
    nbytes: int = _key("bytes")
    psnr: float


@dataclasses.dataclass(frozen=True)
class VariantMiss(_Record):
    """A scale variant that cannot make a file within a pick's budget."""

    min_bytes: int  # the smallest file it can make

    def to_json(self) -> Json:
        """``{"reached": false, "min_bytes"}``."""
        return {"reached": False, **super().to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VariantMiss:
        """The variant of :meth:`to_json`'s output."""
        return cls(int(data["min_bytes"]))


Variant = Union[VariantFit, VariantMiss]
"""What one scale variant made of a pick's budget."""


@dataclasses.dataclass(frozen=True)
class Pick(_Record):
    """The file one codec family gets for one image at a byte budget (:mod:`gzcodec.bench.pick`).

    Written as the measurement's fields (or ``image`` and ``min_bytes`` when
    none fits), ``reached``, ``budget_bytes``, ``variants`` and ``encodes``.

    Attributes
    ----------
    image : str
        Image file name.
    budget_bytes : int
        The budget.
    variants : dict of str to Variant
        What each scale variant made of the budget, by variant name.
    measurement : Measurement or None
        The best-PSNR variant's file; ``None`` when no variant fits.
    min_bytes : int or None
        When none fits: the smallest file any variant can make.
    encodes : int or None
        Encodes the family's searches had needed for this image so far (the
        classic codecs' matched picks only).
    face_distance : float or None
        Distance of the decode's face descriptor from the original's
        (:mod:`gzcodec.bench.identity`; NaN or inf: no descriptor, not the
        same person); ``None`` where identity was not measured.
    """

    image: str
    budget_bytes: int
    variants: dict[str, Variant]
    measurement: Measurement | None = None
    min_bytes: int | None = None
    encodes: int | None = None
    face_distance: float | None = None

    @property
    def reached(self) -> bool:
        """Whether some variant's file fits the budget."""
        return self.measurement is not None

    def to_json(self) -> Json:
        """The pick's JSON object, flat."""
        if self.measurement is not None:
            out = {**self.measurement.to_json(), "reached": True, "budget_bytes": self.budget_bytes}
        else:
            out = {"image": self.image, "reached": False, "budget_bytes": self.budget_bytes}
            out["min_bytes"] = self.min_bytes
        out["variants"] = _encode(self.variants)
        if self.encodes is not None:
            out["encodes"] = self.encodes
        if self.face_distance is not None:
            out["face_distance"] = self.face_distance
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pick:
        """The pick of :meth:`to_json`'s output."""
        reached = bool(data["reached"])
        variants = {
            name: VariantMiss.from_json(v) if v.get("reached") is False else VariantFit.from_json(v)
            for name, v in data["variants"].items()
        }
        return cls(
            image=data["image"],
            budget_bytes=int(data["budget_bytes"]),
            variants=variants,
            measurement=Measurement.from_json(data) if reached else None,
            min_bytes=None if reached else int(data["min_bytes"]),
            encodes=_decode(int | None, data.get("encodes")),
            # Present means measured; null (a failed descriptor) reads as NaN: not the same person.
            face_distance=_decode(float, data["face_distance"]) if "face_distance" in data else None,
        )


@dataclasses.dataclass(frozen=True)
class Mean(_Record):
    """Means of ``n`` measurements, and their median times; ``Mean()``, over none, is all NaN.

    ``median_encode_s`` and ``median_decode_s`` are the medians over the
    measurements (``None`` over none, and in runs made before they were
    recorded): the times the report states, which one slow face does not move.
    """

    n: int = 0
    bpp: float = math.nan
    mse: float = math.nan
    psnr: float = math.nan
    ssim: float = math.nan
    ms_ssim: float = math.nan
    encode_s: float = math.nan
    decode_s: float = math.nan
    median_encode_s: float | None = _omitted_if_none()
    median_decode_s: float | None = _omitted_if_none()

    FIELDS: ClassVar[tuple[str, ...]] = ("bpp", "mse", "psnr", "ssim", "ms_ssim", "encode_s", "decode_s")
    """The :class:`Measurement` fields averaged."""

    @classmethod
    def of(cls, measurements: Iterable[Measurement]) -> Mean:
        """The means of ``measurements``."""
        rows = list(measurements)
        if not rows:
            return cls()
        means = (float(np.mean([getattr(m, name) for m in rows])) for name in cls.FIELDS)
        medians = (float(np.median([getattr(m, name) for m in rows])) for name in ("encode_s", "decode_s"))
        return cls(len(rows), *means, *medians)


@dataclasses.dataclass(frozen=True)
class RDPoint(_Record):
    """One codec variant at one fixed setting, on every image.

    ``mean_poster_images`` averages the poster's test set only (the first
    :data:`~gzcodec.bench.poster.POSTER_IMAGES` images).
    """

    codec: str
    family: str
    param_name: str
    param: int
    images: tuple[Measurement, ...]
    mean: Mean
    mean_poster_images: Mean


@dataclasses.dataclass(frozen=True)
class MatchedCodec(_Record):
    """One codec family's picks at one target rate, and what they add up to.

    Attributes
    ----------
    n_reached, n : int
        Images whose pick fits the budget; images.
    mean : Mean
        Means over the images reached.
    scale_wins : dict of str to int
        How often each scale (``"1"``, ``"0.75"``, ``"0.5"``) gave the pick.
    images : tuple of Pick
        One pick per image.
    n_same_person : int or None
        Picks whose decode is the same person as the original (of those
        whose identity was measured, :attr:`n_judged`); ``None`` where
        identity was not measured for this family.
    n_judged : int or None
        Picks whose identity was measured.
    """

    n_reached: int
    n: int
    mean: Mean
    scale_wins: dict[str, int]
    images: tuple[Pick, ...]
    n_same_person: int | None = _omitted_if_none()
    n_judged: int | None = _omitted_if_none()

    @classmethod
    def of(cls, picks: Sequence[Pick]) -> MatchedCodec:
        """The summary of ``picks`` (one per image)."""
        reached = [p.measurement for p in picks if p.measurement is not None]
        wins: dict[str, int] = {}
        for m in reached:
            wins[f"{m.scale:g}"] = wins.get(f"{m.scale:g}", 0) + 1
        judged = [p.face_distance for p in picks if p.face_distance is not None]
        same = sum(1 for d in judged if d < SAME_PERSON_DISTANCE) if judged else None
        return cls(
            len(reached), len(picks), Mean.of(reached), wins, tuple(picks), same, len(judged) or None
        )


@dataclasses.dataclass(frozen=True)
class MatchedTarget(_Record):
    """Every codec family at one byte budget (``codecs``: by family); ``target_bpp`` is its rate."""

    target_bpp: float
    budget_bytes: int
    codecs: dict[str, MatchedCodec]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgainstBestClassic(_Record):
    """One gzcodec model against the best classic codec at one byte budget.

    The best classic codec is the family of best mean PSNR on the faces it
    reaches (:func:`gzcodec.bench.summary.best_classic`); gzcodec is compared
    with it on the faces both reach (``shared``), as well as on all the faces
    its own file fits.

    Attributes
    ----------
    budget_bytes : int
        The budget.
    n : int
        Faces in the run.
    gzcodec : Mean
        gzcodec over the faces its file fits (``gzcodec.n`` of them).
    family : str or None
        The best classic codec; ``None`` when no classic codec reaches a face.
    classic_reached : int
        Faces the best classic codec reaches.
    shared : int
        Faces both reach: those of the comparison.
    classic, gzcodec_on_shared : Mean
        The best classic codec and gzcodec over the ``shared`` faces.
    delta_psnr_db, delta_ssim : float
        gzcodec's mean minus the classic codec's, over the ``shared`` faces.
    gzcodec_same_person, classic_same_person, gzcodec_same_person_on_shared : int or None
        Faces whose decode is the same person: gzcodec's of ``gzcodec.n``, and
        each codec's of ``shared``; ``None`` where identity was not measured.
    """

    budget_bytes: int
    n: int
    gzcodec: Mean
    family: str | None
    classic_reached: int
    shared: int
    classic: Mean
    gzcodec_on_shared: Mean
    delta_psnr_db: float
    delta_ssim: float
    gzcodec_same_person: int | None = None
    classic_same_person: int | None = None
    gzcodec_same_person_on_shared: int | None = None


@dataclasses.dataclass(frozen=True)
class SmallestFile(_Record):
    """The smallest file one codec family can make, over the images (bytes)."""

    median_bytes: float
    min_bytes: int
    max_bytes: int

    @classmethod
    def of(cls, sizes: Sequence[int]) -> SmallestFile:
        """Median and range of ``sizes``, one per image."""
        return cls(float(np.median(sizes)), int(min(sizes)), int(max(sizes)))


@dataclasses.dataclass(frozen=True)
class BDEntry(_Record):
    """BD-rate and BD-PSNR of one gzcodec ladder against one codec family.

    Attributes
    ----------
    bd_rate_pct : float
        Percent more rate than the anchor at equal PSNR (negative: gzcodec
        needs fewer bits); NaN when it cannot be computed.
    bd_psnr_db : float
        dB more than the anchor at equal rate.
    anchor_points, test_points : int
        Points on each curve's Pareto front.
    psnr_overlap_db : tuple of float or None
        The PSNR range both curves cover, if any.
    note : str
        Why the deltas are NaN, or ``""``.
    """

    bd_rate_pct: float
    bd_psnr_db: float
    anchor_points: int
    test_points: int
    psnr_overlap_db: tuple[float, float] | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class GridFace(_Record):
    """One face of the grid: gzcodec's file and each grid family's pick within its size.

    Written as ``image``, ``budget_bytes`` and ``tiles``: gzcodec's
    measurement under its name, then each family's pick.

    Attributes
    ----------
    image : str
        Image file name.
    budget_bytes : int
        The size of gzcodec's file, every other codec's budget.
    codec : str
        gzcodec's name in the run.
    measurement : Measurement
        gzcodec's file.
    picks : dict of str to Pick
        By codec family.
    """

    image: str
    budget_bytes: int
    codec: str
    measurement: Measurement
    picks: dict[str, Pick]

    def to_json(self) -> Json:
        """``image``, ``budget_bytes`` and ``tiles``."""
        tiles = {self.codec: self.measurement.to_json(), **_encode(self.picks)}
        return {"image": self.image, "budget_bytes": self.budget_bytes, "tiles": tiles}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GridFace:
        """The face of :meth:`to_json`'s output."""
        (codec, first), *rest = data["tiles"].items()
        picks = {family: Pick.from_json(tile) for family, tile in rest}
        return cls(data["image"], int(data["budget_bytes"]), codec, Measurement.from_json(first), picks)


@dataclasses.dataclass(frozen=True)
class Grid(_Record):
    """The side-by-side faces, all at the sizes of gzcodec's files at one setting.

    Attributes
    ----------
    faces : tuple of GridFace
        Empty when the run measured no gzcodec model.
    codec : str or None
        The gzcodec model shown.
    param : int or None
        Its setting.
    image_dir : str or None
        The folder of the faces when they are not the bench's own images.
    """

    faces: tuple[GridFace, ...] = ()
    codec: str | None = _omitted_if_none()
    param: int | None = _omitted_if_none()
    image_dir: str | None = _omitted_if_none()


@dataclasses.dataclass(frozen=True)
class PosterRow(_Record):
    """A row of the poster's table with our measurement beside it (:mod:`gzcodec.bench.poster`).

    Attributes
    ----------
    method : str
        The poster's method (with the gzcodec model's name in its GAN row).
    point : str or None
        Key of our matching :class:`RDPoint`; ``None`` when it was not measured.
    setting : str
        The setting the row stands for.
    note : str
        How gzcodec's setting was chosen, or ``""``.
    poster : PosterFigures
        The poster's figures.
    ours : Mean or None
        Our means over the poster's first 10 images.
    """

    method: str
    point: str | None
    setting: str
    note: str
    poster: PosterFigures
    ours: Mean | None


@dataclasses.dataclass(frozen=True)
class PosterFigures(_Record):
    """One row of the poster's table as the poster printed it (means over its 10 faces)."""

    bpp: float
    psnr: float
    mse: float
    ssim: float
