"""The v2 coder's table radius: PSNR and bytes at the top rates, and decode time, per radius.

Run from the repository root::

    nice -n 19 python benchmarks/table_radius.py ../shared/data/celeba128/val --n 12 \
        --radii 40,64,80,96,127 > results/decode-time/table-radius.txt

The default model's coder gets tables of each radius in turn (the network is the
same): the first ``--n`` faces are encoded at rates 224 and 255 with effort
``none`` (the encoder's rounded guess, so that only the coder differs),
decoded and measured; the decode time is the median of 5 passes over the
faces encoded at rate 128, one torch thread. ``clamped@255`` is the mean number of
latent elements a face that the coder moved to its window's edge at rate 255 (further
than the radius from their predicted mean), which is what costs PSNR.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import gzcodec
from gzcodec.codec import decode_symbols
from gzcodec.imageio import list_images, read_model_input
from gzcodec.metrics import psnr
from gzcodec.models import gaussian
from gzcodec.models.context_model import rate_position
from gzcodec.payload import QuantizedRows


def _guess(image, lm, rate: int) -> np.ndarray:
    """The encoder's rounded latent at ``rate`` (what effort ``none`` stores, before clamping)."""
    net = lm.network
    x = torch.from_numpy(image.pixels.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        guess = net.guess(net.analyse(x), torch.tensor([rate_position(rate, net.config.levels)]))
    return guess.q[0].numpy().astype(np.int64)


def _stored(data: bytes, lm) -> np.ndarray:
    q, _ = lm.entropy.split(decode_symbols(data, model=lm).symbols)
    return q


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("faces")
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--radii", default="40,64,80,96,127")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lm = gzcodec.load_model()
    coder = lm.entropy
    images = [read_model_input(p, lm.config.image_size) for p in list_images(args.faces)[: args.n]]
    print(f"model {lm.id} ({lm.info.name}); first {len(images)} faces of {args.faces}; effort none")
    print("radius  bytes@224  PSNR@224  bytes@255  PSNR@255  clamped@255  decode ms (rate 128)")
    for radius in (int(r) for r in args.radii.split(",")):
        tables = gaussian.build_tables(radius)
        coder.table = QuantizedRows(tables.reshape(-1, tables.shape[-1]))
        coder.radius = radius
        cells = []
        for rate in (224, 255):
            files = [gzcodec.encode(im, rate=rate, effort="none", model=lm) for im in images]
            quality = [psnr(im.pixels, np.asarray(gzcodec.decode(f, model=lm)))
                       for im, f in zip(images, files, strict=True)]
            cells += [np.mean([len(f) for f in files]), np.mean(quality)]
        # `files` are rate 255's here, the loop's last.
        clamped = np.mean([np.count_nonzero(_stored(f, lm) != _guess(im, lm, 255))
                           for im, f in zip(images, files, strict=True)])
        files = [gzcodec.encode(im, rate=128, effort="none", model=lm) for im in images]
        passes = []
        for _ in range(5):
            start = time.perf_counter()
            for f in files:
                gzcodec.decode(f, model=lm)
            passes.append((time.perf_counter() - start) / len(files) * 1e3)
        print(f"{radius:6d}  {cells[0]:9.1f}  {cells[1]:8.2f}  {cells[2]:9.1f}  {cells[3]:8.2f}  "
              f"{clamped:11.2f}  {float(np.median(passes)):8.1f}", flush=True)


if __name__ == "__main__":
    main()
