"""The ``hyperprior-context`` family (``face128-v2``): a continuous-rate latent under a context model.

For a batch of images, top to bottom:

1. **Analysis** once: the encoder's unscaled latent ``y_u`` does not depend on
   the rate, so every rate point below is a multiplication away.
2. **Rate choice** per image (:class:`~gzcodec.rate.RateRequest`): a fixed
   rate index, the largest whose file fits ``max_bytes``, or the lowest whose
   decoded SSIM reaches ``target_ssim``. The search bisects the 256 rate
   indices on cheap estimates of the encoder's rounded guess (the context
   model's information content plus the header, or the SSIM of one generator
   pass).
3. **Refinement** (:func:`gzcodec.reversal.refine`, stochastic Gumbel
   annealing) at the chosen rate, then range coding under the model's context
   model into a format version 2 file.
4. **Verification**: refinement moves along the model's own rate-distortion
   trade-off, so a file can end up a few bytes over budget or a little under
   the SSIM target; such images move two rate indices at a time (down for
   ``max_bytes``, up for ``target_ssim``) and are encoded again (at most
   :data:`MAX_RETRIES` times).

Decoding reads the range payload under the context model and runs the
generator at the file's rate position. Imports no torch until a model runs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..container import MAX_SIZE, V2_MODEL_ID_SIZE, AnyHeader, Coding, HeaderV2, pack
from ..errors import FormatError, ModelMismatchError
from ..imageio import model_input
from ..metrics import ssim
from ..options import DEFAULT_BITS, EncodeOptions
from ..payload import SymbolReader, SymbolWriter
from ..rate import RATE_INDEX_MAX, RateRequest, bits_to_rate, rate_position
from ..refinement import DEFAULT_EFFORT, EFFORTS
from ..search import Bracket, bisect
from .base import DecodedSymbols, ModelFamily

if TYPE_CHECKING:
    import os

    import torch

    from ..imageio import ModelInput
    from ..models.context_model import ContextModel, Guess
    from ..zoo import LoadedModel, ModelInfo

__all__ = ["HyperpriorContextFamily", "MAX_RETRIES"]

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
    import torch

    return torch.tensor([rate_position(r, net.config.levels) for r in rates], dtype=torch.float32)


def _guess(net: ContextModel, y_u: torch.Tensor, rates: Sequence[int]) -> Guess:
    """The encoder's rounded guess at each image's rate index (:meth:`ContextModel.guess`)."""
    return net.guess(y_u, _positions(net, rates))


def _guess_ssim(net: ContextModel, y_u: torch.Tensor, images: list[_Image],
                rates: Sequence[int]) -> list[float]:
    import torch

    from ..imageio import tensor_to_pixels

    with torch.no_grad():
        guess = _guess(net, y_u, rates)
        pixels = tensor_to_pixels(net.reconstruct(guess))
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


def _encode_at(lm: LoadedModel, images: list[_Image], x: torch.Tensor, y_u: torch.Tensor, *,
               iterations: int, loss: str, seed: int, on_step: Callable[[int], None] | None) -> None:
    """Refine and code every image at its ``rate``; fill in ``image.data``."""
    import torch

    from ..reversal import count_image_steps, refine

    net = lm.network
    position = _positions(net, [im.rate for im in images])
    guess = net.guess(y_u, position)
    # The hyper-latent stays the encoder's: refinement moves y under its features, and
    # keeps the guess (guess.q, the rounding of this y) where it does no better.
    q = refine(net, (y_u * guess.enc_gain).detach(), x, position, iterations=iterations, loss=loss,
               seed=seed, guess=guess, on_step=count_image_steps(on_step, images=len(images)))
    for i, im in enumerate(images):
        z = None if guess.z is None else guess.z[i].to(torch.int64).numpy()
        symbols = lm.entropy.join(q[i].to(torch.int64).numpy(), z)
        im.data = _file(lm, im, symbols, im.rate)


class HyperpriorContextFamily(ModelFamily):
    """``face128-v2``-style models: :class:`~gzcodec.models.context_model.ContextModel`."""

    name = "hyperprior-context"
    default_bits = DEFAULT_BITS
    batches = False  # each image on its own: a file never depends on its neighbours

    # -- options

    def check_options(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> None:
        self.rate_request(options, model)
        self.refinement_steps(options, model)

    def rate_request(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> RateRequest:
        """What decides each image's rate index: a rate, a target, or ``--bits`` on ``model``'s
        levels (:func:`~gzcodec.rate.bits_to_rate`).

        Raises
        ------
        ValueError
            Options these models do not take (format version 1, a coding
            other than range, ``bits`` outside 2..8).
        """
        if options.format_version != 2:
            raise ValueError("hyperprior-context models write format version 2 only")
        if options.coding not in (None, Coding.RANGE):
            raise ValueError(f"hyperprior-context models code with 'range', not "
                             f"{options.coding.name.lower()!r}")
        if options.targeted:
            return RateRequest(max_bytes=options.max_bytes, target_ssim=options.target_ssim)
        if options.rate is not None:
            return RateRequest(rate=int(options.rate))
        return RateRequest(rate=bits_to_rate(self.bits(options), levels=model.model_config.levels))

    def refinement_steps(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> int:
        """``steps`` if given, else the ``effort`` level's SGA iterations."""
        if options.steps is not None:
            return int(options.steps)
        return EFFORTS[DEFAULT_EFFORT if options.effort is None else options.effort]

    def expected_rate(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> int | None:
        return None if options.targeted else self.rate_request(options, model).rate

    def describe(self, model: ModelInfo, header: AnyHeader) -> dict[str, Any]:
        # The rate byte is a rate index; there are no bits and no step.
        config = model.model_config
        position = rate_position(header.rate, config.levels)
        channels, side, _ = config.latent_shape
        hyper = config.hyper_channels
        return {"rate": f"{header.rate} of {RATE_INDEX_MAX} (rate position {position:.2f})",
                "bits": None,
                "latent_shape": (f"{channels}x{side}x{side}"
                                 + (f" + hyper-latent {hyper}x{side // 4}x{side // 4}" if hyper
                                    else "") + " (the model's)")}

    # -- encoding

    def encode(self, model: LoadedModel, images: Sequence, options: EncodeOptions,
               on_step: Callable[[int], None] | None) -> list[bytes]:
        """The files of ``images``, ``options.batch_size`` read at a time, each encoded on its own.

        One image at a time: batched arithmetic (the hyperprior's layers, the
        descent of refinement) differs in the last bits with the batch, and
        refinement grows that into other roundings. A file must not depend on
        the images encoded beside it (a folder, a resumed folder, a cluster
        worker's batch, a single file).
        """
        request, iterations = self.rate_request(options, model), self.refinement_steps(options, model)
        size = model.config.image_size
        out: list[bytes] = []
        for i in range(0, len(images), options.batch_size):
            # Each image is reduced to the model's size as soon as it is read.
            for m in [model_input(im, size) for im in images[i:i + options.batch_size]]:
                out.append(self._encode_one(model, m, request, iterations=iterations, loss=options.loss,
                                            seed=options.seed, on_step=on_step))
        return out

    def _encode_one(self, lm: LoadedModel, prepared: ModelInput, request: RateRequest, *,
                    iterations: int, loss: str, seed: int,
                    on_step: Callable[[int], None] | None) -> bytes:
        """The file of one model input: rate chosen, refined, checked against the target.

        Raises :class:`ValueError` when ``max_bytes`` is below the smallest
        file the model makes of the image; warns when ``target_ssim`` is out
        of reach and returns the highest rate's file.
        """
        import torch

        image = _Image(np.asarray(prepared.pixels), tuple(prepared.source))
        x = torch.from_numpy(np.stack([image.pixels])).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            y_u = lm.network.analyse(x)
        [image.rate] = _choose_rates(lm, y_u, [image], request)
        encode_at = functools.partial(self._code_at, lm, [image], x, y_u, loss=loss, seed=seed)
        for attempt in range(MAX_RETRIES + 1):
            encode_at(iterations=iterations, on_step=on_step if attempt == 0 else None)
            if not self._retry(lm, image, request):
                break
        if request.max_bytes is not None and len(image.data) > request.max_bytes and image.rate > 0:
            # Retries exhausted: the lowest rate's rounded guess is the last resort.
            image.rate = 0
            encode_at(iterations=0, on_step=None)
        self._check_target(lm, image, request)
        return image.data

    def _code_at(self, lm: LoadedModel, images: list[_Image], x: torch.Tensor, analysis: Any, *,
                 iterations: int, loss: str, seed: int, on_step: Callable[[int], None] | None) -> None:
        """Refine and code every image at its ``rate`` (``analysis``: the network's ``analyse``)."""
        _encode_at(lm, images, x, analysis, iterations=iterations, loss=loss, seed=seed, on_step=on_step)

    def _retry(self, lm: LoadedModel, image: _Image, request: RateRequest) -> bool:
        """Move ``image`` two rate indices towards its target if its file misses it; whether it moved."""
        if request.max_bytes is not None and len(image.data) > request.max_bytes and image.rate > 0:
            image.rate = max(image.rate - 2, 0)
            return True
        if (request.target_ssim is not None and image.rate < RATE_INDEX_MAX
                and self._decoded_ssim(lm, image) < request.target_ssim):
            image.rate = min(image.rate + 2, RATE_INDEX_MAX)
            return True
        return False

    def _check_target(self, lm: LoadedModel, image: _Image, request: RateRequest) -> None:
        if request.max_bytes is not None and len(image.data) > request.max_bytes:
            raise ValueError(f"cannot fit the image in {request.max_bytes} bytes (the smallest "
                             f"this model makes of it is {len(image.data)} bytes)")
        if request.target_ssim is not None:
            reached = self._decoded_ssim(lm, image)
            if reached < request.target_ssim:
                warnings.warn(f"target SSIM {request.target_ssim} not reached: {reached:.3f} at "
                              f"rate {image.rate} of {RATE_INDEX_MAX}", stacklevel=6)

    def _decoded_ssim(self, lm: LoadedModel, image: _Image) -> float:
        return ssim(image.pixels, self.decode_pixels(lm, image.data))

    # -- decoding

    def read_symbols(self, model: LoadedModel, header: AnyHeader, payload: bytes) -> DecodedSymbols:
        if not isinstance(header, HeaderV2):
            raise ModelMismatchError(f"model {model.id} is a hyperprior-context model; format "
                                     "version 1 files name factorized models")
        # The rate byte is the rate index; only range payloads exist for these models.
        if header.coding != Coding.RANGE:
            raise FormatError(f"{header.coding.name.lower()} payloads do not exist for "
                              f"model {model.id}; its files are range-coded")
        reader = SymbolReader(payload)
        symbols = model.entropy.read_symbols(reader, rate=header.rate)
        reader.close()
        return DecodedSymbols(header, model, symbols, header.rate, None)

    def generate(self, decoded: DecodedSymbols) -> torch.Tensor:
        q, dec_gain = self._decoder_input(decoded)
        return decoded.model.network.synthesise(q, dec_gain)[0]

    def realism_decoder(self, model: LoadedModel, *,
                        weights: str | os.PathLike[str] | None = None) -> torch.nn.Module:
        from ..zoo.realism_file import load_realism

        return load_realism(model, weights=weights)[0]

    def generate_realistic(self, decoded: DecodedSymbols, realism: float,
                           decoder: torch.nn.Module) -> torch.Tensor:
        # The same decoder input as the fidelity decode; the noise is seeded by the file's latent.
        import torch

        from ..models.realism import latent_seed

        q, dec_gain = self._decoder_input(decoded)
        return decoder(q * dec_gain, torch.tensor([float(realism)]),
                       noise_seeds=[latent_seed(decoded.symbols)])[0]

    def _decoder_input(self, decoded: DecodedSymbols) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent ``(1, M, h, w)`` (floats) and the decoder gains at the file's rate."""
        import torch

        net = decoded.model.network
        q, _ = decoded.model.entropy.split(decoded.symbols)
        position = torch.tensor([rate_position(decoded.rate, net.config.levels)])
        _, dec_gain = net.gains(position)
        return torch.from_numpy(q).float()[None], dec_gain

    def information_bits(self, decoded: DecodedSymbols) -> float | None:
        return decoded.model.entropy.information_bits(decoded.symbols, rate=decoded.rate)
