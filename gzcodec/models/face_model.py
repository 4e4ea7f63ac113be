"""The face model: an encoder, a generator and a prior over a small latent grid.

The generator ``G`` turns a ``C x h x w`` latent grid into an image; the encoder
``E`` gives the starting point of the reversal (``z0 = E(x)``), which the
reversal loop in :mod:`gzcodec.reversal` then refines so that ``G(q(z))``
matches the image. Both were trained together, with the prior, to minimise
``rate + lambda * distortion`` at every rate level, so that real faces lie in
the generator's range at every precision a user may ask for.

Rate levels. ``--bits b`` quantizes the latent to ``b``-bit signed integers
with the step ``latent_range / 2**(b-1)``. Each level ``b`` in
``config.level_bits`` has its own per-channel gain on each side (a "gain
unit", Cui et al. 2021) and its own prior, so a single network serves the whole
ladder. Precisions above the top trained level reuse its gains and prior.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig
from .layers import analysis_transform, synthesis_transform
from .prior import LogisticMixturePrior
from .quantization import quantize, quantize_ste, symbol_range

# quantize and quantize_ste live in .quantization, shared by both networks; kept importable here.
__all__ = ["ModelConfig", "FaceModel", "quantize", "quantize_ste"]


class FaceModel(nn.Module):
    """Encoder, generator, gains and prior of one gzcodec model."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        n, c = config.channels, config.latent_channels
        self.encoder = analysis_transform(n, c)
        self.generator = synthesis_transform(n, c)
        levels = len(config.level_bits)
        # Start each level where rate-distortion theory puts it: the effective
        # step in the encoder's units shrinks as 1/sqrt(lambda) (high-rate
        # approximation), around a unit step at the middle level.
        lam_mid = config.level_lambdas[levels // 2]
        log_gain = torch.tensor([
            math.log(config.step(b)) + 0.5 * math.log(lam / lam_mid)
            for b, lam in zip(config.level_bits, config.level_lambdas, strict=True)
        ])
        self.log_gain_enc = nn.Parameter(log_gain[:, None].repeat(1, c).clone())
        self.log_gain_dec = nn.Parameter(-log_gain[:, None].repeat(1, c).clone())
        self.prior = LogisticMixturePrior(levels, c, config.mixture_components)

    def encode_latent(self, x: torch.Tensor, bits: int) -> torch.Tensor:
        """Encoder's guess of the latent (continuous, latent units) for images in [0, 1]."""
        gain = torch.exp(self.log_gain_enc[self.config.level(bits)])
        return self.encoder(x * 2.0 - 1.0) * gain[None, :, None, None]

    def generate(self, latent: torch.Tensor, bits: int) -> torch.Tensor:
        """Image in [0, 1] (unclamped) from a dequantized latent."""
        gain = torch.exp(self.log_gain_dec[self.config.level(bits)])
        return self.generator(latent * gain[None, :, None, None]) * 0.5 + 0.5

    def rate_bits(self, latent: torch.Tensor, bits: int) -> torch.Tensor:
        """Differentiable rate (bits per image) of ``latent`` quantized at ``bits``."""
        return self.prior.rate_bits(
            latent, level=self.config.level(bits), step=self.config.step(bits), bits=bits
        )

    def clip(self, latent: torch.Tensor, bits: int) -> torch.Tensor:
        """Clamp to the values representable by ``bits``-bit symbols."""
        step = self.config.step(bits)
        lo, hi = symbol_range(bits)
        return latent.clamp(lo * step, hi * step)
