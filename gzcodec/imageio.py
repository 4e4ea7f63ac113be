"""Turning whatever a user hands us into the model's input, and back.

Input rules (also in the README and ``spec/errors.md``):

* EXIF orientation is applied first, so the face is upright as viewers show it.
* Any Pillow mode is converted to RGB. Alpha is dropped (composited over
  white) with a :class:`UserWarning`; palette images warn only when they have
  transparency. 16-bit images are scaled over their full range (65535 -> 255);
  CMYK and other modes go through Pillow's own conversions, and a mode Pillow
  cannot convert (e.g. ``La``) is refused with :class:`ImageInputError`.
* The largest centred square is cropped and resized (Lanczos) to the model's
  size. The header records the source size, so ``decode(..., size="source")``
  can return the crop at its original resolution.
* Files over Pillow's decompression-bomb limit are refused (over
  ``PIL.Image.MAX_IMAGE_PIXELS`` Pillow warns, over twice that
  :class:`ImageInputError`); so are unreadable, truncated and non-image files,
  with a one-line message naming the file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageInputError

__all__ = ["IMAGE_SUFFIXES", "list_images", "to_model_input", "load_image", "load_training_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, in sorted order."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageInputError(f"not a folder: {root}")
    return sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and fully read an image file, raising :class:`ImageInputError` on failure."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy() if im.mode != "P" else _from_palette(im)
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{path}: image too large ({exc})") from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as exc:
        raise ImageInputError(f"{path}: cannot read image ({exc})") from None


def _from_palette(im: Image.Image) -> Image.Image:
    """A palette image as RGBA if it has transparency, else RGB (no alpha to warn about)."""
    has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
    return im.convert("RGBA" if has_alpha else "RGB")


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode == "P":
        im = _from_palette(im)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        warnings.warn("gzcodec stores RGB only: alpha is dropped (composited over white)",
                      UserWarning, stacklevel=3)
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # Pillow has no direct 16-bit -> 8-bit conversion that keeps the range.
        arr = np.asarray(im, dtype=np.int64)
        peak = 65535 if im.mode.startswith("I;16") or arr.max() > 255 else 255
        arr = np.clip(arr * 255 // peak, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L").convert("RGB")
    return im.convert("RGB")


def to_model_input(im: Image.Image, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Model input (``size x size x 3`` uint8) and the source size (width, height).

    Examples
    --------
    >>> from PIL import Image
    >>> arr, source = to_model_input(Image.new("L", (200, 100)), 128)
    >>> arr.shape, source
    ((128, 128, 3), (200, 100))
    """
    if im.width < 1 or im.height < 1:
        raise ImageInputError("image has no pixels")
    try:
        im = ImageOps.exif_transpose(im)
        im = _to_rgb(im)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError) as exc:
        raise ImageInputError(f"cannot convert a {im.mode} image to RGB ({exc})") from None
    source = im.size
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    im = im.crop((left, top, left + side, top + side))
    if side != size:
        im = im.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8), source


def load_training_images(paths: Sequence[Path], *, size: int):  # -> torch.Tensor
    """All images as one ``(N, 3, size, size)`` uint8 tensor (fits in memory at 128x128)."""
    import torch

    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        arr, _ = to_model_input(load_image(path), size)
        arr = np.array(arr)
        out[i] = torch.from_numpy(arr).permute(2, 0, 1)
    return out
