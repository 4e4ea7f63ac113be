"""A bench run as a whole (:mod:`gzcodec.bench.records`): :class:`BenchRun`, its :class:`Meta` and codecs."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

from .jsonio import read_json, write_json
from .jsonrecord import Json, _omitted_if_empty, _omitted_if_none, _Record
from .measurements import (
    AgainstBestClassic,
    BDEntry,
    Grid,
    MatchedTarget,
    PosterRow,
    RDPoint,
    SmallestFile,
)

__all__ = ["CodecInfo", "ModelEntry", "Machine", "CacheStats", "IdentityInfo", "Meta", "BenchRun"]


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
    """The persistent encode cache (:mod:`gzcodec.bench.diskcache`) in one run: the classic
    codecs' encodes, or gzcodec's files."""

    dir: str | None  # None: no cache
    encoder_calls: int  # encodes run
    cache_hits: int  # encodes replayed from the cache
    store: str | None = _omitted_if_none()  # classic store folder (gzcodec.bench.classicstore)
    stored_images: int | None = _omitted_if_none()  # images replayed from the store


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
    gzcodec_cache : CacheStats or None
        gzcodec's files (every model's): encoded, and read from the cache;
        ``None`` without a model, and in runs made before they were cached.
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
    gzcodec_cache: CacheStats | None = _omitted_if_none()
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
    skipped_images: int | None = _omitted_if_none()  # --skip: files left out before the first


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
    bd_models : dict of str to dict of str to BDEntry
        With several gzcodec models: by model, then by the other model it is
        compared with (:func:`~gzcodec.bench.summary.bd_between_models`);
        empty otherwise, and in runs made before it was recorded.
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
    bd_models: dict[str, dict[str, BDEntry]] = _omitted_if_empty()

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
