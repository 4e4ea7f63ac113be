"""The public codec: images to ``.gzl`` bytes and back, by the model's family.

The codec looks the model up (:mod:`gzcodec.zoo`), then its family
(:func:`gzcodec.families.family_of`), which owns the encode and the decode;
this module checks arguments, sets the thread policy and passes them on
(``ARCHITECTURE.md`` draws the whole path).

Examples
--------
>>> import gzcodec
>>> data = gzcodec.encode("examples/face.png", bits=6)               # doctest: +SKIP
>>> gzcodec.read_header(data).rate                                   # doctest: +SKIP
170
>>> gzcodec.decode(data).size                                        # doctest: +SKIP
(128, 128)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import IO, Literal, Union

import numpy as np
from PIL import Image

from .container import FORMAT_VERSION, MAX_FILE_BYTES, AnyHeader, Coding, parse_header
from .families import DataLike, DecodedSymbols, decode_symbols, family_of, read_data
from .imageio import ModelInput, check_source_pixels
from .model_choice import encode_with_best_model, is_auto
from .options import BITS_LADDER, DEFAULT_BATCH_SIZE, DEFAULT_BITS, FACE128_DEFAULT_BITS, EncodeOptions
from .threads import runs_on_threads_for, same_pixels_on_any_threads
from .zoo import LoadedModel, load_model
from .zoo.realism_file import check_realism

__all__ = ["ImageLike", "DataLike", "ModelLike", "BITS_LADDER", "DEFAULT_BITS", "FACE128_DEFAULT_BITS",
           "EncodeOptions", "encode", "encode_batch", "decode", "read_header", "information_bits",
           "DecodedSymbols", "decode_symbols"]

#: What :func:`encode` takes: a Pillow image, an array (uint8/uint16/bool, or
#: float in [0, 1]), a path or binary file object of an image file, or an image
#: already reduced by :func:`gzcodec.imageio.read_model_input`.
ImageLike = Union[Image.Image, np.ndarray, str, os.PathLike, IO[bytes], ModelInput]
ModelLike = Union[str, os.PathLike, LoadedModel, None]


def read_header(data: DataLike) -> AnyHeader:
    """Parse and validate the header of a ``.gzl`` file (bytes, path or file object; no model needed).

    Returns a :class:`~gzcodec.container.HeaderV2` for format version 2 files
    (its ``payload_length`` is the rest of ``data``) and a
    :class:`~gzcodec.container.Header` for version 1 files. Both have ``rate``
    (``bits`` for ``face128``), sizes, ``model_id_hex``, ``coding`` and ``version``.
    """
    return parse_header(read_data(data)[:MAX_FILE_BYTES + 1])


@runs_on_threads_for("encode")
def encode_batch(
    images: Sequence[ImageLike],
    *,
    bits: int | None = None,
    model: ModelLike = None,
    loss: str = "mse",
    steps: int | None = None,
    seed: int = 0,
    rate_weight: float = 1.0,
    max_bytes: int | None = None,
    target_ssim: float | None = None,
    coding: Coding | str | None = None,
    format_version: int = FORMAT_VERSION,
    rate: int | None = None,
    effort: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    options: EncodeOptions | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[bytes]:
    """Encode several images: the same files as :func:`encode` of each, sooner.

    See :func:`encode` for the parameters; ``options`` (an
    :class:`EncodeOptions`) gives them all at once instead. ``on_step(k)`` is
    called as refinement goes, with the number ``k`` of image-steps just done
    (for a progress bar of ``len(images) * steps`` in all). ``face128``
    encodes in batches of ``batch_size``; hyperprior-context models encode
    each image on its own, because batched arithmetic differs in the last
    bits with the batch and refinement would make an image's file depend on
    its neighbours.
    """
    options = EncodeOptions.from_arguments(
        options, bits=bits, loss=loss, steps=steps, seed=seed, rate_weight=rate_weight, max_bytes=max_bytes,
        target_ssim=target_ssim, coding=coding, format_version=format_version, rate=rate, effort=effort,
        batch_size=batch_size)
    if is_auto(model):  # each installed model encodes, the best file is kept
        return encode_with_best_model(images, options=options, on_step=on_step)
    lm = load_model(model)
    family = family_of(lm)
    family.check_options(options, lm)  # what depends on the model, before any image is read
    return family.encode(lm, images, options, on_step)


def encode(
    image: ImageLike,
    *,
    bits: int | None = None,
    model: ModelLike = None,
    loss: str = "mse",
    steps: int | None = None,
    seed: int = 0,
    rate_weight: float = 1.0,
    max_bytes: int | None = None,
    target_ssim: float | None = None,
    coding: Coding | str | None = None,
    format_version: int = FORMAT_VERSION,
    rate: int | None = None,
    effort: str | None = None,
    options: EncodeOptions | None = None,
    align: bool = False,
) -> bytes:
    """Encode one image as ``.gzl`` bytes.

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        Any size and mode: converted to RGB, centre-cropped to a square and
        resized to the model's size (see :mod:`gzcodec.imageio`). Float
        arrays must hold values in [0, 1].
    bits : int, optional
        The user's quality knob. v2 models, the default ``face128-v2``
        included: 2..8, the rate index ``round((bits - 2) * 255 / 6)``
        (default :data:`DEFAULT_BITS`, 5). ``face128``: the latent's
        quantization precision, 2..16, trained at 2..8 (default
        :data:`FACE128_DEFAULT_BITS`, 4). Ignored when ``rate``, ``max_bytes``
        or ``target_ssim`` is given.
    model : str, path or LoadedModel, optional
        Model name, id or weights path; the bundled default
        (:data:`gzcodec.zoo.DEFAULT_MODEL`, ``face128-v2``) if not given; ``"auto"``: the best
        file of every installed model's, by ``max_bytes`` or ``target_ssim`` (:mod:`gzcodec.model_choice`).
    loss : {"mse", "l1", "ssim", "ms-ssim", "mix"}
        Distortion the reversal minimises.
    steps : int, optional
        Refinement steps after the encoder network's guess, >= 0; 0 is fastest.
        By default the ``effort``'s for v2 models, and
        :data:`gzcodec.refinement.DEFAULT_STEPS` (0) for ``face128``.
    seed : int
        Seed of the refinement's random draws (v2 models' Gumbel noise; ``face128``'s
        reversal draws none), 0..2**63 - 1; same image, model, options and seed give the
        same bytes.
    rate_weight : float
        Weight of the file size in the reversal's loss (0: fit the image only).
    max_bytes : int, optional
        The largest file that fits. v2 models: the highest rate index whose
        file fits (found on estimates, checked on the real file). ``face128``:
        the highest precision of :data:`BITS_LADDER` whose file fits; below
        the lowest, the rate weight is raised (see :data:`SQUEEZE_FACTORS`)
        until it fits, at a cost in quality.
    target_ssim : float, optional
        Use the lowest rate (precision) whose decoded SSIM reaches this value, in (0, 1].
    coding : {"raw", "zstd", "range", "ans"}, optional
        Force a payload coding; by default the smallest is chosen per file.
        ``"range"`` (the model's entropy model) is version 2's, ``"ans"``
        version 1's.
    format_version : {2, 1}
        Version 2 (default) has the 14-byte header; version 1 (31 bytes) is
        still written for compatibility tests and old readers (``face128`` only).
    rate : int, optional
        v2 models: the rate index 0..255 itself (finer than ``bits``).
    effort : {"none", "fast", "archive"}, optional
        v2 models: refinement iterations of stochastic Gumbel annealing
        (:data:`gzcodec.refinement.EFFORTS`; ``"fast"`` by default); ``steps``
        overrides it.
    options : EncodeOptions, optional
        All of the options above but ``model``, as one value; give it or
        them, not both.
    align : bool
        Encode the photo's one face, aligned, with its place in the photo
        (:func:`gzcodec.aligned.encode_face`; the ``align`` extra).

    Returns
    -------
    bytes
        A complete ``.gzl`` file.

    Raises
    ------
    ImageInputError
        The image cannot be read or converted (with ``align``: holds no face, or several).
    ValueError
        An argument out of its range (``steps=-1``, ``target_ssim=1.5``, ...).
    TypeError
        ``options`` together with other options as keywords.

    Notes
    -----
    Runs torch on one thread unless ``GZCODEC_THREADS`` or :func:`gzcodec.threads.set_threads`
    says otherwise.

    Examples
    --------
    >>> data = encode("examples/face.png")           # doctest: +SKIP
    >>> read_header(data).rate                      # doctest: +SKIP
    128
    """
    given = dict(bits=bits, loss=loss, steps=steps, seed=seed, rate_weight=rate_weight, rate=rate,
                 max_bytes=max_bytes, target_ssim=target_ssim, coding=coding,
                 format_version=format_version, effort=effort, options=options, model=model)
    if align:
        from .aligned import encode_face  # a photo's one face, aligned, with its placement

        return encode_face(image, **given)
    return encode_batch([image], **given)[0]


@runs_on_threads_for("decode")
def decode(data: DataLike, *, model: ModelLike = None, size: Literal["model", "source"] = "model",
           max_pixels: int | None = None, realism: float | None = None,
           realism_weights: str | os.PathLike | None = None) -> Image.Image:
    """Decode a ``.gzl`` file to an 8-bit RGB image.

    Parameters
    ----------
    data : bytes, path, binary file object, str or PIL image
        A complete ``.gzl`` file (a file object is read from its position), its
        text form (``"gzl:..."``) or a picture of a QR code holding it (bytes,
        path, file object or Pillow image), told apart by their first bytes
        (:mod:`gzcodec.carriers`).
    model : str, path or LoadedModel, optional
        Use this model instead of looking the file's model id up; it must have
        that id.
    size : {"model", "source"}
        ``"model"`` returns the generator's output (e.g. 128x128).
        ``"source"`` resizes it to the centre crop of the encoded image at its
        original resolution (a ``min(w, h)`` square; pixels outside the crop
        were never stored); for a face encoded with ``align``, to the side
        its crop had in the photo (:func:`gzcodec.paste_back` puts it
        back into the photo).
    max_pixels : int, optional
        Largest ``"source"`` image to make. By default
        ``PIL.Image.MAX_IMAGE_PIXELS`` (about 89 million pixels; ``None``
        there disables the limit): a 1-KB file can name a source size of
        65535x65535, so the multiplier must be asked for.
    realism : float, optional
        0 or ``None`` (default): the fidelity decode. In (0, 1]: the model's
        realism decoder at that weight β (1: the most realistic; same file and
        β, same pixels); :class:`ModelNotFoundError` if none is installed.
    realism_weights : path, optional
        This realism file (:mod:`gzcodec.zoo.realism_file`), not the one found.

    Raises
    ------
    FormatError
        Damaged, truncated or unsupported data; :class:`LimitError` (a
        ``FormatError``) for sizes over the hard limits, including a
        ``"source"`` size over ``max_pixels``; :class:`BarcodeError` (a
        ``FormatError``) for a picture with no readable QR code.
    MissingDependencyError
        A QR picture without the ``qr`` extra installed.
    ModelNotFoundError
        The model the file names (or its realism decoder) is not installed.
    ModelMismatchError
        The file's geometry does not fit the model (or the realism file is another model's).
    """
    import torch

    from .imageio import tensor_to_pixels

    beta = check_realism(realism)
    if size not in ("model", "source"):
        raise ValueError(f"size must be 'model' or 'source', not {size!r}")
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, (
            int, np.integer)) or max_pixels < 1):  # numpy integers too, not bools
        raise ValueError(f"max_pixels must be a whole number >= 1, not {max_pixels!r}")
    data = read_data(data)
    if size == "source":  # refused before anything is decoded
        header = parse_header(data)
        side = min(header.source_width, header.source_height)
        if getattr(header, "placement", None) is not None:  # an aligned face: its own side
            side = max(1, round(header.placement.side_pixels))
        check_source_pixels(side, max_pixels)
    decoded = decode_symbols(data, model)
    family = family_of(decoded.model)  # its realism decoder is found (or refused) before any work
    decoder = family.realism_decoder(decoded.model, weights=realism_weights) if beta else None
    with torch.no_grad(), same_pixels_on_any_threads():  # one image whatever the threads
        x = family.generate_realistic(decoded, beta, decoder) if beta else family.generate(decoded)
        # A hostile step can overflow the generator: NaN is mapped to 0, not cast at random.
        x = torch.nan_to_num(x, nan=0.0)
    image = Image.fromarray(tensor_to_pixels(x), "RGB")
    if size == "source" and side != image.width:
        image = image.resize((side, side), Image.Resampling.LANCZOS)
    return image


def information_bits(data: bytes, *, model: ModelLike = None) -> float | None:
    """Information content ``-sum(log2 p)`` of a file's latent under its model's entropy model.

    What an ideal entropy coder would spend on the symbols: a range payload's
    bytes minus this is the coder's overhead. ``None`` when the model has no
    entropy model at the file's rate (or, in format version 1, another step).
    """
    decoded = decode_symbols(data, model)
    return family_of(decoded.model).information_bits(decoded)
