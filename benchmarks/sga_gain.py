"""Gain of encode-time refinement (SGA) over the encoder's guess, per effort level.

For faces of a folder (by default training faces, so that tuning never touches
the validation faces that reports are made on), at several rate positions:
bytes (information content under the model), PSNR and the rate-distortion
objective of the rounded guess and of each effort's refined latent, with the
time per face (batched, one torch thread).

Usage::

    python benchmarks/sga_gain.py CHECKPOINT_OR_WEIGHTS --faces ../shared/data/celeba128/train --n 16
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gzcodec.imageio import list_images, load_image, to_model_input
from gzcodec.reversal import LOSSES, rd_objective, refine


def _load(path: str):
    from gzcodec.train import load_checkpoint

    model, _, _ = load_checkpoint(path)
    return model.eval().requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--faces", required=True)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--skip", type=int, default=0, help="skip the first N files")
    parser.add_argument("--positions", default="1,3,5")
    parser.add_argument("--iterations", default="0,12,24,50")
    parser.add_argument("--lr", default="0.05")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = _load(args.checkpoint)
    paths = list_images(args.faces)[args.skip:args.skip + args.n]
    x = torch.from_numpy(np.stack([to_model_input(load_image(p), 128)[0] for p in paths]))
    x = x.permute(0, 3, 1, 2).float() / 255
    print(f"{len(paths)} faces of {args.faces}; bytes = information content under the model")
    print(f"{'r':>3} {'iters':>5} {'lr':>5} {'bytes':>7} {'PSNR':>6} {'objective':>9} "
          f"{'dB vs guess':>11} {'bytes vs guess':>14} {'s/face':>7}")
    for r in (float(v) for v in args.positions.split(",")):
        position = torch.full((len(x),), r)
        enc, dec = model.gains(position)
        with torch.no_grad():
            y = model.analyse(x) * enc
        base = None
        for iters in (int(v) for v in args.iterations.split(",")):
            for lr in (float(v) for v in args.lr.split(",")):
                if iters == 0 and base is not None:
                    continue
                t0 = time.perf_counter()
                q = refine(model, y, x, position, iterations=iters, lr=lr)
                seconds = (time.perf_counter() - t0) / len(x)
                with torch.no_grad():
                    rate = model.prior.rate_bits(q, q, enc, position, None) / 8
                    x_hat = torch.round(model.synthesise(q, dec).clamp(0, 1) * 255) / 255
                    mse = ((x_hat - x) ** 2).mean(dim=(1, 2, 3))
                    psnr = float((10 * torch.log10(1 / mse)).mean())
                    obj = float(rd_objective(model, q, q, x, position,
                                             distortion=LOSSES["mse"]).mean())
                row = (float(rate.mean()), psnr)
                if base is None:
                    base = row
                print(f"{r:>3g} {iters:>5} {lr:>5g} {row[0]:>7.1f} {row[1]:>6.2f} {obj:>9.4f} "
                      f"{row[1] - base[1]:>+11.2f} {100 * (row[0] / base[0] - 1):>+13.1f}% "
                      f"{seconds:>7.3f}")


if __name__ == "__main__":
    main()
