"""The grid: a few faces side by side, every codec within the size of gzcodec's file.

The first gzcodec model is shown at the setting of the poster's GAN-reversal
row (:func:`~gzcodec.bench.poster.pick_poster_point`); each face's budget is
the size of its file. The faces are the bench's first :data:`GRID_FACES`
images, or those of another folder (``--grid-dir``), which only gzcodec and
the grid's classic codecs encode. The classic codecs' picks come back in the
:class:`~gzcodec.bench.classic_run.ClassicResult` of each face's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

from .classic_run import GRID_FAMILIES, ClassicResult
from .interface import Codec, NeuralCodec
from .measure import measure
from .neural_run import NeuralResult, encode_batched
from .poster import pick_poster_point
from .records import GridFace, Measurement

__all__ = ["GRID_FACES", "GridInput", "Tile", "grid_face", "grid_headers", "grid_inputs"]

GRID_FACES = 4
"""Faces in the grid."""

Tile = tuple[Image.Image | None, str]
"""A tile of the grid figure: the decoded image (``None``: no file fits) and its caption."""


@dataclasses.dataclass(frozen=True)
class GridInput:
    """A face of the grid before the classic codecs see it: gzcodec's file and its measurement."""

    name: str
    reference: np.ndarray  # the image, 128 x 128 x 3 uint8
    data: bytes
    measurement: Measurement

    @property
    def budget(self) -> int:
        """The classic codecs' byte budget: the size of gzcodec's file."""
        return self.measurement.nbytes


def grid_inputs(
    codec: NeuralCodec,
    ladder: NeuralResult,
    bench: tuple[Sequence[str], Sequence[np.ndarray]],
    source: tuple[Sequence[str], Sequence[np.ndarray]] | None,
) -> tuple[int, list[GridInput]]:
    """gzcodec's setting in the grid, and its file of each face.

    Parameters
    ----------
    codec : NeuralCodec
        The model shown.
    ladder : NeuralResult
        Its work on the bench's images.
    bench : tuple
        The bench's image names and pixels.
    source : tuple, optional
        The grid's own image names and pixels (``--grid-dir``), encoded here;
        ``None``: the bench's first images, whose files ``ladder`` holds.

    Returns
    -------
    param : int
        The setting.
    faces : list of GridInput
    """
    chosen, _ = pick_poster_point(ladder.points)
    param = ladder.points[chosen].param
    if source is None:
        k = min(GRID_FACES, len(bench[0]))
        names, arrays = bench[0][:k], bench[1][:k]
        trials = [cache(param) for cache in ladder.caches[:k]]
    else:
        names, arrays = source
        trials = encode_batched(codec, [Image.fromarray(a, "RGB") for a in arrays], param)
    return param, [
        GridInput(name, ref, trial.data, measure(codec, trial, ref, name))
        for name, ref, trial in zip(names, arrays, trials, strict=True)
    ]


def grid_face(codec: NeuralCodec, face: GridInput, result: ClassicResult) -> tuple[GridFace, list[Tile]]:
    """One face's record and its row of the figure, from the classic codecs' grid picks."""
    gz = face.measurement
    row: list[Tile] = [
        (Image.fromarray(face.reference, "RGB"), face.name),
        (codec.decode(face.data), f"{gz.nbytes} B, {gz.psnr:.1f} dB"),
    ]
    for pick, picture in result.grid.values():
        m = pick.measurement
        if m is not None:
            scale = "" if m.scale == 1.0 else f" x{m.scale:g}"
            row.append((picture, f"{m.nbytes} B{scale}, {m.psnr:.1f} dB"))
        else:
            row.append((None, f"none <= {gz.nbytes} B (min {pick.min_bytes})"))
    picks = {family: pick for family, (pick, _) in result.grid.items()}
    return GridFace(face.name, face.budget, codec.name, gz, picks), row


def grid_headers(codec: NeuralCodec, param: int, families: Mapping[str, Sequence[Codec]]) -> list[str]:
    """Column titles of the grid figure: the original, gzcodec, each grid family present."""
    labels = [families[f][0].label for f in GRID_FAMILIES if f in families]
    return ["original", f"{codec.name} {codec.param_name}={param}", *labels]
