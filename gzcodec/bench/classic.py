"""The classic codecs gzcodec is compared with, each also at reduced scales.

Every codec here follows :class:`gzcodec.bench.interface.Codec`. Settings are the
slow, careful ones an engineer would pick to make a tiny file:

* JPEG: Pillow/libjpeg, ``optimize=True`` (optimal Huffman tables), baseline,
  4:2:0 chroma, quality 1..100.
* WebP: Pillow/libwebp, lossy, ``method=6`` (slowest, best), quality 0..100.
* AVIF: Pillow's AVIF plugin (libavif), ``speed=0`` (slowest), 4:2:0, one
  thread, quality 0..100.
* JPEG XL: imagecodecs/libjxl, ``effort=9``, one thread, quality 0..100
  (``level``, which libjxl maps to a Butteraugli distance).
* KNN: the poster's colour-quantisation baseline. K-means with K=4 on the RGB
  pixels, then a palette PNG (2-bit indices, a 4-entry palette, zlib with
  Pillow's ``optimize=True``), which is lossless for the quantised image.

At 128x128 pixels headers are a large part of a small file, so each codec is
also tried on the image downscaled to 3/4 and 1/2 of its side (Lanczos) and
upscaled back on decode (Lanczos again): :class:`ScaledCodec`.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence

import imagecodecs
import numpy as np
from PIL import Image

from .interface import Codec

__all__ = [
    "RESAMPLE",
    "SCALES",
    "AvifCodec",
    "JpegCodec",
    "JxlCodec",
    "KnnCodec",
    "ScaledCodec",
    "WebpCodec",
    "classic_codecs",
    "kmeans_palette",
]

SCALES: tuple[float, ...] = (1.0, 0.75, 0.5)
"""Linear scales every classic codec is tried at."""

RESAMPLE = Image.Resampling.LANCZOS
"""Filter of both the downscaling before encoding and the upscaling after decoding."""

_QUALITY_0_100 = tuple(range(101))


def _pillow_encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, fmt, **options)
    return buffer.getvalue()


class _PillowDecoded:
    """Mixin: the file format is one Pillow reads, so decoding is Pillow's."""

    def decode(self, data: bytes) -> Image.Image:
        """RGB image of the file."""
        with Image.open(io.BytesIO(data)) as im:
            return im.convert("RGB")


@dataclasses.dataclass(frozen=True)
class JpegCodec(_PillowDecoded):
    """JPEG through Pillow (libjpeg), optimized Huffman tables."""

    name: str = "jpeg"
    family: str = "jpeg"
    label: str = "JPEG"
    scale: float = 1.0
    param_name: str = "quality"
    # libjpeg treats quality 0 as 1, so the ladder starts at 1.
    param_values: Sequence[int] = tuple(range(1, 101))
    description: str = "Pillow/libjpeg, optimize=True, baseline, 4:2:0 chroma"

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """JPEG file of ``image`` at quality ``param``."""
        return _pillow_encode(image, "JPEG", quality=int(param), optimize=True)


@dataclasses.dataclass(frozen=True)
class WebpCodec(_PillowDecoded):
    """Lossy WebP through Pillow (libwebp), slowest method."""

    name: str = "webp"
    family: str = "webp"
    label: str = "WebP"
    scale: float = 1.0
    param_name: str = "quality"
    param_values: Sequence[int] = _QUALITY_0_100
    description: str = "Pillow/libwebp, lossy, method=6"

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """WebP file of ``image`` at quality ``param``."""
        return _pillow_encode(image, "WEBP", quality=int(param), method=6, lossless=False)


@dataclasses.dataclass(frozen=True)
class AvifCodec(_PillowDecoded):
    """AVIF through Pillow's plugin (libavif), slowest speed by default.

    At ``speed=0`` a 128x128 encode takes 0.1-0.6 s, about 85% of the classic
    codecs' time in the bench; ``speed`` is a field so that a quick run can
    trade a few bytes for time (the description, and so the report, says which).
    """

    speed: int = 0
    name: str = "avif"
    family: str = "avif"
    label: str = "AVIF"
    scale: float = 1.0
    param_name: str = "quality"
    param_values: Sequence[int] = _QUALITY_0_100

    @property
    def description(self) -> str:
        """Library and options."""
        return (
            f"Pillow's AVIF plugin (libavif), speed={self.speed} (0 = slowest), 4:2:0 chroma, max_threads=1"
        )

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """AVIF file of ``image`` at quality ``param``."""
        # One thread, like every other codec here, so encode times compare.
        return _pillow_encode(image, "AVIF", quality=int(param), speed=self.speed, max_threads=1)


@dataclasses.dataclass(frozen=True)
class JxlCodec:
    """JPEG XL through imagecodecs (libjxl)."""

    name: str = "jxl"
    family: str = "jxl"
    label: str = "JPEG XL"
    scale: float = 1.0
    param_name: str = "quality"
    param_values: Sequence[int] = _QUALITY_0_100
    description: str = "imagecodecs/libjxl, level=quality, effort=9, numthreads=1"

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """JPEG XL codestream of ``image`` at quality ``param``."""
        pixels = np.asarray(image.convert("RGB"))
        return bytes(imagecodecs.jpegxl_encode(pixels, level=int(param), effort=9, numthreads=1))

    def decode(self, data: bytes) -> Image.Image:
        """RGB image of a JPEG XL file."""
        pixels = imagecodecs.jpegxl_decode(data)
        return Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB")


def kmeans_palette(pixels: np.ndarray, k: int, *, iterations: int = 50, seed: int = 0) -> np.ndarray:
    """A ``k``-colour palette of ``pixels`` by k-means (Lloyd, k-means++ start).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(n, 3)`` RGB values.
    k : int
        Number of colours.
    iterations : int
        Most Lloyd iterations; stops earlier when assignments settle.
    seed : int
        Seed of the k-means++ draws, so that a file is reproducible.

    Returns
    -------
    numpy.ndarray
        ``(m, 3)`` uint8 palette, ``m <= k`` (fewer when the image has fewer
        distinct colours).
    """
    data = np.asarray(pixels, dtype=np.float64).reshape(-1, 3)
    rng = np.random.default_rng(seed)
    centres = data[[rng.integers(len(data))]]
    while len(centres) < k:
        d2 = ((data[:, None, :] - centres[None]) ** 2).sum(-1).min(axis=1)
        if d2.sum() == 0:
            break
        centres = np.vstack([centres, data[rng.choice(len(data), p=d2 / d2.sum())]])
    labels = None
    for _ in range(iterations):
        new_labels = ((data[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for j in range(len(centres)):
            members = data[labels == j]
            if len(members):
                centres[j] = members.mean(axis=0)
    palette = np.clip(np.rint(centres), 0, 255).astype(np.uint8)
    return np.unique(palette, axis=0)


@dataclasses.dataclass(frozen=True)
class KnnCodec(_PillowDecoded):
    """The poster's KNN baseline: K-means colour quantisation, palette PNG."""

    name: str = "knn"
    family: str = "knn"
    label: str = "KNN (K=4)"
    scale: float = 1.0
    param_name: str = "colours"
    # The poster's baseline has one setting; its rate only moves with the scale.
    param_values: Sequence[int] = (4,)
    description: str = (
        "k-means (k-means++ start, seed 0, <= 50 Lloyd iterations) on RGB pixels, K=4; "
        "coded losslessly as a palette PNG (2-bit indices, 4-entry PLTE, zlib, "
        "Pillow optimize=True)"
    )

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """Palette PNG of ``image`` quantised to ``param`` colours."""
        pixels = np.asarray(image.convert("RGB"))
        palette = kmeans_palette(pixels.reshape(-1, 3), int(param))
        # Index of the nearest palette colour for every pixel.
        d2 = ((pixels.reshape(-1, 1, 3).astype(np.int32) - palette[None].astype(np.int32)) ** 2).sum(-1)
        indices = d2.argmin(axis=1).astype(np.uint8).reshape(pixels.shape[:2])
        quantised = Image.frombytes("P", image.size, indices.tobytes())
        quantised.putpalette(palette.reshape(-1).tolist())
        buffer = io.BytesIO()
        # optimize=True lets Pillow write 1/2/4-bit indices and run zlib at its best.
        quantised.save(buffer, "PNG", optimize=True)
        return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class ScaledCodec:
    """A codec run on the image downscaled by ``scale``, upscaled back on decode.

    Both resizes use :data:`RESAMPLE` (Lanczos). The decoded size is the coded
    size divided by ``scale``, rounded, which gives back 128 for the scales in
    :data:`SCALES`.
    """

    inner: Codec
    scale: float

    @property
    def name(self) -> str:
        """``"<inner name>@<scale>"``, e.g. ``"webp@0.5"``."""
        return f"{self.inner.name}@{self.scale:g}"

    @property
    def family(self) -> str:
        """The inner codec's family."""
        return self.inner.family

    @property
    def label(self) -> str:
        """The inner codec's label with the scale."""
        return f"{self.inner.label} x{self.scale:g}"

    @property
    def param_name(self) -> str:
        """The inner codec's setting name."""
        return self.inner.param_name

    @property
    def param_values(self) -> Sequence[int]:
        """The inner codec's settings."""
        return self.inner.param_values

    @property
    def description(self) -> str:
        """The inner codec's description with the resizing."""
        return f"{self.inner.description}; coded at scale {self.scale:g}, Lanczos down and up"

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """Downscale, then encode with the inner codec."""
        w, h = image.size
        small = image.resize((max(1, round(w * self.scale)), max(1, round(h * self.scale))), RESAMPLE)
        return self.inner.encode(small, param=param)

    def decode(self, data: bytes) -> Image.Image:
        """Decode with the inner codec, then upscale."""
        small = self.inner.decode(data)
        w, h = small.size
        return small.resize((round(w / self.scale), round(h / self.scale)), RESAMPLE)


def classic_codecs(*, scales: Sequence[float] = SCALES) -> list[Codec]:
    """Every classic codec at every scale.

    Parameters
    ----------
    scales : sequence of float
        Linear scales; 1.0 means the native codec, unwrapped.

    Returns
    -------
    list of Codec
        Families in the order JPEG, WebP, AVIF, JPEG XL, KNN; scales in the
        given order within each.
    """
    bases: list[Codec] = [JpegCodec(), WebpCodec(), AvifCodec(), JxlCodec(), KnnCodec()]
    return [base if s == 1.0 else ScaledCodec(base, s) for base in bases for s in scales]
