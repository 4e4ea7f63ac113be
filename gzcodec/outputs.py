"""Encoding into files: many images at once, each failure kept to its image, every file atomic;
a face and the QR code that holds it (:func:`encode_qr`); decoded faces put back into
their photo (:func:`paste_back`).

:func:`encode_many` is the one loop behind ``gzcodec encode`` (a folder),
:func:`save` (one image) and the Ray workers of :mod:`gzcodec.cluster`: the
images are encoded as one batch; if the batch fails, one at a time, so that
the failure is told of the image that caused it and the others are still
written; then each file is written (by default atomically, with
:func:`gzcodec.fileio.write_atomic`: a target is replaced by a complete file
or not at all).

Examples
--------
>>> results = encode_many(["a.png", "b.png"], options=EncodeOptions(bits=4),
...                       write=lambda i, data: print(i, len(data)))       # doctest: +SKIP
0 201
1 187
>>> [r.error for r in results]                                             # doctest: +SKIP
[None, None]
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from . import codec, qr
from .codec import ImageLike, ModelLike
from .container import read_file, unpack
from .errors import FormatError, GzcodecError, ImageInputError, OutputExistsError
from .families import family_of
from .fileio import check_writable, write_atomic
from .imageio import read_rgb
from .model_choice import is_auto
from .options import EncodeOptions

__all__ = ["Encoded", "encode_many", "encode_qr", "paste_back", "recorded_warnings", "report_line",
           "save", "write_unless_written"]


@dataclasses.dataclass
class Encoded:
    """What :func:`encode_many` made of one image: its file, or why there is none (or it is unwritten)."""

    data: bytes | None = None
    error: BaseException | None = None
    #: Its output appeared, whole, while it was encoded (another run wrote it): left as it is.
    skipped: bool = False
    #: What its encode warned of (an unreachable ``target_ssim``), each message once.
    warnings: list[str] = dataclasses.field(default_factory=list)


#: Warnings about an image that :func:`recorded_warnings` keeps for the caller to tell of it
#: (an image's alpha, a target not reached, Pillow's decompression-bomb warning); any other
#: warning (a library's deprecation) goes on to Python's warning machinery as it was.
KEPT_WARNINGS = (UserWarning, Image.DecompressionBombWarning)


def report_line(level: str, source: str | os.PathLike[str], message: str) -> str:
    """One line about one input, naming it once: the command line's errors and warnings alike.

    Examples
    --------
    >>> report_line("warning", "a.png", "alpha is dropped")
    'warning: a.png: alpha is dropped'
    >>> report_line("error", "a.png", "a.png: truncated")
    'error: a.png: truncated'
    """
    name = os.fspath(source)
    return f"{level}: {message}" if name in message else f"{level}: {name}: {message}"


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[str]]:
    """The messages of the warnings the body raises about its image, in order, each once.

    Every occurrence is recorded (not Python's once per source line), so a
    caller can tell each image of its own warnings, in one line naming it,
    instead of a raw warning with a source line that names none.

    Examples
    --------
    >>> with recorded_warnings() as messages:
    ...     warnings.warn("alpha is dropped")
    >>> messages
    ['alpha is dropped']
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            recorded = list(caught)
    for warning in recorded:
        if issubclass(warning.category, KEPT_WARNINGS):
            if str(warning.message) not in messages:
                messages.append(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno, source=warning.source)


def _one_at_a_time(images: Sequence[ImageLike], model: ModelLike, options: EncodeOptions,
                   isolate: tuple[type[BaseException], ...],
                   on_step: Callable[[int], None] | None = None) -> list[Encoded]:
    results = []
    for image in images:
        with recorded_warnings() as messages:
            try:
                # The same file as in the batch: one never depends on its neighbours.
                result = Encoded(codec.encode_batch([image], model=model, options=options,
                                                    on_step=on_step)[0])
            except isolate as exc:
                result = Encoded(error=exc)
        result.warnings = messages
        results.append(result)
    return results


def encode_many(images: Sequence[ImageLike], *, model: ModelLike = None, options: EncodeOptions,
                write: Callable[[int, bytes], None] | None = None,
                on_step: Callable[[int], None] | None = None,
                isolate: tuple[type[BaseException], ...] = (GzcodecError, ValueError, OSError),
                ) -> list[Encoded]:
    """Encode ``images``, keep each failure to its image, and write each file made.

    Parameters
    ----------
    images : sequence of images
        Anything :func:`gzcodec.encode` takes (best already reduced, with
        :func:`gzcodec.imageio.read_model_input`, so that a batch never holds
        full-size images).
    model : str, path or LoadedModel, optional
        As for :func:`gzcodec.encode` (``"auto"`` included: each image on its own).
    options : EncodeOptions
        The encode's options (checked against the model before any image is encoded).
    write : callable, optional
        ``write(i, data)`` for the file of ``images[i]``, in order; by default
        the files are only returned. If it returns ``False`` the file was not
        written and need not be (:func:`write_unless_written`): the result is
        ``skipped``.
    on_step : callable, optional
        As for :func:`gzcodec.encode_batch` (not called again for images encoded
        one at a time after a batch failed).
    isolate : tuple of exception types
        What an image's failure (its encode or its write) may raise and still
        leave the others to go on; any other exception is raised. ``()``
        raises every failure.

    Returns
    -------
    list of Encoded
        One per image, in order: ``data`` if its file was made, ``error`` if
        it could not be made or written, and what its encode warned of
        (:func:`recorded_warnings`).
    """
    if images and not is_auto(model):
        model = codec.load_model(model)  # loaded once, for all of them
    # "auto" warns of each image's own models and targets: one image at a time.
    if len(images) > 1 and not is_auto(model) and family_of(model).batches:
        try:
            with recorded_warnings() as messages:
                results = [Encoded(data) for data in
                           codec.encode_batch(images, model=model, options=options, on_step=on_step)]
        except isolate:
            # Something in the batch failed: one at a time, to say which.
            results = _one_at_a_time(images, model, options, isolate)
        else:
            for result in results:  # a batch's warnings are about each of its images
                result.warnings = list(messages)
    else:
        results = _one_at_a_time(images, model, options, isolate, on_step)
    for i, result in enumerate(results):
        if write is not None and result.data is not None:
            try:
                result.skipped = write(i, result.data) is False
            except isolate as exc:
                result.error = exc
    return results


def write_unless_written(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> bool:
    """Write a ``.gzl`` file atomically; ``False`` if a whole one appeared there meanwhile.

    Two runs over one folder at once (``gzcodec encode DIR -o out/`` twice)
    each find an output missing and encode it; the second to finish finds the
    first's file. A whole ``.gzl`` file there (its checksum holds) is such a
    file, left as it is, as a resumed run skips what exists; anything else
    there is still an :class:`~gzcodec.OutputExistsError`.

    Returns
    -------
    bool
        Whether ``data`` was written.

    Raises
    ------
    OutputExistsError
        Without ``force``, something other than a whole ``.gzl`` file is at ``path``.
    OSError
        As :func:`gzcodec.fileio.write_atomic`.
    """
    try:
        write_atomic(path, data, force=force)
    except OutputExistsError:
        try:
            unpack(read_file(path))  # whole: the header's and payload's checksums hold
        except (GzcodecError, OSError):
            raise OutputExistsError(f"{path} exists (use --force to overwrite)") from None
        return False
    return True


def save(image: ImageLike, path: str | os.PathLike[str], *, force: bool = True, **options) -> int:
    """Encode ``image`` and write it to ``path`` atomically; return the file's size in bytes.

    The safe counterpart of ``image.save("x.gzl", ...)``: Pillow opens (and
    truncates) the target before any plugin runs, so an ``Image.save`` that
    fails (a bad option, an unreadable model, Ctrl-C during the encode)
    leaves an existing file empty. Here the options are checked and the
    image is encoded first; only a complete file ever replaces the target,
    keeping its permissions (see :func:`gzcodec.fileio.write_atomic`).

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        As for :func:`gzcodec.encode`.
    path : path
        The ``.gzl`` file to write.
    force : bool
        Replace an existing file (the default, as ``Image.save`` does); if
        false, :class:`~gzcodec.OutputExistsError` is raised instead.
    **options
        Any keyword of :func:`gzcodec.encode` (``bits``, ``steps``, ``model``, ...).
    """
    if not force and os.path.lexists(path):
        raise OutputExistsError(f"{path} exists (use force=True to overwrite)")
    model = options.pop("model", None)
    chosen = EncodeOptions.from_arguments(options.pop("options", None), **options)
    check_writable([path])  # a read-only folder is found before the encode
    [result] = encode_many([image], model=model, options=chosen, isolate=(),
                           write=lambda _, data: write_atomic(path, data, force=force))
    for message in result.warnings:  # a Python caller hears of them as Python warnings
        warnings.warn(message, UserWarning, stacklevel=2)
    return len(result.data)


def encode_qr(image: ImageLike, *, level: str = qr.DEFAULT_LEVEL, version: int | None = None,
              model: ModelLike = None, options: EncodeOptions | None = None,
              scale: int = qr.DEFAULT_SCALE, border: int = qr.DEFAULT_BORDER,
              **keywords: object) -> tuple[bytes, qr.QrCode]:
    """Encode a face for a QR code: the ``.gzl`` file and the code that holds it.

    With ``version``, the best face that fits the code: the encode's
    ``max_bytes`` is the code's :func:`gzcodec.qr.capacity` (or the one given, if
    smaller). Without, the face is encoded as asked (the default quality
    unless the options say otherwise) and the code is the smallest that holds it.

    Parameters
    ----------
    image
        As :func:`gzcodec.encode` takes it.
    level, version, scale, border
        As for :func:`gzcodec.qr.make_qr`.
    model, options, **keywords
        As for :func:`gzcodec.encode`. With ``version``, ``rate`` and
        ``target_ssim`` are refused: the code's size decides the rate.

    Returns
    -------
    data : bytes
        The ``.gzl`` file.
    code : QrCode
        The QR code holding it.

    Raises
    ------
    ValueError
        Options that contradict ``version``, or any :func:`gzcodec.encode` raises.
    """
    options = qr.fit_options(EncodeOptions.from_arguments(options, **keywords), level=level,
                          version=version)
    data = codec.encode(image, model=model, options=options)
    return data, qr.make_qr(data, level=level, version=version, scale=scale, border=border)


def paste_back(files: bytes | Sequence[bytes], photo: ImageLike, *, model=None,
               realism: float | None = None, realism_weights=None) -> Image.Image:
    """The photo with each file's decoded face put back where it was cut out.

    Parameters
    ----------
    files : bytes or list of bytes
        ``.gzl`` files made by :func:`encode_faces` from this photo.
    photo : PIL image, array, path or binary file object
        The photo (its size must be the files' source size).
    model, realism, realism_weights : optional
        How each face is decoded, as :func:`gzcodec.decode` takes them.

    Raises
    ------
    FormatError
        A file has no placement (it was not encoded with ``align``).
    ImageInputError
        The photo's size is not the one the faces were found in.
    """
    from .align.geometry import from_placement, paste_face  # skimage: only when pasting

    pixels = read_rgb(photo)
    height, width = pixels.shape[:2]
    for data in [files] if isinstance(files, (bytes, bytearray)) else files:
        header, _ = unpack(bytes(data))
        placement = getattr(header, "placement", None)
        if placement is None:
            raise FormatError("the file has no placement: it was not encoded with --align")
        if (header.source_width, header.source_height) != (width, height):
            raise ImageInputError(f"the face was found in a {header.source_width}x"
                                  f"{header.source_height} image, this one is {width}x{height}")
        face = np.asarray(codec.decode(bytes(data), model=model, realism=realism,
                                       realism_weights=realism_weights))
        pixels = paste_face(pixels, face, from_placement(placement, header.width))
    return Image.fromarray(pixels, "RGB")
