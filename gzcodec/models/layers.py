"""Small building blocks shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GDN", "analysis_transform", "synthesis_transform"]


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al., 2016).

    ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij * x_j**2)``; with ``inverse=True`` it
    multiplies instead, which is the usual choice on the synthesis side. GDN
    gaussianises the activations of natural images at a fraction of the cost of
    a deep stack of ReLU layers, which matters when we train on two CPU cores.

    ``beta`` and ``gamma`` are kept non-negative through a softplus
    reparametrisation, so that the denominator never reaches zero.
    """

    def __init__(self, channels: int, *, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        # softplus(0.5413) == 1.0 and softplus(-2.25) ~= 0.1: start close to identity.
        self.beta_raw = nn.Parameter(torch.full((channels,), 0.5413))
        gamma = torch.full((channels, channels), -10.0)
        gamma.fill_diagonal_(-2.25)
        self.gamma_raw = nn.Parameter(gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = F.softplus(self.beta_raw) + 1e-6
        gamma = F.softplus(self.gamma_raw)
        c = gamma.shape[0]
        norm = F.conv2d(x * x, gamma.view(c, c, 1, 1), beta)
        norm = torch.sqrt(norm)
        return x * norm if self.inverse else x / norm


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=5, stride=2, padding=2)


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel_size=5, stride=2, padding=2, output_padding=1)


def analysis_transform(channels: int, latent_channels: int) -> nn.Sequential:
    """Image (3 channels) to latent: four 5x5 stride-2 convolutions with GDN between them."""
    n = channels
    return nn.Sequential(
        _conv(3, n), GDN(n), _conv(n, n), GDN(n), _conv(n, n), GDN(n), _conv(n, latent_channels)
    )


def synthesis_transform(channels: int, latent_channels: int) -> nn.Sequential:
    """Latent to image: the mirror of :func:`analysis_transform`, with inverse GDN."""
    n = channels
    return nn.Sequential(
        _deconv(latent_channels, n), GDN(n, inverse=True), _deconv(n, n), GDN(n, inverse=True),
        _deconv(n, n), GDN(n, inverse=True), _deconv(n, 3),
    )
