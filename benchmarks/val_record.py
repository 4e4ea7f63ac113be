"""A checkpoint's validation record, as training logs it: bytes, PSNR and SSIM of the guess.

``gzcodec.train.evaluate`` on the first 16 images of a folder, at every other trained
level and the top one: the figures a run's ``log.jsonl`` holds, for a checkpoint written
before the log carried SSIM, or to compare two runs on the same faces.

Usage::

    python benchmarks/val_record.py runs/face-v2-end.safetensors \\
        --val ../shared/data/celeba128/val
"""

from __future__ import annotations

import argparse

import torch

from gzcodec.train import VAL_IMAGES, evaluate, load_checkpoint, validation_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--val", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _, meta = load_checkpoint(args.checkpoint)
    val = validation_images(args.val, model.config.image_size)
    print(f"{args.checkpoint}: step {meta['step']}; first {VAL_IMAGES} images of {args.val}, encoder's guess")
    print(f"{'position':>8} {'bytes':>6} {'PSNR':>6} {'SSIM':>6}")
    for row in evaluate(model, val):
        print(f"{row.position:>8g} {row.nbytes:>6.0f} {row.psnr:>6.2f} {row.ssim:>6.3f}")


if __name__ == "__main__":
    main()
