"""The context entropy model of the v2 models: what the coder codes each latent element under.

Faces are aligned and the latent grid is only 8 x 8, so the model spends its
capacity on *context* rather than on side information:

- **channel slices** (Minnen & Singh 2020): the latent's channels are split
  into a few slices, coded one after the other; the mean and scale of every
  element of slice ``k`` are predicted from all elements of slices ``< k``, at
  every position of the grid (an 8 x 8 grid is small enough for a 3 x 3 net to
  see the whole face in two layers);
- **position**: a learned embedding of the 8 x 8 positions enters every slice's
  prediction, so the first slice is not coded under one distribution for the
  eyes and the background alike;
- **rate**: the continuous rate position enters too, since the statistics of
  a coarsely quantized latent differ from those of a finely quantized one;
- optionally a small **hyperprior** ``z`` (2 x 2 positions), coded first
  under a factorized prior, whose features join every slice's input.

The model works in the *unscaled* latent domain: slice nets read the decoded
symbols divided by the encoder gain and predict means and scales that are then
multiplied by it, so one network serves every rate point.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .gaussian import bin_likelihood
from .prior import LogisticMixturePrior
from .quantization import symbol_range

__all__ = ["ContextPrior", "HYPER_BITS"]

#: The hyper-latent ``z`` is coded as integers in ``[-2**(HYPER_BITS-1), 2**(HYPER_BITS-1) - 1]``.
HYPER_BITS = 6


def _slice_net(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, hidden, 3, padding=1), nn.GELU(),
        nn.Conv2d(hidden, hidden, 3, padding=1), nn.GELU(),
        nn.Conv2d(hidden, 2 * cout, 1),
    )


class ContextPrior(nn.Module):
    """Channel-slice + position (+ optional hyperprior) Gaussian context model.

    Parameters
    ----------
    latent_channels : int
        Channels ``M`` of the latent.
    slices : tuple of int
        Channels per slice, summing to ``M``; coded in this order.
    grid : int
        Side of the latent grid (8 for 128 x 128 images).
    hidden : int
        Width of each slice's network.
    position_channels : int
        Channels of the learned position embedding.
    hyper_channels : int
        Channels of the hyper-latent ``z``; 0 for none.
    hyper_hidden : int
        Width of the hyperprior's analysis and synthesis networks.
    """

    def __init__(self, *, latent_channels: int, slices: tuple[int, ...], grid: int, hidden: int,
                 position_channels: int, hyper_channels: int, hyper_hidden: int = 96) -> None:
        super().__init__()
        if sum(slices) != latent_channels:
            raise ValueError(f"slices {slices} do not add up to {latent_channels} channels")
        self.slices = tuple(slices)
        self.position = nn.Parameter(0.1 * torch.randn(position_channels, grid, grid))
        self.hyper_channels = hyper_channels
        features = 0
        if hyper_channels:
            features, h = 64, hyper_hidden
            self.hyper_analysis = nn.Sequential(
                nn.Conv2d(latent_channels + 1, h, 3, padding=1), nn.GELU(),
                nn.Conv2d(h, h, 5, stride=2, padding=2), nn.GELU(),
                nn.Conv2d(h, hyper_channels, 5, stride=2, padding=2),
            )
            self.hyper_synthesis = nn.Sequential(
                nn.ConvTranspose2d(hyper_channels, h, 5, stride=2, padding=2, output_padding=1),
                nn.GELU(),
                nn.ConvTranspose2d(h, h, 5, stride=2, padding=2, output_padding=1), nn.GELU(),
                nn.Conv2d(h, features, 3, padding=1),
            )
            self.hyper_prior = LogisticMixturePrior(1, hyper_channels, 3)
        self.nets = nn.ModuleList()
        done = 0
        for width in self.slices:
            self.nets.append(_slice_net(position_channels + 1 + features + done, hidden, width))
            done += width

    # -- pieces shared by training and coding -------------------------------------------

    def _common(self, batch: int, position: torch.Tensor,
                hyper_features: torch.Tensor | None) -> torch.Tensor:
        """Inputs every slice sees: position embedding, rate position, hyper features."""
        grid = self.position.shape[-1]
        parts = [
            self.position.expand(batch, -1, -1, -1),
            position.view(-1, 1, 1, 1).expand(batch, 1, grid, grid).to(self.position.dtype),
        ]
        if hyper_features is not None:
            parts.append(hyper_features)
        return torch.cat(parts, dim=1)

    def slice_params(self, k: int, common: torch.Tensor, previous: torch.Tensor | None,
                     gain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and scales (latent units) of slice ``k`` from the decoded slices before it.

        ``previous`` holds the decoded symbols of slices ``< k`` (``None`` for
        ``k = 0``); ``gain`` is the encoder gain of all channels, ``(N, M, 1, 1)``.
        """
        start = sum(self.slices[:k])
        width = self.slices[k]
        inp = common if previous is None else torch.cat([common, previous / gain[:, :start]], dim=1)
        mean_u, log_scale_u = self.nets[k](inp).chunk(2, dim=1)
        g = gain[:, start:start + width]
        return mean_u * g, torch.exp(log_scale_u.clamp(-12.0, 8.0)) * g

    def hyper_features(self, z_hat: torch.Tensor) -> torch.Tensor:
        return self.hyper_synthesis(z_hat)

    def analyse_hyper(self, y_unscaled: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """The continuous hyper-latent ``z`` of an unscaled latent at a rate position."""
        n, _, h, w = y_unscaled.shape
        pmap = position.view(-1, 1, 1, 1).expand(n, 1, h, w).to(y_unscaled.dtype)
        return self.hyper_analysis(torch.cat([y_unscaled, pmap], dim=1))

    def hyper_symbols(self, y_unscaled: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """The hyper-latent an encoder stores: :meth:`analyse_hyper` rounded, within ``HYPER_BITS``.

        Integers (as floats) in ``[-2**(HYPER_BITS-1), 2**(HYPER_BITS-1) - 1]``.
        """
        return torch.round(self.analyse_hyper(y_unscaled, position)).clamp(*symbol_range(HYPER_BITS))

    def hyper_rate_bits(self, z: torch.Tensor) -> torch.Tensor:
        """Information content (bits per image) of ``z`` under the factorized hyperprior."""
        return self.hyper_prior.rate_bits(z, level=0, step=1.0, bits=HYPER_BITS)

    # -- training ------------------------------------------------------------------------

    def rate_bits(self, y: torch.Tensor, y_hat: torch.Tensor, gain: torch.Tensor,
                  position: torch.Tensor, hyper_features: torch.Tensor | None) -> torch.Tensor:
        """Bits per image of ``y`` (noisy or rounded), every slice predicted from ``y_hat``.

        All slices are evaluated at once: each one's context is the *decoded*
        ``y_hat`` of the slices before it, exactly what a decoder will have.
        """
        common = self._common(y.shape[0], position, hyper_features)
        bits = y.new_zeros(y.shape[0])
        start = 0
        for k, width in enumerate(self.slices):
            previous = y_hat[:, :start] if start else None
            mean, scale = self.slice_params(k, common, previous, gain)
            p = bin_likelihood(y[:, start:start + width], mean, scale)
            bits = bits - torch.log(p).sum(dim=(1, 2, 3)) / math.log(2.0)
            start += width
        return bits

