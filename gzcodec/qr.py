"""A ``.gzl`` file as a QR code: a face that can be printed on a card or a label.

A QR code holds the whole file in one byte-mode segment (``spec/text-form.md``
§2); nothing is added or left out, so reading the code gives the file back bit
for bit. How many bytes fit follows from the code's *version* (1..40, its size:
``17 + 4 * version`` modules a side) and its error-correction *level*: L, M, Q
and H restore about 7, 15, 25 and 30 % of damaged modules. Version 10 at level
M holds 213 bytes, version 15 at M 412.

Writing uses `segno <https://segno.readthedocs.io>`_ (pure Python), reading
`zxing-cpp <https://github.com/zxing-cpp/zxing-cpp>`_, which finds a code in a
photo (rotated, tilted, blurred, scaled). Both are the optional ``qr`` extra
(``pip install "gzcodec[qr]"``); without them these functions raise
:class:`~gzcodec.errors.MissingDependencyError` saying so. This module itself
imports neither, nor torch; :func:`gzcodec.encode_qr` encodes a face for a code.

Examples
--------
>>> capacity(10, "M")
213
>>> smallest_version(404, "M")
15
>>> code = make_qr(b"GZL\\x02 a .gzl file", level="M")          # doctest: +SKIP
>>> code.version, code.modules, len(code.png) > 0              # doctest: +SKIP
(1, 21, True)
>>> read_qr(code.png) == b"GZL\\x02 a .gzl file"               # doctest: +SKIP
True
>>> data, code = gzcodec.encode_qr("examples/face.png", version=10)    # doctest: +SKIP
>>> len(data) <= 213                                           # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import io
import os
from typing import IO, TYPE_CHECKING, Union

import numpy as np
from PIL import Image, ImageOps

from .container import MAGIC
from .errors import BarcodeError, FormatError, LimitError, import_optional
from .options import OptionError

if TYPE_CHECKING:
    from .options import EncodeOptions

__all__ = ["LEVELS", "DEFAULT_LEVEL", "VERSIONS", "DEFAULT_SCALE", "DEFAULT_BORDER",
           "PICTURE_FORMATS", "Picture", "QrCode", "capacity", "smallest_version", "make_qr",
           "write_qr", "read_qr", "is_picture"]

#: Error-correction levels, from the least to the most robust (and the fewest bytes).
LEVELS = ("L", "M", "Q", "H")
#: The level a code is written at unless another is asked for.
DEFAULT_LEVEL = "M"
#: QR code versions (sizes); version ``v`` is ``17 + 4 * v`` modules a side.
VERSIONS = range(1, 41)
#: Pixels per module and quiet-zone modules of a written picture (the standard asks for 4).
DEFAULT_SCALE = 8
DEFAULT_BORDER = 4
#: The picture formats :func:`read_qr` and :func:`gzcodec.decode` recognise a picture in,
#: by their first bytes (Pillow's names): what a scan, a screenshot or a phone's photo is.
PICTURE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF", "PPM")
#: What :func:`read_qr` reads: a Pillow image, a numpy array, bytes of a picture file, a path
#: or a binary file object.
Picture = Union[Image.Image, np.ndarray, bytes, bytearray, memoryview, str, os.PathLike, IO[bytes]]

#: The ``pip`` line the error messages give.
INSTALL_HINT = 'pip install "gzcodec[qr]"'


def _segno():
    return import_optional("segno", f"writing QR codes needs segno: {INSTALL_HINT}")


def _zxing():
    return import_optional("zxingcpp", f"reading QR codes needs zxing-cpp: {INSTALL_HINT}")


def _check_level(level: str) -> str:
    if not isinstance(level, str) or level.upper() not in LEVELS:
        raise ValueError(f"QR level must be one of {', '.join(LEVELS)}, not {level!r}")
    return level.upper()


def _check_version(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version not in VERSIONS:
        raise ValueError(f"QR version must be a whole number 1..40, not {version!r}")
    return version


def capacity(version: int, level: str = DEFAULT_LEVEL) -> int:
    """Bytes a QR code of ``version`` and ``level`` holds in one byte-mode segment.

    The data bits of the symbol (ISO/IEC 18004 Table 7, as segno carries it)
    less the 4-bit mode indicator and the character count (8 bits up to
    version 9, 16 above), in whole bytes. Needs segno.

    Raises
    ------
    ValueError
        A version outside 1..40 or a level outside L, M, Q, H.

    Examples
    --------
    >>> [capacity(10, level) for level in LEVELS]
    [271, 213, 151, 119]
    """
    version, level = _check_version(version), _check_level(level)
    _segno()  # the extra, explained if missing
    from segno import consts

    bits = consts.SYMBOL_CAPACITY[version][consts.ERROR_MAPPING[level]]
    count_bits = 8 if version < 10 else 16
    return (bits - 4 - count_bits) // 8


def smallest_version(nbytes: int, level: str = DEFAULT_LEVEL) -> int:
    """The smallest QR version whose code holds ``nbytes`` bytes at ``level``.

    Raises
    ------
    LimitError
        Not even version 40 holds that many (2953 bytes at L, 1273 at H).

    Examples
    --------
    >>> [smallest_version(404, level) for level in LEVELS]
    [13, 15, 19, 22]
    """
    level = _check_level(level)
    for version in VERSIONS:
        if capacity(version, level) >= nbytes:
            return version
    raise LimitError(f"{nbytes} bytes fit in no QR code at level {level} (version 40 holds "
                     f"{capacity(40, level)}); choose a lower level or make the file smaller")


@dataclasses.dataclass(frozen=True)
class QrCode:
    """A ``.gzl`` file written as a QR code: the picture and what it is.

    Attributes
    ----------
    png : bytes
        The picture, a black-and-white PNG.
    version, level : int, str
        The code's version (1..40) and error-correction level.
    modules : int
        Modules a side (``17 + 4 * version``), without the quiet zone.
    capacity : int
        Bytes the code holds (:func:`capacity`); the file uses ``nbytes`` of them.
    nbytes : int
        The file's length.
    """

    png: bytes
    version: int
    level: str
    modules: int
    capacity: int
    nbytes: int

    def describe(self) -> str:
        """One line: ``QR code version 15, level M, 77x77 modules, 404 of 412 bytes``."""
        return (f"QR code version {self.version}, level {self.level}, {self.modules}x{self.modules} "
                f"modules, {self.nbytes} of {self.capacity} bytes")


def make_qr(data: bytes, *, level: str = DEFAULT_LEVEL, version: int | None = None,
            scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER) -> QrCode:
    """A QR code picture holding ``data`` (a ``.gzl`` file) in one byte-mode segment.

    Parameters
    ----------
    data : bytes
        The whole file.
    level : {"L", "M", "Q", "H"}
        Error correction; the code keeps this level even where a higher one
        would fit in the same version, so that what is asked is what is made.
    version : int, optional
        The code's version, 1..40; by default the smallest that holds ``data``.
    scale, border : int
        Pixels per module (>= 1) and modules of white quiet zone (>= 0) of the picture.

    Raises
    ------
    LimitError
        ``data`` does not fit the version (or any version) at that level.
    ValueError
        A version, level, scale or border out of range.
    MissingDependencyError
        segno is not installed.
    """
    level = _check_level(level)
    if version is not None:
        _check_version(version)
    for name, value, low in (("scale", scale, 1), ("border", border, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")
    data = bytes(data)
    if version is None:
        version = smallest_version(len(data), level)
    elif len(data) > capacity(version, level):
        raise LimitError(f"{len(data)} bytes do not fit a QR code of version {version} at level "
                         f"{level} (it holds {capacity(version, level)})")
    segno = _segno()
    # Byte mode always (segno would pick another mode for digits-only data), no ECI header:
    # the code holds exactly the file's bytes.
    code = segno.make_qr(data, error=level, version=version, mode="byte", boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=border)
    modules = code.symbol_size(scale=1, border=0)[0]
    return QrCode(png=buffer.getvalue(), version=code.version, level=level, modules=modules,
                  capacity=capacity(code.version, level), nbytes=len(data))


def write_qr(data: bytes, path: str | os.PathLike[str], *, level: str = DEFAULT_LEVEL,
             version: int | None = None, scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER,
             force: bool = False) -> QrCode:
    """Write ``data`` as a QR code PNG at ``path``, atomically (:func:`make_qr`'s options).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is false.
    """
    from .fileio import write_atomic

    code = make_qr(data, level=level, version=version, scale=scale, border=border)
    write_atomic(path, code.png, force=force)
    return code


def fit_options(options: EncodeOptions, *, level: str = DEFAULT_LEVEL,
                version: int | None = None) -> EncodeOptions:
    """``options`` for a face that fills a QR code of ``version`` at ``level`` (unchanged without).

    Raises
    ------
    ValueError
        ``bits``, ``rate`` or ``target_ssim`` with a version: the code's size decides the rate
        (an :class:`~gzcodec.options.OptionError`).
    """
    level = _check_level(level)
    if version is None:
        return options
    budget = capacity(version, level)
    given = [name for name in ("bits", "rate", "target_ssim") if getattr(options, name) is not None]
    if given:
        raise OptionError(f"a QR version decides the rate (the best face in its {budget} bytes); "
                          f"drop ${given[0]}")
    if options.max_bytes is not None:
        budget = min(budget, int(options.max_bytes))
    return dataclasses.replace(options, max_bytes=budget)


def is_picture(head: bytes) -> bool:
    """Whether a file that starts with ``head`` is a picture in one of :data:`PICTURE_FORMATS`.

    By Pillow's own signature checks of those formats, on the first bytes
    alone (16 are enough), never by a name; a ``.gzl`` file or its text form
    is never a picture.

    Examples
    --------
    >>> is_picture(b"\\x89PNG\\r\\n\\x1a\\n"), is_picture(b"GZL\\x02")
    (True, False)
    """
    Image.init()
    head = bytes(head[:64])
    for name in PICTURE_FORMATS:
        entry = Image.OPEN.get(name)
        # An accept function returns True, False, or a string saying why it is not one.
        verdict = entry[1](head) if entry is not None and entry[1] is not None else False
        if verdict and not isinstance(verdict, str):
            return True
    return False


def _gray(picture: Picture) -> Image.Image:
    """The picture as 8-bit gray, upright (EXIF), transparency over white."""
    from .imageio import _ALPHA_MODES, _from_palette, _over_white, _to_rgb, as_image

    if isinstance(picture, (Image.Image, np.ndarray)):
        im = as_image(picture)
    else:
        source = (io.BytesIO(bytes(picture))
                  if isinstance(picture, (bytes, bytearray, memoryview)) else picture)
        try:
            with Image.open(source, formats=PICTURE_FORMATS) as opened:
                opened.load()
                im = opened.copy()
        except Image.DecompressionBombError as exc:
            raise LimitError(f"picture too large ({exc})") from None
        except Image.UnidentifiedImageError:
            raise FormatError(f"cannot read the picture: not a complete "
                              f"{'/'.join(PICTURE_FORMATS)} file") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise FormatError(f"cannot read the picture ({exc})") from None
    im = ImageOps.exif_transpose(im)
    if im.mode == "P":
        im = _from_palette(im)
    # A code printed on a transparent background is dark on white, as it is shown.
    im = _over_white(im.convert("RGBA")) if im.mode in _ALPHA_MODES else _to_rgb(im)
    return im.convert("L")


def read_qr(picture: Picture) -> bytes:
    """The ``.gzl`` file a picture's QR code holds.

    Finds the code anywhere in the picture (rotated, tilted, blurred, scaled,
    light on dark), reads the raw bytes of its byte-mode segment and returns
    them if they are a ``.gzl`` file (a code holding the text form,
    ``gzl:...``, is read too). The file itself is not checked:
    :func:`gzcodec.decode` does that.

    Parameters
    ----------
    picture : PIL image, bytes, path or binary file object
        A picture in one of :data:`PICTURE_FORMATS` (or any Pillow image).

    Raises
    ------
    BarcodeError
        No QR code is found, the code found is damaged beyond its error
        correction, or the picture holds several different codes.
    FormatError
        The picture cannot be read, or its code holds something other than a
        ``.gzl`` file.
    MissingDependencyError
        zxing-cpp is not installed.
    """
    from . import textform

    zxing = _zxing()
    im = _gray(picture)
    # zxing's default binarizer (local averages) copes with uneven light; the global one
    # rescued none of the distortions benchmarks/qr_robustness.py tries, so it is not tried.
    codes = zxing.read_barcodes(im, formats=zxing.BarcodeFormat.QRCode, return_errors=True)
    valid = [code for code in codes if code.valid]
    if not valid:
        if codes:
            raise BarcodeError("the QR code in the picture cannot be read: it is damaged beyond "
                               "its error correction")
        raise BarcodeError("no QR code found in the picture")
    contents = {bytes(code.bytes) for code in valid}
    if len(contents) > 1:
        raise BarcodeError(f"the picture holds {len(contents)} different QR codes; crop it to one")
    data = contents.pop()
    if data[:len(MAGIC)] == MAGIC:
        return data
    if textform.is_text(data):
        return textform.from_text(data)
    shown = data[:16].decode("latin-1").encode("unicode_escape").decode("ascii")
    raise FormatError(f"the QR code holds {len(data)} bytes that are not a .gzl file "
                      f"(they start {shown!r})")
