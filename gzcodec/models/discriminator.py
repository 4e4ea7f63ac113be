"""The discriminator that trains a realism decoder: conditional on the latent, patch-wise, spectral-norm.

As HiFiC's (Mentzer et al., *High-Fidelity Generative Image Compression*,
NeurIPS 2020): the decoded latent, projected to a few channels by a 1x1
convolution and upsampled (nearest) to the image's size, is concatenated to
the image, so the discriminator judges "is this a real face *for this
latent*", which keeps a realistic decode the face the file holds. Each
convolution is spectrally normalised (Miyato et al. 2018), and the
discriminator runs on the image and on it halved (``scales``), each head
giving a grid of logits (a patch discriminator) and the activations that
feature matching compares (Wang et al. 2018, pix2pixHD). Trained from
scratch: no pretrained network is used anywhere.

Examples
--------
>>> import torch
>>> d = ConditionalDiscriminator(4, channels=8)
>>> [(logits.shape, len(features)) for logits, features in d(torch.zeros(2, 3, 32, 32),
...                                                          torch.zeros(2, 4, 2, 2))]
[(torch.Size([2, 1, 2, 2]), 4), (torch.Size([2, 1, 1, 1]), 4)]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["ConditionalDiscriminator"]

_SLOPE = 0.2  # leaky ReLU, as in HiFiC and pix2pixHD


def _conv(cin: int, cout: int, kernel: int, stride: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2
                                   if stride == 1 else 1))


class _PatchHead(nn.Module):
    """Four 4x4 stride-2 convolutions (``channels`` doubling) and a 1x1 to one logit per patch."""

    def __init__(self, cin: int, channels: int) -> None:
        super().__init__()
        widths = [cin, channels, 2 * channels, 4 * channels, 8 * channels]
        self.convs = nn.ModuleList(_conv(a, b, 4, 2) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.out = _conv(widths[-1], 1, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _SLOPE)
            features.append(x)
        return self.out(x).float(), features


class ConditionalDiscriminator(nn.Module):
    """Patch discriminator of (image, latent) pairs on ``scales`` scales.

    Parameters
    ----------
    latent_channels : int
        Channels of the decoder input it is conditioned on.
    channels : int
        Width of the first convolution of each head (doubling after each).
    scales : int
        Heads: the image, then halved (average pooling) for each further one.
    latent_features : int
        Channels the latent is projected to before upsampling (HiFiC: 12).
    """

    def __init__(self, latent_channels: int, *, channels: int = 32, scales: int = 2,
                 latent_features: int = 12) -> None:
        super().__init__()
        self.project = _conv(latent_channels, latent_features, 1, 1)
        self.heads = nn.ModuleList(_PatchHead(3 + latent_features, channels) for _ in range(scales))

    def forward(self, image: torch.Tensor, latent: torch.Tensor
                ) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        """Per scale, the logits ``(N, 1, h, w)`` and activations of ``image`` (in [0, 1]) by ``latent``."""
        condition = F.leaky_relu(self.project(latent), _SLOPE)
        x = image * 2 - 1
        out = []
        for k, head in enumerate(self.heads):
            if k:
                x = F.avg_pool2d(x, 2)
            upsampled = F.interpolate(condition, size=x.shape[-2:], mode="nearest")
            out.append(head(torch.cat([x, upsampled.to(x.dtype)], dim=1)))
        return out
