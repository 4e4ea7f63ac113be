"""Grow a trained checkpoint into a larger model that starts where it ended (gzcodec.models.growth).

Writes a checkpoint at step 0 with no optimiser state, for ``gzcodec train --init-from``.
Its CPU time is 0: the hours it inherits are not counted (comparisons say so).

    python scripts/grow_model.py results/training-face-v2/checkpoint.safetensors \\
        runs/v3-grown.safetensors --generator-blocks 1,2,0,0 --encoder-blocks 0,1,1,1 --add-levels 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch
from safetensors.torch import save

from gzcodec.fileio import write_atomic
from gzcodec.models.growth import grow
from gzcodec.train import load_checkpoint
from gzcodec.train_options import TrainOptions


def _counts(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--encoder-blocks", type=_counts, default=(0, 0, 0, 0))
    parser.add_argument("--generator-blocks", type=_counts, default=(0, 0, 0, 0))
    parser.add_argument("--add-levels", type=int, default=0)
    parser.add_argument("--name", default="face-v3")
    args = parser.parse_args()
    old, _, meta = load_checkpoint(args.src)
    new = grow(old, encoder_blocks=args.encoder_blocks, generator_blocks=args.generator_blocks,
               add_levels=args.add_levels, name=args.name)
    tensors = {f"model.{k}": v.contiguous() for k, v in new.state_dict().items()}
    hours = float(meta.get("cpu_seconds", 0)) / 3600
    out_meta = {"step": "0", "adam_step": "0", "cpu_seconds": "0.0",
                "config": json.dumps(new.config.to_dict()),
                "options": json.dumps(dataclasses.asdict(TrainOptions())),
                "grown_from": f"{args.src} (step {meta['step']}, {hours:.2f} CPU-hours, not counted)"}
    write_atomic(args.dst, save(tensors, metadata=out_meta), force=True)
    x = torch.rand(2, 3, old.config.image_size, old.config.image_size)
    position = torch.tensor([0.0, float(old.config.levels - 1)])
    with torch.no_grad():
        difference = (old.eval()(x, position)[0] - new.eval()(x, position)[0]).abs().max()
    print(f"wrote {args.dst}: {new.config.levels} levels, lambda up to {new.config.level_lambdas[-1]:.3g}; "
          f"max |difference| from the old model at its levels: {float(difference):.2e}")


if __name__ == "__main__":
    main()
