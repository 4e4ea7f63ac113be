"""The context coder's table radius: PSNR and bytes at the top rates, and decode time, per radius.

Run from the repository root::

    nice -n 19 python benchmarks/table_radius.py ../shared/data/celeba128/val --n 12 \
        --radii 40,64,80,96,127 > results/decode-time/table-radius.txt
    python benchmarks/table_radius.py ../shared/data/celeba128/val --n 12 --radii 64,255,511 \
        --rates 170,212,255 [--windowed] --model results/training-face-v3/checkpoint.safetensors
    # (both, in results/training-face-v3/table-radius.txt)

A model's coder (the default's, or ``--model``'s) gets tables of each radius in
turn (the network is the same): the first ``--n`` faces are encoded at each of
``--rates`` (default 224 and 255) with effort ``none`` (the encoder's rounded
guess, so that only the coder differs), decoded and measured; the decode times
are the median of 5 passes over the faces encoded at rate 128 and at the last rate, one
torch thread.
``clamped@R`` is the mean number of latent elements a face (both latents of an
``enhanced`` model) that the coder moved to its window's edge at the last rate
``R`` (further than the radius from their predicted mean), which is what costs PSNR.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _models import load_model_or_checkpoint

import gzcodec
from gzcodec.codec import decode_symbols
from gzcodec.imageio import list_images, read_model_input
from gzcodec.metrics import psnr
from gzcodec.models import gaussian
from gzcodec.models.context_model import rate_position


def _guess(image, lm, rate: int) -> np.ndarray:
    """The encoder's rounded latents at ``rate`` (what effort ``none`` stores, before clamping)."""
    net = lm.network
    x = torch.from_numpy(image.pixels.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        guess = net.guess(net.analyse(x), torch.tensor([rate_position(rate, net.config.levels)]))
    e = getattr(guess, "e", None)  # an enhanced model's second latent, where its rate codes one
    parts = [guess.q[0]] if e is None else [guess.q[0], e[0]]
    return np.concatenate([p.numpy().astype(np.int64).reshape(-1) for p in parts])


def _stored(data: bytes, lm) -> np.ndarray:
    symbols = decode_symbols(data, model=lm).symbols
    q, _ = lm.entropy.split(symbols)
    e = lm.entropy.enhancement(symbols) if hasattr(lm.entropy, "enhancement") else None
    return np.concatenate([p.reshape(-1) for p in ([q] if e is None else [q, e])])


def _use_radius(coder, radius: int, *, windowed: bool) -> None:
    """Give ``coder`` (and an enhanced coder's base, whose tables it shares) tables of ``radius``."""
    windows = gaussian.scale_windows(radius) if windowed else None
    tables = gaussian.CodingTables(gaussian.build_tables(radius, windows), windows)
    for part in (coder, getattr(coder, "base", None)):
        if part is not None:
            part.tables = tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("faces")
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--radii", default="40,64,80,96,127")
    parser.add_argument("--rates", default="224,255", help="rate bytes measured (clamped: the last)")
    parser.add_argument("--windowed", action="store_true",
                        help="windowed tables (gaussian.scale_windows): only large scales' rows widen")
    parser.add_argument("--model", default=None,
                        help="name, id, weights path or training checkpoint (default: the default)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        lm = gzcodec.load_model() if args.model is None else load_model_or_checkpoint(args.model, Path(tmp))
    rates = [int(r) for r in args.rates.split(",")]
    images = [read_model_input(p, lm.config.image_size) for p in list_images(args.faces)[: args.n]]
    print(f"model {lm.id} ({lm.info.name}); first {len(images)} faces of {args.faces}; effort none; "
          + ("windowed tables (each scale's window: gaussian.scale_windows)" if args.windowed
             else "uniform tables"))
    print("radius  " + "  ".join(f"bytes@{r}  PSNR@{r}" for r in rates)
          + f"  clamped@{rates[-1]}  decode ms @128  @{rates[-1]}")
    for radius in (int(r) for r in args.radii.split(",")):
        _use_radius(lm.entropy, radius, windowed=args.windowed)
        cells = []
        for rate in rates:
            files = [gzcodec.encode(im, rate=rate, effort="none", model=lm) for im in images]
            quality = [psnr(im.pixels, np.asarray(gzcodec.decode(f, model=lm)))
                       for im, f in zip(images, files, strict=True)]
            cells += [np.mean([len(f) for f in files]), np.mean(quality)]
        # `files` are the last rate's here.
        clamped = np.mean([np.count_nonzero(_stored(f, lm) != _guess(im, lm, rates[-1]))
                           for im, f in zip(images, files, strict=True)])
        times = [_decode_ms([gzcodec.encode(im, rate=rate, effort="none", model=lm) for im in images], lm)
                 for rate in (128, rates[-1])]
        print(f"{radius:6d}  " + "  ".join(f"{cells[i]:9.1f}  {cells[i + 1]:8.2f}"
                                           for i in range(0, len(cells), 2))
              + f"  {clamped:11.2f}  {times[0]:8.1f}  {times[1]:8.1f}", flush=True)


def _decode_ms(files: list[bytes], lm) -> float:
    """Median over 5 passes of the mean decode time of ``files``, in ms."""
    passes = []
    for _ in range(5):
        start = time.perf_counter()
        for f in files:
            gzcodec.decode(f, model=lm)
        passes.append((time.perf_counter() - start) / len(files) * 1e3)
    return float(np.median(passes))


if __name__ == "__main__":
    main()
