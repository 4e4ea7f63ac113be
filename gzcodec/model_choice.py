"""``model="auto"``: every installed model encodes the image, and the best file is kept.

A ``.gzl`` file names the model that made it, so a decoder needs no hint of
which model won. Each installed model (:func:`gzcodec.zoo.list_models`, the
folders of ``GZCODEC_MODEL_PATH`` and the user cache included) whose family
takes the options encodes each image with the same options; a model that
cannot (an option it refuses, a budget below its smallest file, a model
input of another size) is simply not a candidate. Of the candidates,

* with ``max_bytes``: the file of the highest PSNR (all fit the budget);
* with ``target_ssim``: the smallest file whose SSIM reaches the target, or,
  if none does, the file of the highest SSIM, with a warning.

Ties go to the smaller file, then to the model listed first (the bundled
default first), so the same image and options always give the same bytes.
PSNR and SSIM (:mod:`gzcodec.metrics`) are measured against the image as the
models see it: its centre crop reduced to a model's input, at the largest
input size among the candidates (smaller models' decoded images are resized
to it), so that models of different sizes are compared on one image.

Without a budget or a target, ``auto`` is refused: ``bits`` (or ``rate``)
means a different size and quality for each model, so "the best file" would
mean nothing. The cost is one encode (and one decode) per installed model.

Examples
--------
>>> import gzcodec
>>> data = gzcodec.encode("examples/face.png", model="auto", max_bytes=441)  # doctest: +SKIP
>>> gzcodec.read_header(data).model_id_hex                    # the winner's    # doctest: +SKIP
'e4f73fc2'
>>> check_auto_options(EncodeOptions(bits=5))                                  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
gzcodec.options.OptionError: model auto needs max_bytes or target_ssim: bits means a different size ...
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from .errors import GzcodecError, ModelNotFoundError
from .families import family_of
from .families.base import registry_info
from .imageio import ModelInput, load_image, model_input
from .metrics import psnr, ssim
from .options import EncodeOptions, OptionError
from .zoo import LoadedModel, ModelInfo, default_model, find_model, list_models, load_model

#: An image as :func:`gzcodec.encode` takes it (:data:`gzcodec.codec.ImageLike`, which imports this module).
ImageLike = object

__all__ = ["AUTO", "Candidate", "check_auto_options", "choose", "encode_with_best_model", "is_auto",
           "usable_models"]

#: The ``model`` that asks for every installed model and keeps the best file.
AUTO = "auto"


def is_auto(model: object) -> bool:
    """Whether ``model`` is :data:`AUTO` (a path or a loaded model never is)."""
    return isinstance(model, str) and model == AUTO


def check_auto_options(options: EncodeOptions) -> None:
    """Refuse ``model="auto"`` without ``max_bytes`` or ``target_ssim`` (no model or image needed).

    Raises
    ------
    OptionError
        Neither is given: ``bits`` means a different size for each model.
    """
    if not options.targeted:
        raise OptionError("$model auto needs $max_bytes or $target_ssim: $bits means a different "
                          "size for each model")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One model's file of one image, and how close its decoded image is to the image.

    Attributes
    ----------
    model : ModelInfo
        The model that made it.
    data : bytes
        The ``.gzl`` file.
    psnr, ssim : float
        Of its decoded image against the image (see the module's notes).
    warnings : tuple of str
        What its encode warned of.
    """

    model: ModelInfo
    data: bytes
    psnr: float
    ssim: float
    warnings: tuple[str, ...] = ()


def usable_models(options: EncodeOptions, *, models: Sequence | None = None
                  ) -> tuple[list[LoadedModel], list[tuple[str, BaseException]]]:
    """The models that take ``options``, loaded, and why each other one does not.

    Parameters
    ----------
    options : EncodeOptions
        The encode's options.
    models : sequence of model specs, optional
        What to choose among (names, ids, paths, loaded models); by default
        every installed model (:func:`gzcodec.zoo.list_models`), the bundled
        default first.

    Returns
    -------
    usable : list of LoadedModel
        In the order ties are broken in.
    refused : list of (name, exception)
        Each other model's name and what it raised (a family's option error, a
        weights file that cannot be loaded).
    """
    if models is None:
        models = _installed()
    usable, refused = [], []
    for spec in models:
        try:
            found = spec if isinstance(spec, (LoadedModel, ModelInfo)) else find_model(spec)
            family_of(found).check_options(options, found)  # before the weights are loaded
            lm = load_model(found)
        except (GzcodecError, ValueError) as exc:
            refused.append((getattr(registry_info(spec), "name", str(spec)), exc))
        else:
            if all(lm.id != other.id for other in usable):  # one model named twice runs once
                usable.append(lm)
    return usable, refused


def _installed() -> list[ModelInfo]:
    """Every installed model, the bundled default first (the winner of a tie), then as listed."""
    try:
        default_id = default_model().id
    except ModelNotFoundError:  # a package without its default still chooses among the others
        default_id = None
    return sorted(list_models(), key=lambda info: info.id != default_id)  # sorted() is stable


def _reduced(image: ImageLike, sizes: Sequence[int]) -> dict[int, ModelInput]:
    """``image`` as each model input size (read once; a :class:`ModelInput` only at its own)."""
    if isinstance(image, ModelInput):
        return {int(np.shape(image.pixels)[0]): image}
    if len(sizes) > 1 and (isinstance(image, (str, os.PathLike)) or callable(getattr(image, "read", None))):
        image = load_image(image)  # a file object can be read only once
    return {size: model_input(image, size) for size in sizes}


def _measured(lm: LoadedModel, data: bytes, reference: np.ndarray, messages: Sequence[str]) -> Candidate:
    """A file as a :class:`Candidate`: decoded, brought to the reference's size, compared."""
    decoded = family_of(lm).decode_pixels(lm, data)
    side = reference.shape[0]
    if decoded.shape[0] != side:
        decoded = np.asarray(Image.fromarray(decoded).resize((side, side), Image.Resampling.LANCZOS))
    return Candidate(lm.info, data, psnr(reference, decoded), ssim(reference, decoded), tuple(messages))


def _candidates(usable: Sequence[LoadedModel], inputs: dict[int, ModelInput], options: EncodeOptions,
                on_step: Callable[[int], None] | None) -> tuple[list[Candidate], list[tuple[str, Exception]]]:
    """Each usable model's file of one image, measured; why each other model made none."""
    reference = np.asarray(inputs[max(inputs)].pixels)
    found, failed = [], []
    for lm in usable:
        size = lm.config.image_size
        # A candidate's warnings are told only if its file is kept (:func:`_tell`).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if size not in inputs:
                    raise ValueError(f"this ModelInput is {np.shape(reference)}, the model takes "
                                     f"{(size, size, 3)}")
                data = family_of(lm).encode(lm, [inputs[size]], options, on_step)[0]
            except (GzcodecError, ValueError) as exc:
                failed.append((lm.info.name, exc))
                continue
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        found.append(_measured(lm, data, reference, messages))
    return found, failed


def _failure(failed: Sequence[tuple[str, Exception]]) -> Exception:
    """What to raise when no model made a file: the one model's error, or each model's in one line."""
    if len(failed) == 1:
        return failed[0][1]
    return ValueError("no installed model could encode the image: "
                      + "; ".join(f"{name}: {exc}" for name, exc in failed))


def choose(candidates: Sequence[Candidate], *, options: EncodeOptions) -> Candidate:
    """The file to keep of ``candidates`` (in tie-breaking order), as the module says.

    Examples
    --------
    >>> a = Candidate(model=None, data=b"x" * 400, psnr=26.0, ssim=0.74)
    >>> b = Candidate(model=None, data=b"x" * 300, psnr=25.0, ssim=0.70)
    >>> choose([a, b], options=EncodeOptions(max_bytes=441)) is a
    True
    >>> choose([a, b], options=EncodeOptions(target_ssim=0.7)) is b
    True
    """
    order = {id(c): i for i, c in enumerate(candidates)}
    if options.max_bytes is not None:
        fitting = [c for c in candidates if len(c.data) <= options.max_bytes]
        return min(fitting, key=lambda c: (-c.psnr, len(c.data), order[id(c)]))
    reached = [c for c in candidates if c.ssim >= options.target_ssim]
    if reached:
        return min(reached, key=lambda c: (len(c.data), -c.ssim, order[id(c)]))
    return min(candidates, key=lambda c: (-c.ssim, len(c.data), order[id(c)]))


def _tell(chosen: Candidate, candidates: Sequence[Candidate], options: EncodeOptions) -> None:
    """Warn of what the kept file's encode warned of, and of a target no model reached."""
    target = options.target_ssim
    for message in chosen.warnings:
        # Its own model's "target SSIM not reached" is said below, of all the models at once.
        if not (target is not None and message.startswith("target SSIM")):
            warnings.warn(message, UserWarning, stacklevel=6)
    if target is not None and chosen.ssim < target:
        warnings.warn(f"target SSIM {target} not reached: {chosen.ssim:.3f} with {chosen.model.name}, "
                      f"the best of {len(candidates)} models", UserWarning, stacklevel=6)


def encode_with_best_model(images: Sequence[ImageLike], *, options: EncodeOptions,
                           on_step: Callable[[int], None] | None = None,
                           models: Sequence | None = None) -> list[bytes]:
    """The file of each image that the best installed model makes (``encode_batch(model="auto")``).

    Parameters
    ----------
    images : sequence of images
        Anything :func:`gzcodec.encode` takes; each is read once.
    options : EncodeOptions
        With ``max_bytes`` or ``target_ssim`` (:func:`check_auto_options`).
    on_step : callable, optional
        As for :func:`gzcodec.encode_batch`, called by each model's encode in turn.
    models : sequence of model specs, optional
        What to choose among (see :func:`usable_models`); every installed model by default.

    Returns
    -------
    list of bytes
        One file per image; its header's model id names the model that won.

    Raises
    ------
    OptionError
        No ``max_bytes`` or ``target_ssim``, or no model takes the options
        (the bundled default's error, else the first model's).
    ValueError
        No model could encode an image (a budget below every model's smallest
        file): each model's error, in one line (one model's as it is).
    """
    check_auto_options(options)
    usable, refused = usable_models(options, models=models)
    if not usable:
        if refused:
            raise refused[0][1]
        raise GzcodecError("model auto found no installed model")
    sizes = sorted({lm.config.image_size for lm in usable})
    out = []
    for image in images:
        candidates, failed = _candidates(usable, _reduced(image, sizes), options, on_step)
        if not candidates:
            raise _failure(failed)
        chosen = choose(candidates, options=options)
        _tell(chosen, candidates, options)
        out.append(chosen.data)
    return out
