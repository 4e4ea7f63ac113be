"""The options of a training run (no torch): what ``gzcodec train`` offers, with their defaults.

:mod:`gzcodec.train` runs with them and stores them in each checkpoint; the
command line reads its defaults from :class:`TrainOptions` without loading
torch (``gzcodec --help`` stays fast).
"""

from __future__ import annotations

import dataclasses
import math

from .losses import LOSS_NAMES

__all__ = ["RealismOptions", "TrainOptions", "VAL_IMAGES"]

#: How many images of the ``--val`` folder (the first, sorted) a validation record covers.
VAL_IMAGES = 16


@dataclasses.dataclass
class TrainOptions:
    """Options of one training run (stored in each checkpoint).

    ``steps`` is the planned length: the learning rate stays at ``lr`` (after
    ``warmup``) and decays along a cosine to ``lr_final`` over the last
    ``decay_fraction`` of it, so a long run can be lengthened on resume as
    long as it has not entered its decay.

    ``distortion`` is what the run trades bits against (one of
    :data:`gzcodec.losses.LOSS_NAMES`; ``"mse"`` for every shipped model).
    ``init_from`` starts a new run from another model's weights instead of
    random ones: a training checkpoint, a weights file, or a model name the
    registry finds (fine-tuning; the architecture is that model's).
    """

    steps: int = 400_000
    batch_size: int = 8
    lr: float = 2e-4
    lr_final: float = 1e-5
    warmup: int = 500
    decay_fraction: float = 0.15
    seed: int = 0
    checkpoint_minutes: float = 5.0
    val_every: int = 2000
    log_every: int = 200
    #: Torch threads of each process (0: torch's default, one per core). One, gzcodec's
    #: policy everywhere (:mod:`gzcodec.threads`): fastest on a busy machine.
    threads: int = 1
    autocast: bool = True
    #: ``torch.compile`` the training forward pass: x1.15 steps/s for the v2 face model
    #: here, after a compilation of about 40 s (``benchmarks/train_throughput.py``).
    compile: bool = True
    distortion: str = "mse"
    init_from: str = ""
    #: Images drawn at a rate level whose ``lambda`` is above this weigh in the batch's loss
    #: as if they were at it (their loss times ``lambda_cap / lambda``); 0: no cap. Without
    #: one, the shared generator learns almost only from the top levels, whose ``lambda`` is
    #: up to 37,000 times the lowest's (issue 20: ``face-v3-e``'s low rates drifted down while
    #: its top rose). Each image's own rate-distortion trade-off is unchanged.
    lambda_cap: float = 0.0

    def validate(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch size must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0 and math.isfinite(self.lr_final)
                and self.lr_final >= 0):
            raise ValueError(f"learning rates must be finite and positive, not {self.lr}")
        if not 0 <= self.decay_fraction <= 1:
            raise ValueError("decay fraction must be in [0, 1]")
        if self.distortion not in LOSS_NAMES:
            raise ValueError(f"unknown distortion {self.distortion!r}; choose from "
                             f"{', '.join(LOSS_NAMES)}")
        if not self.checkpoint_minutes > 0:
            raise ValueError("checkpoint interval must be positive")
        if not (math.isfinite(self.lambda_cap) and self.lambda_cap >= 0):
            raise ValueError(f"lambda cap must be finite and at least 0, not {self.lambda_cap}")


@dataclasses.dataclass
class RealismOptions:
    """Options of a realism-decoder run, ``gzcodec train --realism-from`` (stored in each checkpoint).

    The base model (``realism_from``: a name, id or weights path) stays frozen;
    a copy of its generator conditioned on β (:mod:`gzcodec.models.realism`)
    is trained against a conditional discriminator
    (:mod:`gzcodec.models.discriminator`), with, per image of a batch at a
    realism weight β drawn in [0, 1],

        loss = distortion_weight * distortion + β * (adversarial_weight * adversarial
                                                     + feature_weight * feature matching)

    ``distortion`` is one of :data:`gzcodec.losses.LOSS_NAMES` on images in
    [0, 1] (``"mse"``: ``distortion_weight`` 152.4 is HiFiC's ``0.075 * 2**-5``
    on 0..255 MSE, and ``adversarial_weight`` 0.15 its GAN weight). Feature
    matching stands in for HiFiC's LPIPS term (no pretrained network here):
    10, pix2pixHD's weight, puts it at LPIPS's size in HiFiC's loss (about 0.1
    against a distortion term of about 0.5 at the low rates), where 1 left its
    gradient 45 times smaller than the distortion's after 180 steps on
    ``face128-v2``. Rate indices are drawn over ``0..max_rate``, the low ones
    more often (see :func:`gzcodec.train.realism_step.draw_realism_batch`).
    The schedule is the trainer's (``lr``, ``warmup``, ``decay_fraction``,
    ``lr_final``); the discriminator learns at ``disc_lr``, scaled alike.
    """

    realism_from: str = ""
    steps: int = 40_000
    batch_size: int = 8
    lr: float = 1e-4
    disc_lr: float = 1e-4
    lr_final: float = 1e-5
    warmup: int = 200
    decay_fraction: float = 0.15
    seed: int = 0
    checkpoint_minutes: float = 5.0
    val_every: int = 1000
    log_every: int = 100
    threads: int = 1
    autocast: bool = True
    distortion: str = "mse"
    distortion_weight: float = 152.4
    adversarial_weight: float = 0.15
    feature_weight: float = 10.0
    max_rate: int = 160
    disc_channels: int = 32
    noise: bool = True

    def validate(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch size must be at least 1")
        for name in ("lr", "disc_lr"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"learning rates must be finite and positive, not {value}")
        if not (math.isfinite(self.lr_final) and self.lr_final >= 0):
            raise ValueError(f"the final learning rate must be finite and >= 0, not {self.lr_final}")
        if not 0 <= self.decay_fraction <= 1:
            raise ValueError("decay fraction must be in [0, 1]")
        if self.distortion not in LOSS_NAMES:
            raise ValueError(f"unknown distortion {self.distortion!r}; choose from "
                             f"{', '.join(LOSS_NAMES)}")
        for name in ("distortion_weight", "adversarial_weight", "feature_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name.replace('_', ' ')} must be finite and >= 0, not {value}")
        if not 0 <= self.max_rate <= 255:
            raise ValueError(f"max rate must be a rate index 0..255, not {self.max_rate}")
        if not self.checkpoint_minutes > 0:
            raise ValueError("checkpoint interval must be positive")
        if not self.realism_from:
            raise ValueError("a realism decoder is trained for a model: give realism_from")
