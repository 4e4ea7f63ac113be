"""Grow a trained checkpoint into a larger model that starts where it ended (gzcodec.models.growth).

Writes a checkpoint at step 0 with no optimiser state, for ``gzcodec train --init-from``.
Its CPU time is 0: the hours it inherits are not counted (comparisons say so).

    python scripts/grow_model.py results/training-face-v2/checkpoint.safetensors \\
        runs/v3-grown.safetensors --generator-blocks 1,2,0,0 --encoder-blocks 0,1,1,1 --add-levels 3

With ``--enhancement-channels`` or ``--generator-widths`` the grown model is an enhanced
one (``gzcodec.models.enhancement``): an enhancement latent coded from
``--enhancement-level`` up, and/or wider 16- and 32-px generator stages. Blocks and levels are
added first (to a model that has no enhancement yet), then the enhancement and the widths.

    python scripts/grow_model.py results/training-face-v3/checkpoint.safetensors \\
        runs/v3-enh-init.safetensors --enhancement-channels 48 --enhancement-level 7 --name face-v3-e
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import torch
from safetensors.torch import save

from gzcodec.fileio import write_atomic
from gzcodec.models.enhancement import EnhancedModel
from gzcodec.models.growth import enhance, grow
from gzcodec.train import load_checkpoint
from gzcodec.train_options import TrainOptions


def _counts(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--encoder-blocks", type=_counts, default=None,
                        help="residual blocks at 64,32,16,8 px (default: the source's)")
    parser.add_argument("--generator-blocks", type=_counts, default=None,
                        help="residual blocks at 8,16,32,64 px (default: the source's)")
    parser.add_argument("--add-levels", type=int, default=0)
    parser.add_argument("--enhancement-channels", type=int, default=0,
                        help="channels of an enhancement latent at 16x16 (0: none)")
    parser.add_argument("--enhancement-level", type=int, default=None,
                        help="the lowest rate level that codes it (default: (levels + 1) // 2)")
    parser.add_argument("--enhancement-hidden", type=int, default=64)
    parser.add_argument("--no-checkerboard", action="store_true",
                        help="code the enhancement in one pass, not two checkerboard halves")
    parser.add_argument("--generator-widths", type=_counts, default=None,
                        help="channels of the generator's 16- and 32-px stages, e.g. 96,96")
    parser.add_argument("--name", default="face-v3")
    return parser.parse_args()


def _grown(old: torch.nn.Module, args: argparse.Namespace) -> torch.nn.Module:
    new = grow(old, encoder_blocks=args.encoder_blocks, generator_blocks=args.generator_blocks,
               add_levels=args.add_levels, name=args.name)
    if args.enhancement_channels or args.generator_widths:
        new = enhance(new, enhancement_channels=args.enhancement_channels,
                      enhancement_level=args.enhancement_level,
                      enhancement_hidden=args.enhancement_hidden, checkerboard=not args.no_checkerboard,
                      generator_widths=args.generator_widths or (0, 0), name=args.name)
    return new


def main() -> None:
    args = _arguments()
    old, _, meta = load_checkpoint(args.src)
    try:
        new = _grown(old, args)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    tensors = {f"model.{k}": v.contiguous() for k, v in new.state_dict().items()}
    hours = float(meta.get("cpu_seconds", 0)) / 3600
    out_meta = {"step": "0", "adam_step": "0", "cpu_seconds": "0.0",
                "config": json.dumps(new.config.to_dict()),
                "options": json.dumps(dataclasses.asdict(TrainOptions())),
                "grown_from": f"{args.src} (step {meta['step']}, {hours:.2f} CPU-hours, not counted)"}
    write_atomic(args.dst, save(tensors, metadata=out_meta), force=True)
    size = old.config.image_size
    x = torch.rand(3, 3, size, size)
    top = float(old.config.levels - 1)
    position = torch.tensor([0.0, top / 2, top])
    with torch.no_grad():
        difference = (old.eval()(x, position)[0] - new.eval()(x, position)[0]).abs().max()
    parts = [f"{new.config.levels} levels, lambda up to {new.config.level_lambdas[-1]:.3g}"]
    if isinstance(new, EnhancedModel):
        if new.config.enhancement_channels:
            parts.append(f"enhancement latent {'x'.join(map(str, new.config.enhancement_shape))} "
                         f"from level {new.config.enhancement_level}")
        parts.append(f"generator widths {new.config.widths} at 16 and 32 px")
    print(f"wrote {args.dst}: {'; '.join(parts)}; "
          f"{sum(p.numel() for p in new.parameters()) / 1e6:.2f} M parameters; "
          f"max |difference| from the old model's image at its levels: {float(difference):.2e}")


if __name__ == "__main__":
    main()
