"""A hyperprior-context model with an enhancement latent and a wider generator (``face128-v3`` candidates).

The base is :class:`~gzcodec.models.context_model.ContextModel` unchanged: its
8 x 8 latent ``q``, gains, context model and transforms. On top of it:

- an **enhancement latent** ``e`` (``E x 16 x 16`` for 128-px images), made
  by an encoder branch from the encoder's 16-px features and the generator's
  own 16-px features of the decoded ``q`` (what the decoder will already
  have), scaled by per-level gains as ``q`` is, rounded, and coded after ``q``
  under :class:`~gzcodec.models.enhancement_prior.EnhancementPrior`;
- an **injection** of ``e`` into the generator's 16-px features (after the
  first inverse GDN), whose last convolution starts at zero, as does the
  encoder branch's (``e`` starts at zero, and costs nothing);
- a **rate gate**: rate positions below ``config.enhancement_level`` neither
  code nor compute ``e`` (training masks its rate and its injection there),
  so the low rates keep the base model's bytes and speed;
- optionally **wider** 16- and 32-px generator stages (``config.generator_widths``).

A model grown from a trained ``ContextModel`` (:func:`gzcodec.models.growth.enhance`)
computes exactly what that model computes until training moves the new parts.

Examples
--------
>>> from gzcodec.models.config import EnhancedModelConfig
>>> config = EnhancedModelConfig(image_size=32, channels=8, latent_channels=8, slices=(8,),
...                              hyper_channels=0, level_lambdas=(0.001, 0.01, 0.1),
...                              enhancement_channels=4, enhancement_level=1, enhancement_hidden=8)
>>> model = EnhancedModel(config).eval()
>>> x = torch.rand(2, 3, 32, 32)
>>> guess = model.guess(model.analyse(x), torch.tensor([0.0, 2.0]))
>>> guess.coded.tolist(), tuple(guess.e.shape)
([False, True], (2, 4, 4, 4))
>>> tuple(model.reconstruct(guess).shape)
(2, 3, 32, 32)
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import nn

from .config import EnhancedModelConfig
from .context_model import ContextModel, Guess, split_position
from .context_prior import HYPER_BITS
from .enhancement_prior import EnhancementPrior
from .layers import GDN, synthesis_transform
from .quantization import round_ste, symbol_range

__all__ = ["EnhancedAnalysis", "EnhancedGuess", "EnhancedModel"]


class EnhancedAnalysis(NamedTuple):
    """What :meth:`EnhancedModel.analyse` makes of images; does not depend on the rate.

    Attributes
    ----------
    y_u : torch.Tensor
        The base latent, unscaled ``(N, M, h, w)`` (a ``ContextModel``'s ``analyse``).
    features : torch.Tensor
        The encoder's features at twice the latent's grid ``(N, channels, 2h, 2w)``.
    """

    y_u: torch.Tensor
    features: torch.Tensor


@dataclasses.dataclass(frozen=True)
class EnhancedGuess(Guess):
    """:class:`~gzcodec.models.context_model.Guess` with the enhancement latent.

    ``bits`` counts both latents. The enhancement fields are ``None`` when no
    image of the batch codes it (every rate position below the gate).

    Attributes
    ----------
    coded : torch.Tensor
        ``(N,)`` bool: which images code the enhancement latent.
    e : torch.Tensor or None
        The rounded enhancement latent ``(N, E, 2h, 2w)``, zero where not coded.
    e_y : torch.Tensor or None
        The scaled enhancement latent ``e`` rounds (where refinement starts).
    e_enc_gain, e_dec_gain : torch.Tensor or None
        The enhancement's gains ``(N, E, 1, 1)``.
    """

    coded: torch.Tensor
    e: torch.Tensor | None
    e_y: torch.Tensor | None
    e_enc_gain: torch.Tensor | None
    e_dec_gain: torch.Tensor | None


def _after_gdn(seq: nn.Sequential, count: int) -> int:
    """The index just after the ``count``-th GDN of a transform: where its grid's features are."""
    seen = 0
    for i, layer in enumerate(seq):
        seen += isinstance(layer, GDN)
        if seen == count:
            return i + 1
    raise ValueError(f"the transform has fewer than {count} GDN layers")


def _interpolated(log_gains: torch.Tensor, position: torch.Tensor, levels: int) -> torch.Tensor:
    """Gains ``(N, C, 1, 1)`` at rate positions: log-linear between the levels' (as the base's)."""
    i, t = split_position(position, levels)
    return torch.exp(torch.lerp(log_gains[i], log_gains[i + 1], t[:, None]))[:, :, None, None]


class EnhancedModel(ContextModel):
    """A :class:`ContextModel` with a rate-gated enhancement latent and a wider generator."""

    config: EnhancedModelConfig

    def __init__(self, config: EnhancedModelConfig | None = None) -> None:
        config = config or EnhancedModelConfig()
        super().__init__(config)
        n, m = config.channels, config.latent_channels
        wide = config.widths[0]
        self.generator = synthesis_transform(n, m, tuple(config.generator_blocks), widths=config.widths)
        self._encoder_split = _after_gdn(self.encoder, 3)  # 16 px for 128-px images
        self._generator_split = _after_gdn(self.generator, 1)  # 16 px too
        e, h = config.enhancement_channels, config.enhancement_hidden
        if not e:
            return
        self.enhancement_encoder = nn.Sequential(nn.Conv2d(n + wide, h, 3, padding=1), nn.GELU(),
                                                 nn.Conv2d(h, e, 3, padding=1))
        self.enhancement_injection = nn.Sequential(nn.Conv2d(e, h, 3, padding=1), nn.GELU(),
                                                   nn.Conv2d(h, wide, 3, padding=1))
        # Zero: the model starts as the base computes, with e = 0 everywhere (which its prior
        # starts out certain of: no bytes), and learns to use e from there (the injection's
        # last layer learns first, from the constant its first makes of e = 0; then e does).
        for layer in (self.enhancement_encoder[-1], self.enhancement_injection[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.enhancement_prior = EnhancementPrior(
            latent_channels=m, channels=e, grid=config.enhancement_shape[1], hidden=h,
            position_channels=config.position_channels, checkerboard=config.enhancement_checkerboard)
        # Gains of 1 at every level: e = 0 costs next to nothing under the new prior at any
        # rate; the gains learn their ladder (ten times faster than the weights) as e learns.
        self.log_gain_enh_enc = nn.Parameter(torch.zeros(config.levels, e))
        self.log_gain_enh_dec = nn.Parameter(torch.zeros(config.levels, e))

    # -- the gate and the gains

    def codes_enhancement(self, position: torch.Tensor) -> torch.Tensor:
        """``(N,)`` bool: whether images at rate positions ``(N,)`` code the enhancement latent."""
        if not self.config.enhancement_channels:
            return torch.zeros(position.shape, dtype=torch.bool)
        return position >= self.config.enhancement_level

    def enhancement_gains(self, position: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The enhancement's encoder and decoder gains ``(N, E, 1, 1)`` at rate positions ``(N,)``."""
        levels = self.config.levels
        return (_interpolated(self.log_gain_enh_enc, position, levels),
                _interpolated(self.log_gain_enh_dec, position, levels))

    # -- the transforms

    def analyse(self, x: torch.Tensor) -> EnhancedAnalysis:  # type: ignore[override]
        """The base latent and the encoder's 16-px features of images in [0, 1] (float32)."""
        features = self.encoder[:self._encoder_split](x * 2.0 - 1.0)
        y_u = self.encoder[self._encoder_split:](features)
        return EnhancedAnalysis(y_u.float(), features.float())

    def _head(self, y_hat: torch.Tensor, dec_gain: torch.Tensor) -> torch.Tensor:
        """The generator's 16-px features of a decoded base latent."""
        return self.generator[:self._generator_split](y_hat * dec_gain)

    def _tail(self, features: torch.Tensor) -> torch.Tensor:
        return self.generator[self._generator_split:](features).float() * 0.5 + 0.5

    def _inject(self, features: torch.Tensor, enhancement: torch.Tensor,
                coded: torch.Tensor | None) -> torch.Tensor:
        added = self.enhancement_injection(enhancement.to(features.dtype))
        if coded is not None:
            added = added * coded[:, None, None, None].to(added.dtype)
        return features + added

    def synthesise(self, y_hat: torch.Tensor, dec_gain: torch.Tensor,
                   enhancement: torch.Tensor | None = None,
                   coded: torch.Tensor | None = None) -> torch.Tensor:
        """Image in [0, 1] (unclamped) from the decoded base latent and, if given, the enhancement.

        ``enhancement`` is the decoded enhancement latent times its decoder
        gain; ``coded`` ``(N,)`` says which images have one (default: all).
        Without an enhancement the base model's generator runs as it is.
        """
        features = self._head(y_hat, dec_gain)
        if enhancement is not None:
            features = self._inject(features, enhancement, coded)
        return self._tail(features)

    def reconstruct(self, guess: Guess) -> torch.Tensor:
        e = getattr(guess, "e", None)
        if e is None:
            return self.synthesise(guess.q, guess.dec_gain)
        return self.synthesise(guess.q, guess.dec_gain, e * guess.e_dec_gain, guess.coded)

    def _enhancement(self, features: torch.Tensor, head: torch.Tensor,
                     e_enc: torch.Tensor) -> torch.Tensor:
        """The scaled, continuous enhancement latent of the encoder's and the generator's features."""
        inp = torch.cat([features.to(head.dtype), head], dim=1)
        return self.enhancement_encoder(inp).float() * e_enc

    def enhancement_rate(self, e: torch.Tensor, e_hat: torch.Tensor, y_hat: torch.Tensor,
                         enc_gain: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Bits per image of ``e`` given the decoded base latent ``y_hat``; 0 where the gate is shut."""
        e_enc, _ = self.enhancement_gains(position)
        bits = self.enhancement_prior.rate_bits(e, e_hat, y_hat / enc_gain, e_enc, position)
        return bits * self.codes_enhancement(position).to(bits.dtype)

    # -- guess, training, refinement

    @torch.no_grad()
    def guess(self, analysis: EnhancedAnalysis, position: torch.Tensor) -> EnhancedGuess:  # type: ignore[override]
        """The encoder's rounded guess of both latents (see :meth:`ContextModel.guess`).

        The enhancement latent is made from the base guess's decoded features,
        as a decoder will have them.
        """
        base = super().guess(analysis.y_u, position)
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        coded = self.codes_enhancement(position)
        if not bool(coded.any()):
            return EnhancedGuess(**fields, coded=coded, e=None, e_y=None, e_enc_gain=None,
                                 e_dec_gain=None)
        e_enc, e_dec = self.enhancement_gains(position)
        e_y = self._enhancement(analysis.features, self._head(base.q, base.dec_gain), e_enc)
        e = torch.round(e_y) * coded[:, None, None, None]
        fields["bits"] = base.bits + self.enhancement_rate(e, e, base.q, base.enc_gain, position)
        return EnhancedGuess(**fields, coded=coded, e=e, e_y=e_y, e_enc_gain=e_enc, e_dec_gain=e_dec)

    def rate_and_image(self, y: torch.Tensor, y_hat: torch.Tensor, e: torch.Tensor,
                       e_hat: torch.Tensor, position: torch.Tensor, *,
                       features: torch.Tensor | None = None,
                       autocast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(bits, image)`` of both latents given as they are (refinement's objective).

        ``y`` and ``e`` are the latents whose rate is counted, ``y_hat`` and
        ``e_hat`` what the context models and the generator see; ``features``
        the hyperprior's (the hyper-latent's own bits are not counted).
        """
        enc_gain, dec_gain = self.gains(position)
        _, e_dec = self.enhancement_gains(position)
        rate = (self.prior.rate_bits(y, y_hat, enc_gain, position, features)
                + self.enhancement_rate(e, e_hat, y_hat, enc_gain, position))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            x_hat = self.synthesise(y_hat, dec_gain, e_hat * e_dec, self.codes_enhancement(position))
        return rate, x_hat

    def forward(self, x: torch.Tensor, position: torch.Tensor, *,
                autocast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: ``(x_hat, rate_bits)``, as :meth:`ContextModel.forward`, both latents.

        Where the gate is shut (rate positions below the enhancement level) the
        enhancement's rate and injection are multiplied by zero: the image and
        the rate are the base model's there.
        """
        enc_gain, dec_gain = self.gains(position)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            analysis = self.analyse(x)
        y = analysis.y_u * enc_gain
        y_hat = round_ste(y)
        noisy = y + torch.rand_like(y) - 0.5
        features = None
        rate = y.new_zeros(y.shape[0])
        if self.config.hyper_channels:
            z = self.prior.analyse_hyper(analysis.y_u, position).clamp(*symbol_range(HYPER_BITS))
            rate = rate + self.prior.hyper_rate_bits(z + torch.rand_like(z) - 0.5)
            features = self.prior.hyper_features(round_ste(z))
        rate = rate + self.prior.rate_bits(noisy, y_hat, enc_gain, position, features)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            head = self._head(y_hat, dec_gain)
        if self.config.enhancement_channels:
            e_enc, e_dec = self.enhancement_gains(position)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                e = self._enhancement(analysis.features, head, e_enc)
            e_hat = round_ste(e)
            rate = rate + self.enhancement_rate(e + torch.rand_like(e) - 0.5, e_hat, y_hat, enc_gain,
                                                position)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                head = self._inject(head, e_hat * e_dec, self.codes_enhancement(position))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            x_hat = self._tail(head)
        return x_hat, rate
