"""One step of training a realism decoder: its batch, the generator's update, the discriminator's.

The base model is frozen: its encoder's rounded guess at each image's rate
position (what effort ``none`` stores; refined files differ from it in a few
integers) times the decoder gains is the decoder input ``latent``, exactly
what the base generator and the realism decoder are given when decoding.
Each step (after HiFiC and Multi-Realism):

1. the realism decoder makes ``x_hat`` of ``latent`` at each image's β;
2. generator update: ``distortion_weight * d(x_hat, x) + β * (adversarial_weight
   * softplus(-D(x_hat)) + feature_weight * |D_features(x_hat) - D_features(x)|)``,
   each term per image (non-saturating GAN loss, feature matching as in
   pix2pixHD, the discriminator's own activations: no pretrained network);
3. discriminator update: ``softplus(-D(x)) + softplus(D(x_hat))`` on the same
   batch (x_hat detached).

Every discriminator call is conditioned on ``latent`` (:mod:`gzcodec.models.discriminator`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

from ..models.context_model import ContextModel
from ..models.discriminator import ConditionalDiscriminator
from ..models.realism import RealismGenerator
from ..rate import rate_position
from ..reversal import LOSSES
from ..train_options import RealismOptions
from .schedule import lr_at

__all__ = ["BETA_STRETCH", "RATE_SKEW", "RealismNets", "decoder_input", "draw_realism_batch",
           "realism_step"]

#: Rate positions are ``top * u**RATE_SKEW`` for ``u`` uniform: with 1.5, 71 % of the draws fall
#: in the lower 60 % of the positions (at ``max_rate`` 160 of face128-v2: rate 96, ~205 bytes).
RATE_SKEW = 1.5
#: β is ``min(1, BETA_STRETCH * u)``: a fifth of the images train β = 1, which the bench measures.
BETA_STRETCH = 1.25


@dataclasses.dataclass
class RealismNets:
    """The frozen base model, the realism decoder and the discriminator of a run, with their optimisers."""

    base: ContextModel
    decoder: RealismGenerator
    disc: ConditionalDiscriminator
    optim_g: torch.optim.Adam
    optim_d: torch.optim.Adam


def draw_realism_batch(data: torch.Tensor, opts: RealismOptions, step: int, levels: int
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The images (float, ``channels_last``, flipped half the time), rate positions and β of ``step``.

    One generator per step, seeded by ``(seed, step)``: a resumed run draws
    what it would have drawn.
    """
    rng = np.random.default_rng([opts.seed, step, 7])
    idx = torch.from_numpy(rng.integers(0, len(data), opts.batch_size))
    x = data[idx].float().div_(255)
    if rng.random() < 0.5:
        x = x.flip(3)
    x = x.contiguous(memory_format=torch.channels_last)
    top = rate_position(opts.max_rate, levels)
    position = torch.from_numpy(top * rng.random(opts.batch_size) ** RATE_SKEW).float()
    beta = torch.from_numpy(np.minimum(1.0, BETA_STRETCH * rng.random(opts.batch_size))).float()
    return x, position, beta


@torch.no_grad()
def decoder_input(base: ContextModel, x: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """``round(E(x) * g_enc(r)) * g_dec(r)``: what either generator decodes (float32)."""
    enc_gain, dec_gain = base.gains(position)
    return torch.round(base.analyse(x) * enc_gain) * dec_gain


def _per_image(t: torch.Tensor) -> torch.Tensor:
    return t.float().mean(dim=tuple(range(1, t.dim())))


def _generator_terms(nets: RealismNets, x: torch.Tensor, x_hat: torch.Tensor, latent: torch.Tensor,
                     opts: RealismOptions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image: distortion, adversarial loss, feature-matching distance."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=opts.autocast):
        fake = nets.disc(x_hat, latent)
        with torch.no_grad():
            real = nets.disc(x, latent)
    adversarial = sum(_per_image(F.softplus(-logits)) for logits, _ in fake) / len(fake)
    layers = [(a, b) for (_, fa), (_, fb) in zip(fake, real, strict=True)
              for a, b in zip(fa, fb, strict=True)]
    matching = sum(_per_image((a.float() - b.float()).abs()) for a, b in layers) / len(layers)
    distortion = LOSSES[opts.distortion](x_hat, x)
    return distortion, adversarial, matching


def realism_step(nets: RealismNets, x: torch.Tensor, position: torch.Tensor, beta: torch.Tensor,
                 opts: RealismOptions, step: int) -> dict[str, float]:
    """One update of the decoder and one of the discriminator; the batch's mean losses.

    Returns ``{"distortion", "adversarial", "matching", "generator", "discriminator"}``.
    """
    lr = lr_at(opts, step)  # the trainer's warm-up and cosine decay, for both
    for group in nets.optim_g.param_groups:
        group["lr"] = lr
    for group in nets.optim_d.param_groups:
        group["lr"] = lr * opts.disc_lr / opts.lr
    latent = decoder_input(nets.base, x, position)
    nets.disc.requires_grad_(False)  # the generator's update: gradients reach x_hat only
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=opts.autocast):
        x_hat = nets.decoder(latent, beta)
    distortion, adversarial, matching = _generator_terms(nets, x, x_hat, latent, opts)
    loss_g = (opts.distortion_weight * distortion
              + beta * (opts.adversarial_weight * adversarial + opts.feature_weight * matching)).mean()
    nets.optim_g.zero_grad(set_to_none=True)
    loss_g.backward()
    torch.nn.utils.clip_grad_norm_(nets.decoder.parameters(), 5.0)
    nets.optim_g.step()
    nets.disc.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=opts.autocast):
        real = nets.disc(x, latent)
        fake = nets.disc(x_hat.detach(), latent)
    loss_d = sum(F.softplus(-r).mean() + F.softplus(f).mean()
                 for (r, _), (f, _) in zip(real, fake, strict=True)) / len(real)
    nets.optim_d.zero_grad(set_to_none=True)
    loss_d.backward()
    nets.optim_d.step()
    return {"distortion": float(distortion.detach().mean()),
            "adversarial": float(adversarial.detach().mean()), "matching": float(matching.detach().mean()),
            "generator": float(loss_g.detach()), "discriminator": float(loss_d.detach())}
