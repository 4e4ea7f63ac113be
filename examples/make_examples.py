"""Make the shipped example images that are not photographs: faces sampled from face128's generator.

A Gaussian (mean and covariance) is fitted to the encoder's latents of the first 4,000
training faces; latents drawn from it (temperature 0.7) are decoded by the generator. The
result is the generator's own output, not any training image, so it may ship with the
project (tests use it), unlike the CelebA images themselves.

    python examples/make_examples.py ../shared/data/celeba128/train
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import gzcodec
from gzcodec.imageio import list_images, load_training_images
from gzcodec.models import quantize

HERE = Path(__file__).parent
BITS, COUNT, TEMPERATURE, SEED = 8, 3, 0.7, 0


def main(train_dir: str) -> None:
    model = gzcodec.load_model("face128")  # the generator they were made with
    net = model.network
    images = load_training_images(list_images(train_dir)[:4000], size=net.config.image_size)
    with torch.no_grad():
        latents = torch.cat([net.encode_latent(images[i:i + 250].float() / 255, BITS)
                             for i in range(0, len(images), 250)])
    flat = latents.flatten(1).double()
    mean = flat.mean(0)
    cov = torch.cov(flat.T) + 1e-4 * torch.eye(flat.shape[1], dtype=torch.float64)
    chol = torch.linalg.cholesky(cov)
    gen = torch.Generator().manual_seed(SEED)
    noise = torch.randn(COUNT, flat.shape[1], generator=gen, dtype=torch.float64)
    samples = (mean + TEMPERATURE * noise @ chol.T).float().view(COUNT, *latents.shape[1:])
    step = net.config.step(BITS)
    with torch.no_grad():
        x = net.generate(quantize(net.clip(samples, BITS), step), BITS).clamp(0, 1)
    for i, im in enumerate(x, start=1):
        arr = (im.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        Image.fromarray(arr).save(HERE / f"generated-{i}.png", optimize=True)
        print(HERE / f"generated-{i}.png")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/celeba128/train")
