"""Grow a trained v2 checkpoint into a larger model that starts where it ended.

The new model gets residual blocks in its transforms (zero-initialised, so
they change nothing until trained) and rate levels above the top one (gains
continuing the top two's trend, as :func:`gzcodec.train.add_rate_level`).
Every tensor of the old model is copied to its new place; the result is a
checkpoint at step 0 with no optimiser state, for ``gzcodec train --init-from``.
Its CPU time is 0: the hours it inherits are not counted (say so when
comparing runs).

    python scripts/grow_model.py results/training-face-v2/checkpoint.safetensors \\
        runs/v3-grown.safetensors --generator-blocks 1,2,0,0 --encoder-blocks 0,1,1,1 --add-levels 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import torch
from safetensors.torch import save

from gzcodec.fileio import write_atomic
from gzcodec.models.context_model import ContextModel
from gzcodec.models.layers import ResidualBlock
from gzcodec.train import load_checkpoint
from gzcodec.train_options import TrainOptions


def _plain_layers(seq: torch.nn.Sequential) -> list[str]:
    """Index names of a transform's layers that are not residual blocks, in order."""
    return [name for name, m in seq.named_children() if not isinstance(m, ResidualBlock)]


def grow(src: str, dst: str, *, encoder_blocks: tuple[int, ...], generator_blocks: tuple[int, ...],
         add_levels: int, name: str) -> None:
    old, _, meta = load_checkpoint(src)
    cfg = old.config
    lams = list(cfg.level_lambdas)
    ratio = lams[-1] / lams[-2]
    for _ in range(add_levels):
        lams.append(lams[-1] * ratio)
    config = dataclasses.replace(cfg, level_lambdas=tuple(lams), encoder_blocks=encoder_blocks,
                                 generator_blocks=generator_blocks, name=name)
    config.validate()
    new = ContextModel(config)
    state = new.state_dict()
    old_state = old.state_dict()
    for part in ("encoder", "generator"):
        old_seq, new_seq = getattr(old, part), getattr(new, part)
        for a, b in zip(_plain_layers(old_seq), _plain_layers(new_seq), strict=True):
            for key, value in getattr(old_seq, a).state_dict().items():
                state[f"{part}.{b}.{key}"] = value.clone()
    for key, value in old_state.items():
        if key.startswith(("encoder.", "generator.")):
            continue
        if key in ("log_gain_enc", "log_gain_dec"):
            g = value.clone()
            top, below = cfg.level_lambdas[-1], cfg.level_lambdas[-2]
            step = (g[-1] - g[-2]) / math.log(top / below)
            extra = [g[-1] + step * math.log(lam / top) for lam in lams[len(cfg.level_lambdas):]]
            state[key] = torch.cat([g, *[e[None] for e in extra]])
        else:
            state[key] = value.clone()
    new.load_state_dict(state)
    tensors = {f"model.{k}": v.contiguous() for k, v in new.state_dict().items()}
    out_meta = {"step": "0", "adam_step": "0", "cpu_seconds": "0.0",
                "config": json.dumps(config.to_dict()),
                "options": json.dumps(dataclasses.asdict(TrainOptions())),
                "grown_from": f"{src} (step {meta['step']}, "
                              f"{float(meta.get('cpu_seconds', 0)) / 3600:.2f} CPU-hours, not counted)"}
    write_atomic(dst, save(tensors, metadata=out_meta), force=True)
    # The grown model decodes as the old one at the old levels: check it.
    x = torch.rand(2, 3, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        pos = torch.tensor([0.0, float(cfg.levels - 1)])
        a, _ = old.eval()(x, pos)
        b, _ = new.eval()(x, pos)
    print(f"wrote {dst}: levels {config.levels}, lambdas up to {lams[-1]:.3g}, "
          f"max |difference| at the old levels {float((a - b).abs().max()):.2e}")


def _counts(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--encoder-blocks", type=_counts, default=(0, 0, 0, 0))
    parser.add_argument("--generator-blocks", type=_counts, default=(0, 0, 0, 0))
    parser.add_argument("--add-levels", type=int, default=0)
    parser.add_argument("--name", default="face-v3")
    args = parser.parse_args()
    grow(args.src, args.dst, encoder_blocks=args.encoder_blocks, generator_blocks=args.generator_blocks,
         add_levels=args.add_levels, name=args.name)
