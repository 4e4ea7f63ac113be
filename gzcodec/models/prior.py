"""The learned prior over quantized latents: what the entropy coder codes under.

Each latent channel has, for each rate level, its own mixture of logistics.
Probabilities are always those of *bins*: a latent quantized with step ``s``
to the integer ``q`` stands for the interval ``[(q - 1/2) s, (q + 1/2) s)``,
and the two outermost symbols of a ``bits``-bit range also take the tails, so
that the masses of all ``2**bits`` symbols sum to one. The same function gives
the differentiable rate used in training and the tables the ANS coder uses.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .quantization import symbol_range

__all__ = ["LogisticMixturePrior"]


class LogisticMixturePrior(nn.Module):
    """Per-level, per-channel mixture of ``components`` logistic distributions."""

    def __init__(self, levels: int, channels: int, components: int = 3) -> None:
        super().__init__()
        spread = torch.linspace(-1.0, 1.0, components)
        self.loc = nn.Parameter(spread.repeat(levels, channels, 1).clone())
        self.log_scale = nn.Parameter(torch.zeros(levels, channels, components))
        self.logit_weight = nn.Parameter(torch.zeros(levels, channels, components))

    def _cdf(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Mixture CDF of ``x`` shaped ``(..., C, H, W)`` at one rate level."""
        loc = self.loc[level][:, None, None, :]
        scale = torch.exp(self.log_scale[level]).clamp_min(1e-3)[:, None, None, :]
        weight = torch.softmax(self.logit_weight[level], dim=-1)[:, None, None, :]
        return (torch.sigmoid((x.unsqueeze(-1) - loc) / scale) * weight).sum(-1)

    def bin_likelihood(
        self, y: torch.Tensor, *, level: int, step: float, bits: int
    ) -> torch.Tensor:
        """Probability of the bin of width ``step`` centred on each value of ``y``.

        ``y`` is in latent units (not divided by the step) and shaped
        ``(N, C, H, W)``; the mixture itself is over symbol units ``y / step``.
        Values at the edges of the ``bits``-bit range own the tails. The
        result is clamped away from zero so that ``log`` stays finite.
        """
        lo_sym, hi_sym = symbol_range(bits)
        # The mixture lives in symbol units (latent / step): every level starts
        # at the same unit scale and learns at the same relative speed.
        u = y / step
        upper = self._cdf(u + 0.5, level)
        lower = self._cdf(u - 0.5, level)
        q = torch.round(u)
        upper = torch.where(q >= hi_sym, torch.ones_like(upper), upper)
        lower = torch.where(q <= lo_sym, torch.zeros_like(lower), lower)
        return (upper - lower).clamp_min(1e-9)

    def rate_bits(self, y: torch.Tensor, *, level: int, step: float, bits: int) -> torch.Tensor:
        """Total information content in bits of ``y``, per image: shape ``(N,)``."""
        p = self.bin_likelihood(y, level=level, step=step, bits=bits)
        return -torch.log(p).sum(dim=(1, 2, 3)) / math.log(2.0)

    @torch.no_grad()
    def pmf_table(self, *, level: int, bits: int) -> torch.Tensor:
        """Probabilities of every symbol, shape ``(C, 2**bits)``, float64."""
        lo, hi = symbol_range(bits)
        symbols = torch.arange(lo, hi + 1, dtype=torch.float64)
        c = self.loc.shape[1]
        edges = torch.cat([symbols - 0.5, symbols[-1:] + 0.5]).view(1, 1, -1)
        edges = edges.expand(c, 1, -1)
        old = self.loc.dtype
        self.double()
        try:
            cdf = self._cdf(edges, level)[:, 0, :]
        finally:
            self.to(old)
        cdf[:, 0] = 0.0
        cdf[:, -1] = 1.0
        return (cdf[:, 1:] - cdf[:, :-1]).clamp_min(0.0)
