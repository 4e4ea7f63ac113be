"""Turning whatever a user hands us into the model's input, and back.

Input rules (also in the README and ``spec/errors.md``):

* EXIF orientation is applied first, so the face is upright as viewers show it.
* Any Pillow mode is converted to RGB. Alpha is dropped (composited over
  white) with a :class:`UserWarning`; palette images warn only when they have
  transparency. 16-bit images, and uint16 arrays (gray, RGB, RGBA), are scaled
  over their full range (65535 -> 255); 32-bit integer (mode ``I``) images
  must hold values in 0..65535, taken as 16-bit (as 8-bit if none is over 255);
  CMYK and other modes go through Pillow's own conversions, and a mode Pillow
  cannot convert (e.g. ``La``) is refused with :class:`ImageInputError`.
* The largest centred square is cropped and resized (Lanczos) to the model's
  size. The header records the source size, so ``decode(..., size="source")``
  can return the crop at its original resolution.
* Files over Pillow's decompression-bomb limit are refused (over
  ``PIL.Image.MAX_IMAGE_PIXELS`` Pillow warns, over twice that
  :class:`ImageInputError`); so are unreadable, truncated and non-image files,
  with a one-line message naming the file.
* Float arrays, and float (mode ``F``) images such as float TIFFs, must hold
  values in [0, 1] (the convention of numpy, scikit-image and torch) and are
  scaled to 0..255; others are refused rather than clipped to black.

Memory: an image is reduced to the model's input as soon as it is read
(:func:`read_model_input`), cropping and resizing in one Lanczos pass from the
decoded pixels (Pillow's ``resize(box=...)``), so a folder encode holds small
model inputs, never a batch of full-size photos, and a large RGBA file peaks at
about twice its decoded size instead of six times.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Union

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps

from .errors import GzcodecError, ImageInputError, LimitError

if TYPE_CHECKING:
    import torch

    from .fileio import Inputs

__all__ = ["IMAGE_SUFFIXES", "image_suffixes", "find_images", "ModelInput", "ImageSource",
           "list_images", "to_model_input", "check_source_pixels",
           "array_to_image", "as_image", "load_image", "read_model_input", "model_input", "read_rgb",
           "load_training_images", "unit_to_uint8", "tensor_to_pixels", "output_format",
           "image_bytes"]

#: A path or a binary file object, as :func:`PIL.Image.open` takes.
ImageSource = Union[str, os.PathLike, IO[bytes]]

#: The common image suffixes (what ``-o NAME`` with several inputs is taken to be a file by);
#: a folder gives every suffix of :func:`image_suffixes`.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


@functools.cache
def image_suffixes() -> tuple[str, ...]:
    """The suffixes of the images a folder gives: every one Pillow can open, lower case.

    Pillow's own list (``Image.registered_extensions()``), less the formats it can
    only write (``.pdf``, ``.palm``), its identification stubs that read no pixels
    (``.h5``, ``.grib``, ``.bufr``, ``.wmf``) and ``.gzl`` (gzcodec's own files, which
    ``decode`` reads). Computed on first use: it loads all of Pillow's plugins.

    Examples
    --------
    >>> {".avif", ".jfif", ".png"} <= set(image_suffixes()), ".gzl" in image_suffixes()
    (True, False)
    """
    Image.init()
    opened = {name for name, (factory, _) in Image.OPEN.items()
              if not (isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile))}
    return tuple(sorted(suffix.lower() for suffix, name in Image.registered_extensions().items()
                        if name in opened and suffix.lower() != ".gzl"))


def find_images(inputs: Sequence[str | os.PathLike[str]]) -> Inputs:
    """The images to encode of files and folders named, and what a named folder held besides.

    :func:`gzcodec.fileio.find_inputs` with :func:`image_suffixes`; ``.gzl`` files
    and others are in ``skipped``, with why.

    Raises
    ------
    GzcodecError
        An input that does not exist.
    """
    from .fileio import find_inputs

    return find_inputs(inputs, suffixes=image_suffixes(), kind="an image Pillow can open",
                       reasons={".gzl": "a .gzl file (gzcodec decode reads it)"})


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder`` (those of :func:`image_suffixes`), in sorted order."""
    from .fileio import list_inputs

    root = Path(folder)
    if not root.is_dir():
        raise ImageInputError(f"not a folder: {root}")
    return list_inputs([root], suffixes=image_suffixes())[0]


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """An image already reduced to a model's input: all an encoder needs of it.

    ``pixels`` is ``size x size x 3`` uint8 RGB; ``source`` is the (width,
    height) of the image it was made from, recorded in the ``.gzl`` header.
    """

    pixels: np.ndarray
    source: tuple[int, int]


def _name(src: ImageSource) -> str:
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    name = getattr(src, "name", None)
    return name if isinstance(name, str) else f"<{type(src).__name__}>"


@contextlib.contextmanager
def _opened(src: ImageSource) -> Iterator[Image.Image]:
    """The image at ``src``, fully read; Pillow's errors become :class:`ImageInputError`."""
    try:
        with Image.open(src) as im:
            im.load()
            yield im
    except ImageInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{_name(src)}: image too large ({exc})") from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as exc:
        raise ImageInputError(f"{_name(src)}: cannot read image ({exc})") from None


def load_image(path: ImageSource) -> Image.Image:
    """Open and fully read an image (path or file object); :class:`ImageInputError` on failure."""
    with _opened(path) as im:
        return im.copy() if im.mode != "P" else _from_palette(im)


def read_model_input(path: ImageSource, size: int) -> ModelInput:
    """Read an image and reduce it to a ``size``-pixel model input at once.

    Unlike ``to_model_input(load_image(path), size)``, no full-size copy of
    the decoded image is kept or made beyond what the conversion needs.
    """
    with _opened(path) as im:
        return ModelInput(*to_model_input(im, size))


def unit_to_uint8(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as uint8 0..255, rounded half up: the rounding of every pixel gzcodec writes.

    (Training's validation records alone round half to even, as they always have, so
    that logged PSNR and SSIM stay comparable along a run.)

    Computed in ``values``' own float type (a decoded float32 image stays
    float32), so the bytes are those the decoder has always given.

    Examples
    --------
    >>> unit_to_uint8(np.array([0.0, 0.5, 1.0]))
    array([  0, 128, 255], dtype=uint8)
    """
    return (values * 255 + 0.5).astype(np.uint8)


def tensor_to_pixels(images: torch.Tensor) -> np.ndarray:
    """uint8 pixels, channels last, of CPU float images in [0, 1], channels first.

    Parameters
    ----------
    images : torch.Tensor
        ``(3, H, W)`` or ``(N, 3, H, W)``; values outside [0, 1] are clamped.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` or ``(N, H, W, 3)`` uint8, as :func:`unit_to_uint8` rounds.
    """
    return unit_to_uint8(images.detach().clamp(0, 1).movedim(-3, -1).numpy())


def _unit_floats_to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """Float values in [0, 1] as uint8 0..255; others refused rather than clipped to black."""
    lo = float(np.min(array)) if array.size else 0.0
    hi = float(np.max(array)) if array.size else 0.0
    if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi <= 1.0):
        raise ImageInputError(f"{what} must hold values in [0, 1], not {lo:g}..{hi:g} "
                              "(scale it, or pass uint8)")
    return unit_to_uint8(np.asarray(array, np.float64))


def array_to_image(array: np.ndarray) -> Image.Image:
    """A Pillow image of an array: integer and bool arrays as Pillow reads them, floats in [0, 1].

    uint16 colour arrays (H x W x 3 or 4), which Pillow cannot take, are scaled
    to 8 bits over their full range, as a 2-D uint16 array's image is.
    """
    if np.issubdtype(array.dtype, np.floating):
        array = _unit_floats_to_uint8(array, "a float image")
    elif array.dtype.kind == "u" and array.dtype.itemsize == 2 and array.ndim == 3:
        # Pillow has no 16-bit colour mode: scale as a 2-D uint16 array's I;16 image is (v*257 -> v).
        array = (array.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    try:
        return Image.fromarray(array)
    except (TypeError, ValueError) as exc:
        raise ImageInputError(f"cannot make an image of this array ({exc})") from None


def as_image(image: Image.Image | np.ndarray) -> Image.Image:
    """A Pillow image as given, or an array as :func:`array_to_image` makes it.

    Raises :class:`~gzcodec.errors.ImageInputError` for anything else (paths
    and files are read by :func:`read_model_input`).
    """
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return array_to_image(image)
    raise ImageInputError(f"cannot encode a {type(image).__name__}; pass a PIL image, array, path "
                          "or binary file object (wrap bytes in io.BytesIO)")


def model_input(image: ModelInput | Image.Image | np.ndarray | ImageSource, size: int) -> ModelInput:
    """Whatever :func:`gzcodec.encode` takes, reduced to a ``size``-pixel model input.

    A path or binary file object is read (:func:`read_model_input`), a Pillow
    image or array converted (:func:`as_image`), and a :class:`ModelInput`
    taken as it is if it has the model's size.
    """
    if isinstance(image, ModelInput):
        if np.shape(image.pixels) != (size, size, 3):
            raise ValueError(f"this ModelInput is {np.shape(image.pixels)}, the model takes "
                             f"{(size, size, 3)}")
        return image
    if isinstance(image, (str, os.PathLike)) or callable(getattr(image, "read", None)):
        return read_model_input(image, size)
    return ModelInput(*to_model_input(as_image(image), size))


def output_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format a decoded image is written in at ``path``: its suffix's, else PNG.

    Checked before anything is decoded, so that a name gzcodec cannot honour
    costs no work and writes nothing: Pillow reads more formats than it
    writes (``.psd``, ``.fits``, ``.xpm``), and some of those it writes take
    no RGB image (``.xbm``, ``.blp``), so a small RGB image is saved as a trial.

    Raises
    ------
    GzcodecError
        ``path`` names a ``.gzl`` file (writing the decoded image there would
        encode it again, at a further loss, under the guise of a decode), or
        a format Pillow cannot write an RGB image in.

    Examples
    --------
    >>> output_format("face.webp"), output_format("face.unknown")
    ('WEBP', 'PNG')
    >>> output_format("face.psd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gzcodec.errors.GzcodecError: face.psd: cannot write PSD images (Pillow only reads them); ...
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".gzl":
        raise GzcodecError(f"{os.fspath(path)}: decode writes images, not .gzl files (use gzcodec "
                           "encode on a decoded image to re-encode it)")
    fmt = Image.registered_extensions().get(suffix, "PNG")
    if fmt not in Image.SAVE:
        raise GzcodecError(f"{os.fspath(path)}: cannot write {fmt} images (Pillow only reads them); "
                           "use another suffix, such as .png")
    try:
        image_bytes(Image.new("RGB", (16, 16)), fmt)
    except GzcodecError as exc:
        raise GzcodecError(f"{os.fspath(path)}: {exc}; use another suffix, such as .png") from None
    return fmt


def image_bytes(image: Image.Image, fmt: str) -> bytes:
    """``image`` as a file in Pillow's format ``fmt``; :class:`GzcodecError` if Pillow cannot write it.

    Pillow says so with a ``KeyError`` (no writer), ``ValueError`` or
    ``OSError`` (a mode or size the writer does not take): one line here.
    """
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (KeyError, ValueError, OSError) as exc:
        reason = f"no {fmt} writer" if isinstance(exc, KeyError) else str(exc)
        raise GzcodecError(f"cannot write {image.mode} images as {fmt} ({reason})") from None
    return buffer.getvalue()


def _from_palette(im: Image.Image) -> Image.Image:
    """A palette image as RGBA if it has transparency, else RGB (no alpha to warn about)."""
    has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
    return im.convert("RGBA" if has_alpha else "RGB")


_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any mode without alpha to RGB (alpha modes are composited after resizing)."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # Pillow has no direct 16-bit -> 8-bit conversion that keeps the range.
        arr = np.asarray(im, dtype=np.int64)
        if im.mode == "I" and arr.size and (arr.min() < 0 or arr.max() > 65535):
            # Clipping would turn them white (or black) without a word: say so instead.
            raise ImageInputError(f"a 32-bit integer (mode I) image must hold values in 0..65535, "
                                  f"not {arr.min()}..{arr.max()} (scale it to 16 or 8 bits)")
        peak = 65535 if im.mode.startswith("I;16") or arr.max() > 255 else 255
        arr = np.clip(arr * 255 // peak, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "F":
        # A float TIFF holds what a float array does: values in [0, 1], scaled alike.
        arr = _unit_floats_to_uint8(np.asarray(im), "a float (mode F) image")
        return Image.fromarray(arr, "L").convert("RGB")
    return im.convert("RGB")


def _over_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _upright_rgb(im: Image.Image) -> tuple[Image.Image, bool]:
    """``im`` turned upright (EXIF) in RGB, or in RGBA (``True``) when it has alpha, said once.

    Alpha is composited over white by the caller, after any resize (cheaper on
    the small image); the warning says so.
    """
    if im.width < 1 or im.height < 1:
        raise ImageInputError("image has no pixels")
    try:
        # exif_transpose copies even an upright image: only call it when it turns one.
        if im.getexif().get(ExifTags.Base.Orientation, 1) != 1:
            im = ImageOps.exif_transpose(im)
        if im.mode == "P":
            im = _from_palette(im)
        if im.mode not in _ALPHA_MODES:
            return _to_rgb(im), False
        warnings.warn("gzcodec stores RGB only: alpha is dropped (composited over white)",
                      UserWarning, stacklevel=3)
        # convert() to the same mode would copy
        return (im if im.mode == "RGBA" else im.convert("RGBA")), True
    except ImageInputError:
        raise
    except (OSError, ValueError, SyntaxError, TypeError, KeyError) as exc:
        raise ImageInputError(f"cannot convert a {im.mode} image to RGB ({exc})") from None


def to_model_input(im: Image.Image, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Model input (``size x size x 3`` uint8) and the source size (width, height).

    Examples
    --------
    >>> from PIL import Image
    >>> arr, source = to_model_input(Image.new("L", (200, 100)), 128)
    >>> arr.shape, source
    ((128, 128, 3), (200, 100))
    """
    im, alpha = _upright_rgb(im)
    source = im.size
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    box = (left, top, left + side, top + side)
    # Crop and resize in one pass from the decoded pixels: no full-size crop copy.
    # Pillow resizes RGBA premultiplied, so compositing the small image over white
    # afterwards gives what compositing first would (to rounding), at a fraction of the memory.
    if side != size:
        im = im.resize((size, size), Image.Resampling.LANCZOS, box=box)
    elif box != (0, 0, *im.size):
        im = im.crop(box)
    if alpha:
        im = _over_white(im)
    return np.asarray(im, dtype=np.uint8), source


def read_rgb(image: Image.Image | np.ndarray | ImageSource) -> np.ndarray:
    """Any input :func:`gzcodec.encode` takes as whole RGB pixels ``(H, W, 3)`` uint8, uncropped.

    The same rules as :func:`to_model_input` (EXIF orientation, modes, alpha over
    white with a warning), at the image's own size: for work on the whole photo,
    such as finding faces (:mod:`gzcodec.align`).
    """
    if isinstance(image, (str, os.PathLike)) or callable(getattr(image, "read", None)):
        im = load_image(image)
    else:
        im = as_image(image)
    im, alpha = _upright_rgb(im)
    return np.asarray(_over_white(im) if alpha else im, dtype=np.uint8)


def load_training_images(paths: Sequence[Path], *, size: int):  # -> torch.Tensor
    """All images as one ``(N, 3, size, size)`` uint8 tensor (fits in memory at 128x128)."""
    import torch

    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        arr = np.array(read_model_input(path, size).pixels)
        out[i] = torch.from_numpy(arr).permute(2, 0, 1)
    return out


def check_source_pixels(side: int, max_pixels: int | None) -> None:
    """Refuse a ``decode(size="source")`` output of ``side`` x ``side`` over ``max_pixels``
    (by default Pillow's bomb limit, ``Image.MAX_IMAGE_PIXELS``): a :class:`LimitError`."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if limit is not None and side * side > limit:
        how = ("max_pixels" if max_pixels is not None
               else "PIL.Image.MAX_IMAGE_PIXELS; allow more with max_pixels= or --max-pixels")
        raise LimitError(f"source-size image of {side}x{side} = {side * side} pixels exceeds the "
                         f"limit of {limit} ({how})")
