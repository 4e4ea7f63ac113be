"""Growing a trained model into a larger one that starts where it ended.

A model of the hyperprior-context family grows by residual blocks in its
transforms (zero-initialised: :class:`~gzcodec.models.layers.ResidualBlock`)
and by rate levels above its top one (gains continuing the top two's trend,
as :func:`gzcodec.train.add_rate_level` does). Every tensor of the old model
is copied to its new place, so the grown model decodes every old level
exactly as the old one did, and the hours spent training it are not thrown
away (``face128-v3`` starts from ``face128-v2``'s checkpoint this way).

:func:`enhance` grows such a model into an
:class:`~gzcodec.models.enhancement.EnhancedModel`: an enhancement latent whose
injection into the generator starts at zero, and optionally wider 16- and
32-px generator stages whose new channels start at zero (the layers that make
them are zero there; those that read them read zeros). The grown model
computes what the old one does (exactly with the enhancement alone; to float
rounding where widened layers sum over more, zero, terms).

Examples
--------
>>> from gzcodec.models.context_model import ContextModel, ContextModelConfig
>>> small = ContextModel(ContextModelConfig(image_size=64, channels=8, latent_channels=8,
...                                         slices=(8,), hyper_channels=4))
>>> big = grow(small, generator_blocks=(1, 1, 0, 0), add_levels=2)
>>> big.config.levels - small.config.levels, big.config.generator_blocks
(2, (1, 1, 0, 0))
>>> enhance(big, enhancement_channels=4, generator_widths=(12, 0)).config.widths
(12, 8)
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from .config import EnhancedModelConfig
from .context_model import ContextModel
from .enhancement import EnhancedModel
from .layers import GDN, ResidualBlock

__all__ = ["enhance", "grow"]


def _layer_places(seq: torch.nn.Sequential) -> dict[tuple[int, ...], str]:
    """Each layer of a transform by its place: ``(k,)`` for the ``k``-th layer that is not a
    residual block, ``(k, j)`` for the ``j``-th block after it (``k = 0``: before the first)."""
    places, plain, run = {}, 0, 0
    for name, m in seq.named_children():
        if isinstance(m, ResidualBlock):
            places[(plain, run)] = name
            run += 1
        else:
            places[(plain,)] = name
            plain, run = plain + 1, 0
    return places


def grow(old: ContextModel, *, encoder_blocks: tuple[int, ...] | None = None,
         generator_blocks: tuple[int, ...] | None = None, add_levels: int = 0,
         name: str | None = None) -> ContextModel:
    """``old`` with residual blocks added to its transforms and ``add_levels`` rate levels on top.

    Parameters
    ----------
    old : ContextModel
        The trained model (an enhanced one too).
    encoder_blocks, generator_blocks : tuple of 4 int
        The grown model's blocks per grid (see
        :func:`~gzcodec.models.layers.analysis_transform`), at least as many as
        ``old`` has there (by default as many): its own blocks come first, the
        new ones after them.
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
    config = dataclasses.replace(cfg, level_lambdas=tuple(lams),
                                 encoder_blocks=tuple(encoder_blocks or cfg.encoder_blocks),
                                 generator_blocks=tuple(generator_blocks or cfg.generator_blocks),
                                 name=name or cfg.name)
    new = type(old)(config)
    state = new.state_dict()
    for part in ("encoder", "generator"):
        old_seq, new_seq = getattr(old, part), getattr(new, part)
        places = _layer_places(new_seq)
        for place, a in _layer_places(old_seq).items():
            if place not in places:
                raise ValueError(f"the grown {part} has fewer residual blocks than the model's "
                                 f"{getattr(cfg, part + '_blocks')}")
            for key, value in getattr(old_seq, a).state_dict().items():
                state[f"{part}.{places[place]}.{key}"] = value.clone()
    top, below = cfg.level_lambdas[-1], cfg.level_lambdas[-2]
    for key, value in old.state_dict().items():
        if key.startswith(("encoder.", "generator.")):
            continue
        if key.startswith("log_gain"):  # the base's gains, and an enhanced model's
            step = (value[-1] - value[-2]) / math.log(top / below)
            extra = [value[-1] + step * math.log(lam / top) for lam in lams[cfg.levels:]]
            value = torch.cat([value, *[e[None] for e in extra]])
        state[key] = value.clone()
    new.load_state_dict(state)
    return new


@torch.no_grad()
def _widen_into(old: nn.Sequential, new: nn.Sequential) -> None:
    """Copy a generator into a wider one of the same layers so that it computes the same.

    Each old tensor goes to the leading slice of its new one. New output
    channels of the transposed convolutions and of each block's second
    convolution are zero, so the new channels stay zero; new weights that
    only read those channels keep their random start, so that the new
    channels learn. New GDN entries keep GDN's start (they multiply zeros).
    """
    for a, b in zip(old, new, strict=True):
        if isinstance(a, ResidualBlock):
            c = a.conv1.out_channels
            b.conv1.weight[:c, :c] = a.conv1.weight
            b.conv1.bias[:c] = a.conv1.bias
            b.conv2.weight.zero_()
            b.conv2.bias.zero_()
            b.conv2.weight[:c, :c] = a.conv2.weight
            b.conv2.bias[:c] = a.conv2.bias
        elif isinstance(a, GDN):
            c = a.beta_raw.shape[0]
            b.beta_raw[:c] = a.beta_raw
            b.gamma_raw[:c, :c] = a.gamma_raw
        elif isinstance(a, nn.ConvTranspose2d):
            cin, cout = a.in_channels, a.out_channels
            b.weight[:, cout:] = 0
            b.bias[cout:] = 0
            b.weight[:cin, :cout] = a.weight
            b.bias[:cout] = a.bias
        else:
            raise TypeError(f"cannot widen a {type(a).__name__}")


def enhance(old: ContextModel, *, enhancement_channels: int = 48, enhancement_level: int | None = None,
            enhancement_hidden: int = 64, checkerboard: bool = True,
            generator_widths: tuple[int, int] = (0, 0), name: str | None = None) -> EnhancedModel:
    """``old`` with an enhancement latent and wider 16- and 32-px generator stages.

    Parameters
    ----------
    old : ContextModel
        The trained model (not an enhanced one).
    enhancement_channels : int
        Channels of the enhancement latent; 0 for none (only the widths change).
    enhancement_level : int, optional
        The lowest rate level that codes it; by default the middle one,
        ``(levels + 1) // 2`` (7 of 13).
    enhancement_hidden : int
        Width of the enhancement's encoder branch, injection and entropy model.
    checkerboard : bool
        Whether the enhancement is coded in two checkerboard halves.
    generator_widths : tuple of 2 int
        Channels of the generator's 16- and 32-px stages (0: as they are);
        never fewer than the old model's.
    name : str, optional
        The grown model's config name (by default the old one's).

    Returns
    -------
    EnhancedModel
        A model that computes what ``old`` computes at every rate position
        until training moves its new parts (its enhancement's rate, above
        the enhancement level, is new).
    """
    if isinstance(old, EnhancedModel):
        raise ValueError("the model is enhanced already")
    cfg = old.config
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    level = (cfg.levels + 1) // 2 if enhancement_level is None else enhancement_level
    config = EnhancedModelConfig(**{**fields, "kind": "enhanced", "name": name or cfg.name},
                                 enhancement_channels=enhancement_channels, enhancement_level=level,
                                 enhancement_hidden=enhancement_hidden,
                                 enhancement_checkerboard=checkerboard,
                                 generator_widths=tuple(generator_widths))
    if min(config.widths) < cfg.channels:
        raise ValueError(f"generator widths {config.widths} are narrower than the model's "
                         f"{cfg.channels} channels")
    new = EnhancedModel(config)
    state = new.state_dict()
    state.update({k: v.clone() for k, v in old.state_dict().items() if not k.startswith("generator.")})
    new.load_state_dict(state)
    _widen_into(old.generator, new.generator)
    return new
