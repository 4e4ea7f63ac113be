"""Small building blocks shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GDN", "ResidualBlock", "analysis_transform", "synthesis_transform"]


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


class ResidualBlock(nn.Module):
    """``x + conv(gelu(conv(x)))``: two 3x3 convolutions on a residual path (He et al. 2016).

    The second convolution starts at zero, so a block added to a trained
    transform leaves its function unchanged: a model grown from a smaller one
    starts where that one ended (Cheng et al. 2020 use such blocks between the
    strided layers of both transforms).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(x)))


def _blocks(channels: int, count: int) -> list[nn.Module]:
    return [ResidualBlock(channels) for _ in range(count)]


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=5, stride=2, padding=2)


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel_size=5, stride=2, padding=2, output_padding=1)


def analysis_transform(channels: int, latent_channels: int,
                       blocks: tuple[int, int, int, int] = (0, 0, 0, 0)) -> nn.Sequential:
    """Image (3 channels) to latent: four 5x5 stride-2 convolutions with GDN between them.

    ``blocks`` counts the :class:`ResidualBlock` after each convolution, from
    the finest grid (64 x 64 for 128-px images) to the latent's (8 x 8); with
    none, the layers and their indices are those of the v1 and v2 models.
    """
    n = channels
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate([(3, n), (n, n), (n, n), (n, latent_channels)]):
        layers.append(_conv(cin, cout))
        if i < 3:
            layers += [*_blocks(cout, blocks[i]), GDN(cout)]
        else:
            layers += _blocks(cout, blocks[i])
    return nn.Sequential(*layers)


def synthesis_transform(channels: int, latent_channels: int,
                        blocks: tuple[int, int, int, int] = (0, 0, 0, 0), *,
                        widths: tuple[int, int] | None = None) -> nn.Sequential:
    """Latent to image: the mirror of :func:`analysis_transform`, with inverse GDN.

    ``blocks`` counts the :class:`ResidualBlock` before each transposed
    convolution, from the latent's grid (8 x 8) to the finest (64 x 64).
    ``widths`` are the channels of the second and third grids (16 and 32 px
    for 128-px images; by default ``channels``), where width is cheap; the
    layers and their indices are the same whatever the widths.
    """
    n = channels
    a, b = widths or (n, n)
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate([(latent_channels, a), (a, b), (b, n), (n, 3)]):
        if i:
            layers.append(GDN(cin, inverse=True))
        layers += [*_blocks(cin, blocks[i]), _deconv(cin, cout)]
    return nn.Sequential(*layers)
