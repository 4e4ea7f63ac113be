"""The interface every benchmarked codec offers, classic or neural.

A codec turns a 128x128 RGB image into bytes and back, at a setting chosen
from ``param_values``: a sorted sequence of integers in which a larger value
gives a larger file (JPEG quality, gzcodec ``--bits``...). Rate control bisects
over that sequence, so the runner needs nothing else to know about a codec.

The rate of a measurement is always taken from the real bytes, container and
header included: ``bpp = len(data) * 8 / (width * height)`` of the *original*
image, as CompressAI's evaluation tools do.

A gzcodec model is a :class:`NeuralCodec`: a codec that also encodes a
batch at once (the reversal is much faster on a batch) and describes its model
for the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from PIL import Image

from .records import ModelEntry

__all__ = ["Codec", "NeuralCodec", "Trial", "bits_per_pixel"]


@dataclasses.dataclass(frozen=True)
class Trial:
    """One encode: the setting, the file and how long encoding took."""

    param: int
    data: bytes
    encode_s: float

    @property
    def nbytes(self) -> int:
        """File size in bytes."""
        return len(self.data)


@runtime_checkable
class Codec(Protocol):
    """What the bench needs from a codec.

    Attributes
    ----------
    name : str
        Unique key of this codec variant in the results, e.g. ``"webp@0.5"``.
    family : str
        Name shared by the scale variants of one codec, e.g. ``"webp"``; the
        matched-rate tables have one row per family.
    label : str
        Human-readable name for tables and figure legends.
    scale : float
        Linear scale the image is coded at (1.0 = native resolution).
    param_name : str
        What the setting is called (``"quality"``, ``"bits"``, ``"colours"``).
    param_values : Sequence[int]
        Every allowed setting, in increasing order of file size.
    description : str
        One sentence for the report: library, options, how it is coded.
    """

    name: str
    family: str
    label: str
    scale: float
    param_name: str
    param_values: Sequence[int]
    description: str

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """Compress ``image`` (RGB) at setting ``param``."""
        ...

    def decode(self, data: bytes) -> Image.Image:
        """Decompress to an RGB image of the original size."""
        ...


@runtime_checkable
class NeuralCodec(Codec, Protocol):
    """What the bench needs from a gzcodec model: a :class:`Codec` that batches and describes itself."""

    def encode_batch(self, images: list[Image.Image], *, param: int) -> list[bytes]:
        """Compress ``images`` (RGB) at setting ``param``, as one batch."""
        ...

    def info(self) -> ModelEntry:
        """The model for the report: id, name, weights file and size, the settings measured."""
        ...


def bits_per_pixel(data: bytes | int, size: tuple[int, int]) -> float:
    """Bits per pixel of a file of ``data`` bytes for an image of ``size`` (w, h).

    Parameters
    ----------
    data : bytes or int
        The compressed file, or its length in bytes.
    size : tuple of int
        Width and height of the original image.

    Returns
    -------
    float
        ``8 * bytes / (w * h)``.

    Examples
    --------
    >>> bits_per_pixel(441, (128, 128))
    0.21533203125
    """
    n = data if isinstance(data, int) else len(data)
    return n * 8 / (size[0] * size[1])
