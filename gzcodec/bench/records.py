"""The schema of ``results.json``: every value a bench run records, typed.

A bench run is a :class:`BenchRun`; each of its parts is a frozen dataclass
whose fields, in order, are the keys of its JSON object (a field's
``metadata["json"]`` names a key that differs from the field). ``to_json()``
writes that object and ``from_json()`` reads it back, from any
``results.json`` written so far. The layout, top down::

    BenchRun
      meta: Meta                          command, date, Machine, CacheStats, a ModelEntry per model
      codecs: {name: CodecInfo}           every codec variant measured
      points: {key: RDPoint}              fixed settings, by "<codec> <param name>=<value>"
      ladders: {name: [key]}              each gzcodec model's points, by setting
      matched: {"<bytes>": MatchedTarget} per byte budget, per family: a MatchedCodec of Picks
                                          (keyed by bpp, "<bpp>", in runs before budgets in bytes)
      smallest: {family: SmallestFile}
      bd: {name: {family: BDEntry}}       each gzcodec ladder against each classic family
      grid: Grid                          the side-by-side faces, GridFaces
      poster_table: [PosterRow]           the poster's figures beside ours
      versus: {name: {"<bytes>": AgainstBestClassic}}  each gzcodec model against the best
                                          classic codec at each budget, on the faces it reaches

A :class:`Measurement` is one file decoded and compared with its original; a
:class:`Pick` is the file a codec family gets at a byte budget (a measurement
when some variant fits); a :class:`Mean` averages measurements. Nothing here
imports torch, Pillow or the codecs: the schema can be read anywhere.

Non-finite numbers (the PSNR of a lossless file, a BD-rate that cannot be
computed) are written as ``null`` (:mod:`gzcodec.bench.jsonio`) and read back
as NaN.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, Union

import numpy as np

from .identity import SAME_PERSON_DISTANCE
from .jsonio import read_json, write_json

__all__ = [
    "AgainstBestClassic",
    "BDEntry",
    "BenchRun",
    "CacheStats",
    "CodecInfo",
    "Grid",
    "GridFace",
    "IdentityInfo",
    "Machine",
    "MatchedCodec",
    "MatchedTarget",
    "Mean",
    "Measurement",
    "Meta",
    "ModelEntry",
    "Pick",
    "PosterFigures",
    "PosterRow",
    "RDPoint",
    "SmallestFile",
    "Variant",
    "VariantFit",
    "VariantMiss",
]

Json = dict[str, Any]
_R = TypeVar("_R", bound="_Record")


def _key(name: str) -> dataclasses.Field:
    """A field written under the JSON key ``name``."""
    return dataclasses.field(metadata={"json": name})


def _omitted_if_none() -> Any:
    """A field left out of the JSON object while it is ``None``."""
    return dataclasses.field(default=None, metadata={"omit_none": True})


def _omitted_if_empty() -> Any:
    """A mapping field left out of the JSON object while it is empty (absent from older runs)."""
    return dataclasses.field(default_factory=dict, metadata={"omit_empty": True})


def _encode(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(kind: Any, value: Any) -> Any:
    """``value`` of ``results.json`` as a value of type ``kind``; ``null`` floats read as NaN."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _decode(kind, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        return {k: _decode(args[1], v) for k, v in value.items()}
    if kind is float:
        return math.nan if value is None else float(value)
    if isinstance(kind, type) and issubclass(kind, _Record):
        return kind.from_json(value)
    return kind(value)


class _Record:
    """A part of ``results.json``: a frozen dataclass whose fields are its JSON keys, in order."""

    @classmethod
    @functools.cache
    def _layout(cls) -> tuple[tuple[dataclasses.Field, str, Any], ...]:
        hints = typing.get_type_hints(cls)
        return tuple((f, f.metadata.get("json", f.name), hints[f.name]) for f in dataclasses.fields(cls))

    def to_json(self) -> Json:
        """The JSON object, keys in field order."""
        out: Json = {}
        for field, key, _ in self._layout():
            value = getattr(self, field.name)
            if value is None and field.metadata.get("omit_none"):
                continue
            if not value and field.metadata.get("omit_empty"):
                continue
            out[key] = _encode(value)
        return out

    @classmethod
    def from_json(cls: type[_R], data: Mapping[str, Any]) -> _R:
        """The record of a JSON object; a key that is missing takes the field's default."""
        values = {field.name: _decode(kind, data[key]) for field, key, kind in cls._layout() if key in data}
        return cls(**values)


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


@dataclasses.dataclass(frozen=True)
class CodecInfo(_Record):
    """What the report says of one codec variant (:class:`~gzcodec.bench.interface.Codec`).

    ``param_values`` is a long contiguous range's two ends, or every value.
    """

    family: str
    label: str
    scale: float
    param_name: str
    param_values: tuple[int, ...]
    description: str


@dataclasses.dataclass(frozen=True)
class ModelEntry(_Record):
    """A gzcodec model measured by the bench (:meth:`~gzcodec.bench.interface.NeuralCodec.info`).

    Attributes
    ----------
    id : str
        The model's id.
    name : str
        Its config name.
    path : str
        Its weights file.
    weights_bytes : int
        That file's size, which the decoder needs as well.
    ladder_key : str or None
        The JSON key of the settings measured: ``"bits_ladder"`` or
        ``"rate_ladder"`` (``"level_bits"`` in early runs).
    ladder : tuple of int
        Those settings.
    """

    id: str
    name: str
    path: str
    weights_bytes: int
    ladder_key: str | None = None
    ladder: tuple[int, ...] = ()

    def to_json(self) -> Json:
        """``id``, ``name``, ``path``, ``weights_bytes`` and the ladder under its key."""
        out: Json = {"id": self.id, "name": self.name, "path": self.path, "weights_bytes": self.weights_bytes}
        if self.ladder_key is not None:
            out[self.ladder_key] = list(self.ladder)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelEntry:
        """The model of :meth:`to_json`'s output."""
        key = next((k for k in data if k not in ("id", "name", "path", "weights_bytes")), None)
        ladder = () if key is None else tuple(int(v) for v in data[key])
        return cls(data["id"], data["name"], data["path"], int(data["weights_bytes"]), key, ladder)


@dataclasses.dataclass(frozen=True)
class Machine(_Record):
    """The computer a run measured on."""

    cpu_count: int | None
    cpu: str
    platform: str
    python: str


@dataclasses.dataclass(frozen=True)
class CacheStats(_Record):
    """The persistent cache of classic encodes (:mod:`gzcodec.bench.diskcache`) in one run."""

    dir: str | None  # None: no cache
    encoder_calls: int  # classic encodes run
    cache_hits: int  # classic encodes replayed from the cache


@dataclasses.dataclass(frozen=True)
class IdentityInfo(_Record):
    """How the identity column was measured (:mod:`gzcodec.bench.identity`), or why not.

    Attributes
    ----------
    status : str
        ``"measured"``, ``"not installed"`` or ``"off"`` (``--no-identity``).
    threshold : float
        Descriptor distance below which a decode is the same person.
    faces_without_detection : int
        Originals where dlib's detector found no face: their box is the whole image.
    seconds : float
        Wall time of the identity measurements.
    """

    status: str
    threshold: float = math.nan
    faces_without_detection: int = 0
    seconds: float = math.nan


@dataclasses.dataclass(frozen=True, kw_only=True)
class Meta(_Record):
    """How, where and on what a run was made.

    Attributes
    ----------
    command : str
        The command line that made it.
    date : str
        ISO 8601, UTC, to the second.
    machine : Machine
    workers : int
        Processes of the classic codecs.
    classic_cache : CacheStats or None
        ``None`` in runs made before the cache existed.
    gzcodec_version : str
    models : dict of str to ModelEntry
        The gzcodec models, by name in the run.
    image_dir : str
    n_images : int
    images : tuple of str
        The images measured, in order.
    poster_images : tuple of str
        The poster's test set: the first 10 of them.
    targets_bpp : tuple of float
        The matched-rate budgets' rates (bpp).
    wall_time_s : float
        The run's duration.
    budgets_bytes : tuple of int or None
        The matched-rate budgets in bytes, whole files (``None`` in runs made
        before they were the bench's knob).
    gzcodec_threads : int or None
        Torch threads gzcodec ran on (the times' thread count).
    identity : IdentityInfo or None
        How identity was measured; ``None`` in runs made before it was.
    """

    command: str
    date: str
    machine: Machine
    workers: int = 1
    classic_cache: CacheStats | None = None
    gzcodec_version: str
    models: dict[str, ModelEntry]
    image_dir: str
    n_images: int
    images: tuple[str, ...]
    poster_images: tuple[str, ...]
    targets_bpp: tuple[float, ...]
    wall_time_s: float = math.nan
    budgets_bytes: tuple[int, ...] | None = _omitted_if_none()
    gzcodec_threads: int | None = _omitted_if_none()
    identity: IdentityInfo | None = _omitted_if_none()


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchRun(_Record):
    """A whole bench run: what ``results.json`` holds, and all the report is drawn from.

    Attributes
    ----------
    meta : Meta
    codecs : dict of str to CodecInfo
        Every codec variant, gzcodec's first.
    points : dict of str to RDPoint
        Fixed-setting measurements, by ``"<codec> <param name>=<value>"``.
    ladders : dict of str to tuple of str
        Each gzcodec model's point keys, by increasing setting.
    matched : dict of str to MatchedTarget
        By byte budget, written ``str(bytes)`` (``f"{bpp:g}"`` in runs made
        before budgets were in bytes).
    smallest : dict of str to SmallestFile
        By codec family.
    bd : dict of str to dict of str to BDEntry
        By gzcodec model, then by the codec family it is compared with.
    grid : Grid
    poster_table : tuple of PosterRow
    versus : dict of str to dict of str to AgainstBestClassic
        By gzcodec model, then by budget (``str(bytes)``); empty in runs made
        before it was recorded.
    """

    meta: Meta
    codecs: dict[str, CodecInfo]
    points: dict[str, RDPoint]
    ladders: dict[str, tuple[str, ...]]
    matched: dict[str, MatchedTarget]
    smallest: dict[str, SmallestFile] = dataclasses.field(default_factory=dict)
    bd: dict[str, dict[str, BDEntry]]
    grid: Grid = Grid()
    poster_table: tuple[PosterRow, ...] = ()
    versus: dict[str, dict[str, AgainstBestClassic]] = _omitted_if_empty()

    def family_labels(self) -> dict[str, str]:
        """Display label of each codec family (its native-scale variant's label)."""
        labels: dict[str, str] = {}
        for info in self.codecs.values():
            if info.scale == 1.0 or info.family not in labels:
                labels[info.family] = info.label
        return labels

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``results.json`` (:func:`gzcodec.bench.jsonio.write_json`)."""
        write_json(self.to_json(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BenchRun:
        """Read a ``results.json``."""
        return cls.from_json(read_json(path))
