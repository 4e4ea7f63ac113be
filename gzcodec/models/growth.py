"""Growing a trained model into a larger one that starts where it ended.

A model of the hyperprior-context family grows by residual blocks in its
transforms (zero-initialised: :class:`~gzcodec.models.layers.ResidualBlock`)
and by rate levels above its top one (gains continuing the top two's trend,
as :func:`gzcodec.train.add_rate_level` does). Every tensor of the old model
is copied to its new place, so the grown model decodes every old level
exactly as the old one did, and the hours spent training it are not thrown
away (``face128-v3`` starts from ``face128-v2``'s checkpoint this way).

Examples
--------
>>> from gzcodec.models.context_model import ContextModel, ContextModelConfig
>>> small = ContextModel(ContextModelConfig(image_size=64, channels=8, latent_channels=8,
...                                         slices=(8,), hyper_channels=4))
>>> big = grow(small, generator_blocks=(1, 1, 0, 0), add_levels=2)
>>> big.config.levels - small.config.levels, big.config.generator_blocks
(2, (1, 1, 0, 0))
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .context_model import ContextModel
from .layers import ResidualBlock

__all__ = ["grow"]


def _plain_layers(seq: torch.nn.Sequential) -> list[str]:
    """Index names of a transform's layers that are not residual blocks, in order."""
    return [name for name, m in seq.named_children() if not isinstance(m, ResidualBlock)]


def grow(old: ContextModel, *, encoder_blocks: tuple[int, ...] = (0, 0, 0, 0),
         generator_blocks: tuple[int, ...] = (0, 0, 0, 0), add_levels: int = 0,
         name: str | None = None) -> ContextModel:
    """``old`` with residual blocks added to its transforms and ``add_levels`` rate levels on top.

    Parameters
    ----------
    old : ContextModel
        The trained model (without blocks of its own where blocks are added).
    encoder_blocks, generator_blocks : tuple of 4 int
        The grown model's blocks per grid (see
        :func:`~gzcodec.models.layers.analysis_transform`).
    add_levels : int
        Rate levels added above the top one, ``lambda`` continuing the ladder's ratio.
    name : str, optional
        The grown model's config name (by default the old one's).

    Returns
    -------
    ContextModel
        The grown model; at the old model's rate positions it computes what
        ``old`` computes.
    """
    cfg = old.config
    lams = list(cfg.level_lambdas)
    for _ in range(add_levels):
        lams.append(lams[-1] * lams[-1] / lams[-2])
    config = dataclasses.replace(cfg, level_lambdas=tuple(lams), encoder_blocks=tuple(encoder_blocks),
                                 generator_blocks=tuple(generator_blocks), name=name or cfg.name)
    new = ContextModel(config)
    state = new.state_dict()
    for part in ("encoder", "generator"):
        old_seq, new_seq = getattr(old, part), getattr(new, part)
        for a, b in zip(_plain_layers(old_seq), _plain_layers(new_seq), strict=True):
            for key, value in getattr(old_seq, a).state_dict().items():
                state[f"{part}.{b}.{key}"] = value.clone()
    top, below = cfg.level_lambdas[-1], cfg.level_lambdas[-2]
    for key, value in old.state_dict().items():
        if key.startswith(("encoder.", "generator.")):
            continue
        if key in ("log_gain_enc", "log_gain_dec"):
            step = (value[-1] - value[-2]) / math.log(top / below)
            extra = [value[-1] + step * math.log(lam / top) for lam in lams[cfg.levels:]]
            value = torch.cat([value, *[e[None] for e in extra]])
        state[key] = value.clone()
    new.load_state_dict(state)
    return new
