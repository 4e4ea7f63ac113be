"""The enhancement latent's entropy model: a Gaussian conditioned on the decoded base latent.

The enhancement latent ``e`` (:mod:`gzcodec.models.enhancement`) sits on a grid
twice as fine as the base latent ``q`` and is coded after it, so everything
that predicts it may read ``q``:

- **base**: ``q`` in the encoder's unscaled units (``q / g_enc``, as the base
  context model reads its earlier slices), upsampled to ``e``'s grid by a
  stride-2 transposed convolution, beside a learned embedding of ``e``'s
  positions and the rate position, through one 3 x 3 layer: the *features*;
- **checkerboard** (optional; He et al. 2021): ``e`` is coded in two halves,
  the *anchors* (``(i + j)`` even) predicted from the features alone, then the
  rest predicted from the features and the decoded anchors, read by a 3 x 3
  convolution that sees only the four anchors next to each element. The
  layers after the features are 1 x 1, so an anchor's prediction never
  depends on what is decoded after it.

Means and scales are predicted in unscaled units and multiplied by ``e``'s
encoder gain, so that one network serves every rate. The coder
(:mod:`gzcodec.models.enhancement_coding`) runs a float64 copy of this model
on the decoded integers and snaps its output to the Gaussian tables of
:mod:`gzcodec.models.gaussian`, as the base context model's coder does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .gaussian import bin_likelihood

__all__ = ["EnhancementPrior", "INITIAL_LOG_SCALE", "anchor_mask"]

#: The log-scale (unscaled units) a new prior predicts everywhere: just above the smallest
#: scale (0.11; below it the likelihood is clamped and the scale would learn nothing), where
#: the zeros a new enhancement latent holds cost ~3e-4 bits each at gain 1.
INITIAL_LOG_SCALE = -2.0

#: The 3 x 3 neighbours of an element that are anchors when it is not: up, down, left, right.
_NEIGHBOURS = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def anchor_mask(grid: int) -> torch.Tensor:
    """``(grid, grid)`` bool: the checkerboard's anchors, the elements with ``i + j`` even.

    >>> anchor_mask(3).int().tolist()
    [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    """
    i = torch.arange(grid)
    return (i[:, None] + i[None, :]) % 2 == 0


class EnhancementPrior(nn.Module):
    """Mean-scale Gaussian entropy model of the enhancement latent given the base latent.

    Parameters
    ----------
    latent_channels : int
        Channels of the base latent.
    channels : int
        Channels of the enhancement latent.
    grid : int
        Side of the enhancement latent's grid (twice the base latent's).
    hidden : int
        Width of the network.
    position_channels : int
        Channels of the learned position embedding.
    checkerboard : bool
        Code in two checkerboard halves, the second predicted from the first too.
    """

    def __init__(self, *, latent_channels: int, channels: int, grid: int, hidden: int,
                 position_channels: int, checkerboard: bool) -> None:
        super().__init__()
        self.checkerboard = checkerboard
        self.position = nn.Parameter(0.1 * torch.randn(position_channels, grid, grid))
        self.upsample = nn.ConvTranspose2d(latent_channels, hidden, 4, stride=2, padding=1)
        self.trunk = nn.Sequential(nn.Conv2d(hidden + position_channels + 1, hidden, 3, padding=1),
                                   nn.GELU())
        context = 0
        if checkerboard:
            context = hidden
            self.context = nn.Conv2d(channels, hidden, 3, padding=1)
            # Not stored in weights files: they follow from the grid.
            self.register_buffer("context_mask", _NEIGHBOURS.clone(), persistent=False)
            self.register_buffer("anchors", anchor_mask(grid), persistent=False)
        self.head = nn.Sequential(nn.Conv2d(hidden + context, hidden, 1), nn.GELU(),
                                  nn.Conv2d(hidden, 2 * channels, 1))
        # Start certain of e = 0 (mean 0, the smallest scale), where a new enhancement starts.
        nn.init.zeros_(self.head[-1].weight)
        nn.init.constant_(self.head[-1].bias[channels:], INITIAL_LOG_SCALE)
        nn.init.zeros_(self.head[-1].bias[:channels])

    def passes(self) -> list[torch.Tensor]:
        """The elements of each coding pass, in order: ``(grid, grid)`` bool masks."""
        if not self.checkerboard:
            return [torch.ones_like(self.position[0], dtype=torch.bool)]
        return [self.anchors, ~self.anchors]

    def features(self, base: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """What every pass reads, of the unscaled decoded base latent ``(N, M, h, w)`` at rate
        positions ``(N,)``."""
        up = F.gelu(self.upsample(base))
        n, side = up.shape[0], up.shape[-1]
        parts = [up, self.position.expand(n, -1, -1, -1).to(up.dtype),
                 position.view(-1, 1, 1, 1).expand(n, 1, side, side).to(up.dtype)]
        return self.trunk(torch.cat(parts, dim=1))

    def params(self, features: torch.Tensor, known: torch.Tensor | None,
               gain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and scales (scaled units) of every element.

        ``known`` is the unscaled enhancement latent decoded so far (only its
        anchors are read); ``None`` in the first pass. ``gain`` is the
        enhancement's encoder gain, ``(N, E, 1, 1)``.
        """
        inp = features
        if self.checkerboard:
            if known is None:
                anchors = features.new_zeros(features.shape[0], self.context.in_channels,
                                             *features.shape[-2:])
            else:
                anchors = known * self.anchors
            context = F.conv2d(anchors, self.context.weight * self.context_mask, self.context.bias,
                               padding=1)
            inp = torch.cat([features, context], dim=1)
        mean_u, log_scale_u = self.head(inp).chunk(2, dim=1)
        return mean_u * gain, torch.exp(log_scale_u.clamp(-12.0, 8.0)) * gain

    def rate_bits(self, e: torch.Tensor, e_hat: torch.Tensor, base: torch.Tensor, gain: torch.Tensor,
                  position: torch.Tensor) -> torch.Tensor:
        """Bits per image of ``e`` (noisy or rounded), the second pass predicted from ``e_hat``.

        ``base`` is the unscaled decoded base latent; both passes are evaluated
        at once, each from what a decoder will have when it comes to it.
        """
        features = self.features(base, position)
        mean, scale = self.params(features, None, gain)
        if self.checkerboard:
            mean1, scale1 = self.params(features, e_hat / gain, gain)
            mean = torch.where(self.anchors, mean, mean1)
            scale = torch.where(self.anchors, scale, scale1)
        p = bin_likelihood(e, mean, scale)
        return -torch.log(p).sum(dim=(1, 2, 3)) / math.log(2.0)
