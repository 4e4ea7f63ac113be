"""The realism decoder: a model's generator, conditioned on a realism weight β.

One bitstream, two ways to see it (Agustsson et al., *Multi-Realism Image
Compression with a Conditional Generator*, CVPR 2023): the fidelity decode
is the base model's generator, unchanged; the realistic one is this copy of
it, trained against a discriminator (:mod:`gzcodec.models.discriminator`) for
β > 0 while the encoder and the entropy model stay frozen, so every file of
the base model decodes both ways.

The layers are the base generator's (:func:`~gzcodec.models.layers.synthesis_transform`,
same names, initialised from its weights). β enters cheaply, after each
inverse GDN:

* a per-channel scale and shift (FiLM, Perez et al. 2018) from a small MLP
  of β whose last layer starts at zero, so a new decoder is the base
  generator exactly;
* optionally noise, one image per stage broadcast to its channels, scaled by
  β and by a learned per-channel gain that starts at zero (StyleGAN's noise
  inputs): fresh noise in training; when decoding, noise drawn from a
  generator seeded by the file's latent (:func:`latent_seed`), so the same
  file and β always give the same image.

Examples
--------
>>> import torch
>>> from gzcodec.models.config import RealismConfig
>>> decoder = RealismGenerator(RealismConfig(channels=8, latent_channels=4))
>>> decoder(torch.zeros(1, 4, 2, 2), torch.ones(1), noise_seeds=[0]).shape
torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from .config import RealismConfig
from .layers import GDN, synthesis_transform

__all__ = ["RealismGenerator", "latent_seed"]


def latent_seed(symbols: np.ndarray) -> int:
    """The noise seed of a file's latent: the first 8 bytes of the SHA-256 of its integers (int64 LE).

    >>> latent_seed(np.zeros(4, dtype=np.int64)) == latent_seed(np.zeros(4, dtype=np.int32))
    True
    """
    data = np.ascontiguousarray(symbols, dtype="<i8").tobytes()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "little") >> 1


class RealismGenerator(nn.Module):
    """The base generator's layers, with β-conditioned scales, shifts and noise after each inverse GDN.

    Parameters
    ----------
    config : RealismConfig
        The shape of the base generator, the β network's width, whether to add noise.
    """

    def __init__(self, config: RealismConfig) -> None:
        super().__init__()
        self.config = config
        n = config.channels
        self.layers = synthesis_transform(n, config.latent_channels, tuple(config.generator_blocks))
        self.points = sum(isinstance(layer, GDN) for layer in self.layers)
        self.beta_film = nn.Sequential(nn.Linear(1, config.beta_hidden), nn.GELU(),
                                       nn.Linear(config.beta_hidden, 2 * self.points * n))
        # Zero: a new decoder is its base generator at every beta.
        nn.init.zeros_(self.beta_film[-1].weight)
        nn.init.zeros_(self.beta_film[-1].bias)
        self.noise_gain = nn.Parameter(torch.zeros(self.points, n)) if config.noise else None

    @classmethod
    def from_generator(cls, config: RealismConfig, generator: nn.Module) -> RealismGenerator:
        """A new decoder whose layers start as ``generator``'s (the base model's, of the same shape)."""
        decoder = cls(config)
        decoder.layers.load_state_dict(generator.state_dict())
        return decoder

    def forward(self, latent: torch.Tensor, beta: torch.Tensor, *,
                noise_seeds: list[int] | None = None) -> torch.Tensor:
        """Images in [0, 1] (unclamped) of decoder inputs ``latent`` (``q * dec_gain``) at realism ``beta``.

        Parameters
        ----------
        latent : torch.Tensor
            ``(N, M, h, w)``: the integers times the decoder gains, what the
            base generator takes.
        beta : torch.Tensor
            ``(N,)`` realism weights in [0, 1].
        noise_seeds : list of int, optional
            One seed per image for the noise (decoding); fresh noise if not
            given (training).
        """
        n = latent.shape[0]
        beta = beta.reshape(n, 1).to(torch.float32)
        film = self.beta_film(beta).view(n, self.points, 2, self.config.channels)
        generators = (None if noise_seeds is None
                      else [torch.Generator().manual_seed(int(s)) for s in noise_seeds])
        h, point = latent, 0
        for layer in self.layers:
            h = layer(h)
            if isinstance(layer, GDN):
                h = self._condition(h, film[:, point], beta, point, generators)
                point += 1
        return h.float() * 0.5 + 0.5

    def _condition(self, h: torch.Tensor, film: torch.Tensor, beta: torch.Tensor, point: int,
                   generators: list[torch.Generator] | None) -> torch.Tensor:
        """``h`` scaled and shifted per channel by ``film`` (``(N, 2, C)``), plus β-scaled noise."""
        film = film.to(h.dtype)  # bfloat16 under autocast: no float32 copy of the activations
        h = torch.addcmul(film[:, 1, :, None, None], h, 1 + film[:, 0, :, None, None])
        if self.noise_gain is None:
            return h
        # One noise image per stage, broadcast to every channel by its gain (StyleGAN's noise
        # inputs): 1/C of the random numbers of per-channel noise, which were most of a step.
        shape = (1, h.shape[-2], h.shape[-1])
        if generators is None:
            noise = torch.randn((h.shape[0], *shape))
        else:  # drawn image by image in a fixed order: the same on any thread count
            noise = torch.stack([torch.randn(shape, generator=g) for g in generators])
        gain = self.noise_gain[point][None, :, None, None].to(h.dtype)
        return torch.addcmul(h, (beta[:, :, None, None] * noise).to(h.dtype), gain)
