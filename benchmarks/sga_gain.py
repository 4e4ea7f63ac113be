"""Gain of encode-time refinement (SGA) over the encoder's guess, per effort level.

Real files through the public API: each face is encoded with a v2 model at a
few rate indices with every effort level (``none`` is the encoder's rounded
guess), decoded, and compared with the original: mean file bytes (header
included), PSNR, SSIM and encode time per face (batches of 16, one torch
thread). Tune on training faces; report on ``val``.

Usage::

    python benchmarks/sga_gain.py MODEL --faces ../shared/data/celeba128/val --n 50 \\
        --rates 42,128,212 > results/sga/val50.txt

``--losses mse,ssim,mix`` refines each rate under each of these distortions
(``encode(loss=...)``); ``none`` rounds the guess whatever the loss.

``MODEL`` is a weights file, a model name, or a training checkpoint (exported
to a temporary weights file first).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _models import load_model_or_checkpoint

import gzcodec
from gzcodec.imageio import list_images, read_model_input
from gzcodec.losses import LOSS_NAMES
from gzcodec.metrics import psnr, ssim
from gzcodec.reversal import EFFORTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--faces", required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--rates", default="42,128,212")
    parser.add_argument("--efforts", default=",".join(EFFORTS))
    parser.add_argument("--losses", default="mse", help=f"comma-separated, of {LOSS_NAMES}")
    args = parser.parse_args()
    losses = args.losses.split(",")
    if unknown := set(losses) - set(LOSS_NAMES):
        parser.error(f"unknown losses {sorted(unknown)}")
    with tempfile.TemporaryDirectory() as tmp:
        lm = load_model_or_checkpoint(args.model, Path(tmp))
        paths = list_images(args.faces)[:args.n]
        inputs = [read_model_input(p, lm.config.image_size) for p in paths]
        print(f"model {lm.id} ({lm.info.name}); first {len(paths)} faces of {args.faces}")
        print(f"{'rate':>4} {'effort':>8} {'loss':>7} {'iters':>5} {'bytes':>7} {'PSNR':>6} {'SSIM':>6} "
              f"{'dB vs none':>10} {'bytes vs none':>13} {'s/face':>7}")
        for rate in (int(r) for r in args.rates.split(",")):
            base = None
            runs = [(e, loss) for e in args.efforts.split(",")
                    for loss in (losses if EFFORTS[e] else losses[:1])]
            for effort, loss in runs:
                t0 = time.perf_counter()
                files = gzcodec.encode_batch(inputs, model=lm, rate=rate, effort=effort, loss=loss)
                seconds = (time.perf_counter() - t0) / len(inputs)
                decoded = [np.asarray(gzcodec.decode(f, model=lm)) for f in files]
                size = float(np.mean([len(f) for f in files]))
                pairs = list(zip(inputs, decoded, strict=True))
                quality = float(np.mean([psnr(m.pixels, d) for m, d in pairs]))
                similarity = float(np.mean([ssim(m.pixels, d) for m, d in pairs]))
                if base is None:
                    base = (size, quality)
                print(f"{rate:>4} {effort:>8} {loss if EFFORTS[effort] else '-':>7} "
                      f"{EFFORTS[effort]:>5} {size:>7.1f} {quality:>6.2f} "
                      f"{similarity:>6.3f} {quality - base[1]:>+10.2f} "
                      f"{100 * (size / base[0] - 1):>+12.1f}% {seconds:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
