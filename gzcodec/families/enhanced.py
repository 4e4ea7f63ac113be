"""The ``enhanced`` family (``face128-v3`` candidates): a hyperprior-context model with an enhancement latent.

Its models (:class:`~gzcodec.models.enhancement.EnhancedModel`) are
``face128-v2``-style models with a second, finer latent coded after the base
one from the model's enhancement level up, and optionally a wider generator.
Its files are the hyperprior-context family's (format version 2, a range
payload, the rate byte a rate index, the same options and rate search);
what differs:

- **payload**: the base latent's symbols, then, at rate indices from the
  enhancement level up, the enhancement latent's
  (:class:`~gzcodec.models.enhancement_coding.EnhancedCoder`; ``spec/gzl.md`` §4.4);
- **encoding**: below the enhancement level, exactly the hyperprior-context
  family's refinement of the base latent (a model grown from a base model
  writes the base model's payload there); from it up, stochastic Gumbel
  annealing moves both latents together under the whole model's
  rate-distortion objective, starting from the encoder's guess of both;
- **decoding**: the generator with the enhancement injected at its 16-px
  stage where the file has one; without one nothing of the enhancement runs.

Imports no torch until a model runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..container import AnyHeader
from ..rate import RATE_INDEX_MAX, rate_position
from .base import DecodedSymbols, ModelFamily
from .hyperprior_context import HyperpriorContextFamily, _file, _Image, _positions

if TYPE_CHECKING:
    import torch

    from ..models.enhancement import EnhancedAnalysis, EnhancedGuess, EnhancedModel
    from ..zoo import LoadedModel, ModelInfo

__all__ = ["EnhancedFamily", "first_enhanced_rate"]


def first_enhanced_rate(levels: int, enhancement_level: int) -> int:
    """The lowest rate index whose files hold the enhancement latent (``RATE_INDEX_MAX + 1``: none).

    The smallest ``r`` with ``r * (levels - 1) >= enhancement_level * 255``, as
    the coder decides it (:meth:`EnhancedCoder.codes_enhancement`).

    >>> first_enhanced_rate(13, 7), first_enhanced_rate(13, 12)
    (149, 255)
    """
    return -(-enhancement_level * RATE_INDEX_MAX // (levels - 1))


def _objective(net: EnhancedModel, x: torch.Tensor, position: torch.Tensor,
               features: torch.Tensor | None, distortion: Callable, y: torch.Tensor, e: torch.Tensor, *,
               autocast: bool = False) -> torch.Tensor:
    """Per-image rate-distortion of both latents as they are (the trade-off the model trained under)."""
    from ..reversal import rate_distortion

    rate, x_hat = net.rate_and_image(y, y, e, e, position, features=features, autocast=autocast)
    return rate_distortion(rate, x_hat.clamp(0, 1), x, lam=net.lam(position), distortion=distortion)


def _refine_both(net: EnhancedModel, analysis: EnhancedAnalysis, guess: EnhancedGuess, x: torch.Tensor,
                 position: torch.Tensor, *, iterations: int, loss: str, seed: int,
                 on_step: Callable[[int], None] | None,
                 lr: float = 0.02) -> tuple[torch.Tensor, torch.Tensor]:
    """Both latents refined together by stochastic Gumbel annealing (:func:`gzcodec.reversal.anneal`,
    :func:`gzcodec.reversal.refine`'s loop); the guess's where refinement does no better."""
    from ..reversal import LOSSES, anneal

    objective = functools.partial(_objective, net, x, position, guess.features, LOSSES[loss])
    q, e = anneal([analysis.y_u * guess.enc_gain, guess.e_y], [guess.q, guess.e], objective,
                  iterations=iterations, lr=lr, seed=seed, on_step=on_step)
    return q, e


class EnhancedFamily(HyperpriorContextFamily):
    """``face128-v3``-candidate models: :class:`~gzcodec.models.enhancement.EnhancedModel`."""

    name = "enhanced"

    def describe(self, model: ModelInfo, header: AnyHeader) -> dict[str, Any]:
        out = super().describe(model, header)
        config = model.model_config
        if config.enhancement_channels:
            first = first_enhanced_rate(config.levels, config.enhancement_level)
            channels, side, _ = config.enhancement_shape
            held = "held in this file" if header.rate >= first else "not in this file"
            out["enhancement"] = f"{channels}x{side}x{side} from rate {first} ({held})"
        return out

    def _code_at(self, lm: LoadedModel, images: list[_Image], x: torch.Tensor, analysis: Any, *,
                 iterations: int, loss: str, seed: int, on_step: Callable[[int], None] | None) -> None:
        import torch

        from ..reversal import count_image_steps, refine

        net = lm.network
        position = _positions(net, [im.rate for im in images])
        guess = net.guess(analysis, position)
        on_step = count_image_steps(on_step, images=len(images))
        e = None
        if guess.e is None:  # below the gate: the hyperprior-context family's refinement
            q = refine(net, (analysis.y_u * guess.enc_gain).detach(), x, position,
                       iterations=iterations, loss=loss, seed=seed, guess=guess, on_step=on_step)
        else:
            q, e = _refine_both(net, analysis, guess, x, position, iterations=iterations, loss=loss,
                                seed=seed, on_step=on_step)
        for i, im in enumerate(images):
            z = None if guess.z is None else guess.z[i].to(torch.int64).numpy()
            e_i = e[i].to(torch.int64).numpy() if e is not None and bool(guess.coded[i]) else None
            im.data = _file(lm, im, lm.entropy.join(q[i].to(torch.int64).numpy(), z, e_i), im.rate)

    def realism_decoder(self, model: LoadedModel, *, weights: Any = None) -> torch.nn.Module:
        # A realism decoder is a copy of a hyperprior-context generator; this family's (its
        # injection, its widths) has none yet: refused as by a family without realism.
        return ModelFamily.realism_decoder(self, model, weights=weights)

    def generate_realistic(self, decoded: DecodedSymbols, realism: float,
                           decoder: torch.nn.Module) -> torch.Tensor:
        return ModelFamily.generate_realistic(self, decoded, realism, decoder)

    def generate(self, decoded: DecodedSymbols) -> torch.Tensor:
        import torch

        net, coder = decoded.model.network, decoded.model.entropy
        q, _ = coder.split(decoded.symbols)
        e = coder.enhancement(decoded.symbols)
        position = torch.tensor([rate_position(decoded.rate, net.config.levels)])
        _, dec_gain = net.gains(position)
        enhancement = None
        if e is not None:
            _, e_dec = net.enhancement_gains(position)
            enhancement = torch.from_numpy(e).float()[None] * e_dec
        return net.synthesise(torch.from_numpy(q).float()[None], dec_gain, enhancement)[0]
