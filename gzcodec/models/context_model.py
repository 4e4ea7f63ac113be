"""The v2 model: encoder, generator, continuous-rate gains and a context entropy model.

``x -> encoder -> y_u`` (the unscaled latent, ``M x 8 x 8``) ``-> y = y_u * g_enc(r)``
``-> q = round(y)`` (the stored integers) ``-> generator(q * g_dec(r)) -> x_hat``.

Continuous rate. The model is trained at a continuous *rate position*
``r in [0, levels - 1]``: ``levels`` trained points, each with its own ``lambda``
and per-channel gains on both sides (Cui et al. 2021), and everything in
between by log-linear interpolation of the gains and of ``lambda``. Each batch
draws ``r`` uniformly, so the points between levels are trained too, and the
file stores ``r`` as one byte (:func:`rate_position` maps it back).

The integers ``q`` are coded under the Gaussian context model of
:mod:`gzcodec.models.context_prior`; see :mod:`gzcodec.models.gaussian` for how its
tables stay bit-exact across machines.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from .config import RATE_INDEX_MAX, ContextModelConfig, rate_position
from .context_prior import HYPER_BITS, ContextPrior
from .layers import analysis_transform, synthesis_transform
from .quantization import round_ste, symbol_range

__all__ = ["ContextModelConfig", "ContextModel", "Guess", "rate_position", "split_position",
           "RATE_INDEX_MAX", "round_ste"]

# RATE_INDEX_MAX and rate_position live with the config (no torch), so that reading a
# file's header needs no torch; they are re-exported here, beside the model they serve.


def split_position(position: torch.Tensor, levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower level index and fraction of each rate position."""
    position = position.clamp(0, levels - 1)
    i = position.floor().long().clamp(max=levels - 2)
    return i, (position - i).to(torch.float32)


@dataclasses.dataclass(frozen=True)
class Guess:
    """The encoder's rounded guess at each image's rate (:meth:`ContextModel.guess`).

    What effort ``none`` stores, before the coder clamps it to its tables, and
    where refinement starts.

    Attributes
    ----------
    q : torch.Tensor
        The rounded latent ``round(y_u * enc_gain)``, ``(N, M, h, w)``, integers as floats.
    z : torch.Tensor or None
        The stored hyper-latent (:meth:`ContextPrior.hyper_symbols`); ``None``
        without a hyperprior.
    features : torch.Tensor or None
        What the context model makes of ``z``.
    bits : torch.Tensor
        Information content of ``q`` and ``z`` per image, ``(N,)``: a float32
        estimate of the coded size, without the header.
    enc_gain, dec_gain : torch.Tensor
        The gains at the images' rate positions, ``(N, M, 1, 1)``.
    """

    q: torch.Tensor
    z: torch.Tensor | None
    features: torch.Tensor | None
    bits: torch.Tensor
    enc_gain: torch.Tensor
    dec_gain: torch.Tensor


class ContextModel(nn.Module):
    """Encoder, generator, gains and context entropy model of one v2 gzcodec model."""

    def __init__(self, config: ContextModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ContextModelConfig()
        config.validate()  # a hyperprior's 4 x 4 latent grid, slices adding up, ...
        n, m = config.channels, config.latent_channels
        self.encoder = analysis_transform(n, m, tuple(config.encoder_blocks))
        self.generator = synthesis_transform(n, m, tuple(config.generator_blocks))
        # Start each level where high-rate theory puts it: the step in the
        # encoder's units shrinks as 1/sqrt(lambda).
        lams = torch.tensor(config.level_lambdas)
        log_gain = math.log(4.0) + 0.5 * torch.log(lams / lams[config.levels // 2])
        self.log_gain_enc = nn.Parameter(log_gain[:, None].repeat(1, m).clone())
        self.log_gain_dec = nn.Parameter(-log_gain[:, None].repeat(1, m).clone())
        self.prior = ContextPrior(
            latent_channels=m, slices=config.slices, grid=config.latent_shape[1],
            hidden=config.context_hidden, position_channels=config.position_channels,
            hyper_channels=config.hyper_channels, hyper_hidden=config.hyper_hidden,
        )

    def lam(self, position: torch.Tensor) -> torch.Tensor:
        """``lambda`` at rate positions (log-linear between the config's trained levels)."""
        log_lam = torch.log(torch.tensor(self.config.level_lambdas, dtype=torch.float32))
        i, t = split_position(position, self.config.levels)
        return torch.exp(torch.lerp(log_lam[i], log_lam[i + 1], t))

    def gains(self, position: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder and decoder gains ``(N, M, 1, 1)`` at rate positions ``(N,)``."""
        i, t = split_position(position, self.config.levels)
        t = t[:, None]
        enc = torch.exp(torch.lerp(self.log_gain_enc[i], self.log_gain_enc[i + 1], t))
        dec = torch.exp(torch.lerp(self.log_gain_dec[i], self.log_gain_dec[i + 1], t))
        return enc[:, :, None, None], dec[:, :, None, None]

    def analyse(self, x: torch.Tensor) -> torch.Tensor:
        """Unscaled latent ``y_u`` of images in [0, 1] (float32)."""
        return self.encoder(x * 2.0 - 1.0).float()

    def synthesise(self, y_hat: torch.Tensor, dec_gain: torch.Tensor) -> torch.Tensor:
        """Image in [0, 1] (unclamped) from decoded integers ``y_hat`` (float)."""
        return self.generator(y_hat * dec_gain).float() * 0.5 + 0.5

    def reconstruct(self, guess: Guess) -> torch.Tensor:
        """The image of a :meth:`guess`: :meth:`synthesise` of its latent at its gains.

        What validation, the rate search and the benchmarks decode a guess
        with, whatever latents the model's guess holds.
        """
        return self.synthesise(guess.q, guess.dec_gain)

    @torch.no_grad()
    def guess(self, y_u: torch.Tensor, position: torch.Tensor) -> Guess:
        """The encoder's rounded guess of unscaled latents ``y_u`` at rate positions ``(N,)``.

        ``y_u`` is :meth:`analyse`'s output, which does not depend on the rate:
        analyse once, guess at as many rates as needed. The one definition of
        the guess, shared by the encoder (rate search, refinement's start),
        training's validation and the benchmarks; its bits are bit-exact
        from call to call, and encoded files depend on them.
        """
        enc_gain, dec_gain = self.gains(position)
        q = torch.round(y_u * enc_gain)
        z = features = None
        bits = torch.zeros(y_u.shape[0])
        if self.config.hyper_channels:
            z = self.prior.hyper_symbols(y_u, position)
            features = self.prior.hyper_features(z)
            bits = bits + self.prior.hyper_rate_bits(z)
        bits = bits + self.prior.rate_bits(q, q, enc_gain, position, features)
        return Guess(q, z, features, bits, enc_gain, dec_gain)

    def forward(self, x: torch.Tensor, position: torch.Tensor, *,
                autocast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: ``(x_hat, rate_bits)`` for images ``x`` at rate positions ``(N,)``.

        The rate is the information content of ``y`` plus uniform noise (a
        differentiable stand-in for rounding); the generator and the context
        see the rounded ``y`` (straight-through), which is what they will be
        given when decoding. With ``autocast`` the transforms run in bfloat16;
        the entropy model always runs in float32, where small probabilities
        keep their precision.
        """
        enc_gain, dec_gain = self.gains(position)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            y_u = self.analyse(x)
        y = y_u * enc_gain
        y_hat = round_ste(y)
        noisy = y + torch.rand_like(y) - 0.5
        features = None
        rate = y.new_zeros(y.shape[0])
        if self.config.hyper_channels:
            z = self.prior.analyse_hyper(y_u, position).clamp(*symbol_range(HYPER_BITS))
            rate = rate + self.prior.hyper_rate_bits(z + torch.rand_like(z) - 0.5)
            features = self.prior.hyper_features(round_ste(z))
        rate = rate + self.prior.rate_bits(noisy, y_hat, enc_gain, position, features)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            x_hat = self.synthesise(y_hat, dec_gain)
        return x_hat, rate
