"""Encoding with a v2 (context) model: each image's rate, its refined latent, its file.

For a batch of images, top to bottom:

1. **Analysis** once: the encoder's unscaled latent ``y_u`` does not depend on
   the rate, so every rate point below is a multiplication away.
2. **Rate choice** per image (:class:`RateRequest`): a fixed rate index, the
   largest whose file fits ``max_bytes``, or the lowest whose decoded SSIM
   reaches ``target_ssim``. The search bisects the 256 rate indices on cheap
   estimates of the encoder's rounded guess (the context model's information
   content plus the header, or the SSIM of one generator pass).
3. **Refinement** (:func:`gzcodec.reversal.refine`, stochastic Gumbel
   annealing) at the chosen rate, then range coding under the model's context
   model into a version 2 file.
4. **Verification**: refinement moves along the model's own rate-distortion
   trade-off, so a file can end up a few bytes over budget or a little under
   the SSIM target; such images move two rate indices at a time (down for
   ``max_bytes``, up for ``target_ssim``) and are encoded again (at most
   :data:`MAX_RETRIES` times).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from .container import MAX_SIZE, V2_MODEL_ID_SIZE, Coding, HeaderV2, pack
from .imageio import tensor_to_pixels
from .metrics import ssim
from .models.context_model import RATE_INDEX_MAX, ContextModel, Guess, rate_position
from .payload import SymbolWriter
from .rate import RateRequest, bits_to_rate
from .reversal import count_image_steps, refine
from .search import Bracket, bisect

if TYPE_CHECKING:
    from .imageio import ModelInput
    from .zoo import LoadedModel

# RateRequest and bits_to_rate live in gzcodec.rate, without torch (options are checked
# before any model is loaded); re-exported here beside the encoder that carries them out.
__all__ = ["RateRequest", "encode_context", "bits_to_rate", "MAX_RETRIES"]

#: How often an image is re-encoded two rate indices further when its refined
#: file misses ``max_bytes`` or ``target_ssim``.
MAX_RETRIES = 6


@dataclasses.dataclass
class _Image:
    """One image of the batch: model input, source size and what it has become."""

    pixels: np.ndarray
    source: tuple[int, int]
    rate: int = 0
    data: bytes = b""


def _header(lm: LoadedModel, image: _Image, rate: int) -> HeaderV2:
    size = lm.config.image_size
    return HeaderV2(
        model_id=bytes.fromhex(lm.id)[:V2_MODEL_ID_SIZE], width=size, height=size,
        source_width=min(image.source[0], MAX_SIZE), source_height=min(image.source[1], MAX_SIZE),
        rate=rate, coding=Coding.RANGE,
    )


def _file(lm: LoadedModel, image: _Image, symbols: np.ndarray, rate: int) -> bytes:
    coder = lm.entropy
    writer = SymbolWriter()
    coder.write_symbols(coder.clamp(symbols, rate=rate), writer, rate=rate)
    return pack(_header(lm, image, rate), writer.finish())


def _positions(net: ContextModel, rates: Sequence[int]) -> torch.Tensor:
    return torch.tensor([rate_position(r, net.config.levels) for r in rates], dtype=torch.float32)


def _guess(net: ContextModel, y_u: torch.Tensor, rates: Sequence[int]) -> Guess:
    """The encoder's rounded guess at each image's rate index (:meth:`ContextModel.guess`)."""
    return net.guess(y_u, _positions(net, rates))


@torch.no_grad()
def _guess_ssim(net: ContextModel, y_u: torch.Tensor, images: list[_Image],
                rates: Sequence[int]) -> list[float]:
    guess = _guess(net, y_u, rates)
    pixels = tensor_to_pixels(net.synthesise(guess.q, guess.dec_gain))
    return [ssim(im.pixels, p) for im, p in zip(images, pixels, strict=True)]


def _probe_every_image(brackets: Sequence[Bracket], below: Callable[[list[int]], list[bool]],
                       indices: list[int | None]) -> list[bool]:
    """``below`` at each image's probe, as one batch call.

    An image whose search is done (``None``) is probed again at its own rate
    and its answer ignored by :func:`~gzcodec.search.bisect`: the batch keeps
    its shape.
    """
    return below([max(b.lo, 0) if i is None else i for b, i in zip(brackets, indices, strict=True)])


def _bisect(n: int, below: Callable[[list[int]], list[bool]]) -> list[int]:
    """Per image, the largest rate index ``r`` with ``below(r)`` true (-1 if none).

    ``below`` must be true up to some index and false after it (monotone in
    the rate); all images are probed in lock step, one batch call per probe.
    """
    brackets = [Bracket.over(RATE_INDEX_MAX + 1) for _ in range(n)]
    bisect(brackets, functools.partial(_probe_every_image, brackets, below))
    return [b.lo for b in brackets]


def _fits_max_bytes(lm: LoadedModel, y_u: torch.Tensor, images: list[_Image], max_bytes: int,
                    rates: list[int]) -> list[bool]:
    """Whether each image's rounded guess at its rate would fit ``max_bytes`` (an estimate)."""
    bits = _guess(lm.network, y_u, rates).bits
    # The range coder spends under a byte over the information content.
    sizes = [len(pack(_header(lm, im, r), b"")) + math.ceil(float(b) / 8) + 1
             for im, r, b in zip(images, rates, bits, strict=True)]
    return [s <= max_bytes for s in sizes]


def _short_of_ssim(lm: LoadedModel, y_u: torch.Tensor, images: list[_Image], target_ssim: float,
                   rates: list[int]) -> list[bool]:
    """Whether each image's rounded guess at its rate decodes under ``target_ssim``."""
    return [s < target_ssim for s in _guess_ssim(lm.network, y_u, images, rates)]


def _choose_rates(lm: LoadedModel, y_u: torch.Tensor, images: list[_Image],
                  request: RateRequest) -> list[int]:
    """Each image's rate index: the request's, or the one its target asks for (on estimates)."""
    if request.max_bytes is not None:
        fits = functools.partial(_fits_max_bytes, lm, y_u, images, request.max_bytes)
        return [max(r, 0) for r in _bisect(len(images), fits)]
    if request.target_ssim is not None:
        short = functools.partial(_short_of_ssim, lm, y_u, images, request.target_ssim)
        return [min(r + 1, RATE_INDEX_MAX) for r in _bisect(len(images), short)]
    return [request.rate] * len(images)


def _encode_at(lm: LoadedModel, images: list[_Image], x: torch.Tensor, y_u: torch.Tensor, *, iterations: int,
               loss: str, seed: int, on_step: Callable[[int], None] | None) -> None:
    """Refine and code every image at its ``rate``; fill in ``image.data``."""
    net = lm.network
    rates = [im.rate for im in images]
    position = _positions(net, rates)
    guess = net.guess(y_u, position)
    # The hyper-latent stays the encoder's: refinement moves y under its features, and
    # keeps the guess (guess.q, the rounding of this y) where it does no better.
    q = refine(net, (y_u * guess.enc_gain).detach(), x, position, iterations=iterations, loss=loss,
               seed=seed, guess=guess,
               on_step=count_image_steps(on_step, images=len(images)))
    for i, im in enumerate(images):
        z = None if guess.z is None else guess.z[i].to(torch.int64).numpy()
        symbols = lm.entropy.join(q[i].to(torch.int64).numpy(), z)
        im.data = _file(lm, im, symbols, im.rate)


def _decoded_ssim(lm: LoadedModel, image: _Image) -> float:
    from .codec import decode

    return ssim(image.pixels, np.asarray(decode(image.data, model=lm)))


def encode_context(lm: LoadedModel, inputs: Sequence[ModelInput], request: RateRequest, *,
                   iterations: int, loss: str, seed: int,
                   on_step: Callable[[int], None] | None = None) -> list[bytes]:
    """Version 2 files of ``inputs`` (model inputs with ``pixels`` and ``source``), one batch.

    ``lm`` is a loaded v2 model; ``iterations`` the SGA refinement iterations.
    Raises :class:`ValueError` when ``max_bytes`` is below the smallest file
    the model makes of an image; warns when ``target_ssim`` is out of reach
    and returns the highest rate's file.
    """
    if len(inputs) > 1:
        # One image at a time: batched arithmetic (the hyperprior's layers, the descent
        # of refinement) differs in the last bits with the batch, and refinement grows
        # that into other roundings. A file must not depend on the images encoded beside
        # it (a folder, a resumed folder, a cluster worker's batch, a single file).
        return [encode_context(lm, [m], request, iterations=iterations, loss=loss, seed=seed,
                               on_step=on_step)[0] for m in inputs]
    net = lm.network
    images = [_Image(np.asarray(m.pixels), tuple(m.source)) for m in inputs]
    x = torch.from_numpy(np.stack([im.pixels for im in images])).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        y_u = net.analyse(x)
    for im, r in zip(images, _choose_rates(lm, y_u, images, request), strict=True):
        im.rate = r
    todo = list(range(len(images)))
    for attempt in range(MAX_RETRIES + 1):
        subset = [images[i] for i in todo]
        _encode_at(lm, subset, x[todo], y_u[todo], iterations=iterations, loss=loss, seed=seed,
                   on_step=on_step if attempt == 0 else None)
        retry = []
        for i in todo:
            im = images[i]
            if request.max_bytes is not None and len(im.data) > request.max_bytes and im.rate > 0:
                im.rate = max(im.rate - 2, 0)
                retry.append(i)
            elif (request.target_ssim is not None and im.rate < RATE_INDEX_MAX
                  and _decoded_ssim(lm, im) < request.target_ssim):
                im.rate = min(im.rate + 2, RATE_INDEX_MAX)
                retry.append(i)
        if not retry:
            break
        todo = retry
    for i, im in enumerate(images):
        if request.max_bytes is not None and len(im.data) > request.max_bytes and im.rate > 0:
            # Retries exhausted: the lowest rate's rounded guess is the last resort.
            im.rate = 0
            _encode_at(lm, [im], x[i:i + 1], y_u[i:i + 1], iterations=0, loss=loss, seed=seed,
                       on_step=None)
        if request.max_bytes is not None and len(im.data) > request.max_bytes:
            raise ValueError(f"cannot fit the image in {request.max_bytes} bytes (the smallest "
                             f"this model makes of it is {len(im.data)} bytes)")
        if request.target_ssim is not None:
            reached = _decoded_ssim(lm, im)
            if reached < request.target_ssim:
                warnings.warn(f"target SSIM {request.target_ssim} not reached: {reached:.3f} at "
                              f"rate {im.rate} of {RATE_INDEX_MAX}", stacklevel=3)
    return [im.data for im in images]
