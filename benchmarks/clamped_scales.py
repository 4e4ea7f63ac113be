"""Which latent elements a ±64 window clamps: their predicted scales, at rates 128 and 255.

Run from the repository root (the basis of ``gaussian.TAIL_SIGMAS``)::

    python benchmarks/clamped_scales.py ../shared/data/celeba128/val \
        results/training-face-v3/checkpoint.safetensors > results/training-face-v3/clamped-scales.txt

For the first ``--n`` faces, the encoder's rounded base latent at each rate
and, per element, its snapped predicted scale and its distance from its
snapped mean, as the coder computes them (uniform ±64 tables).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from _models import load_model_or_checkpoint

from gzcodec.imageio import list_images, read_model_input
from gzcodec.models import gaussian
from gzcodec.models.context_model import rate_position


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("faces")
    parser.add_argument("model", help="name, id, weights path or training checkpoint")
    parser.add_argument("--n", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        lm = load_model_or_checkpoint(args.model, Path(tmp))
    coder = getattr(lm.entropy, "base", lm.entropy)
    net, ladder = lm.network, gaussian.scale_ladder()
    print(f"model {lm.id}; first {args.n} faces of {args.faces}; base latent, encoder's guess")
    for rate in (128, 255):
        scales, distances = [], []
        for path in list_images(args.faces)[: args.n]:
            x = torch.from_numpy(read_model_input(path, 128).pixels.copy()).permute(2, 0, 1)[None] / 255
            position = torch.tensor([rate_position(rate, net.config.levels)])
            with torch.no_grad():
                guess = net.guess(net.analyse(x.float()), position)
            q = guess.q[0].numpy().astype(np.int64)
            z = None if guess.z is None else guess.z[0].numpy().astype(np.int64)
            for start, width, snapped in coder._slices(rate, z):
                base, _, scale_index = snapped(q[:start])
                scales.append(ladder[scale_index].reshape(-1))
                distances.append((q[start:start + width] - base).reshape(-1))
        scale, distance = np.concatenate(scales), np.abs(np.concatenate(distances))
        out = distance > 64
        print(f"rate {rate}: {scale.size} elements; scale percentiles 50/90/99/100: "
              f"{np.percentile(scale, [50, 90, 99, 100]).round(2).tolist()}")
        print(f"  beyond ±64: {int(out.sum())}; smallest scale among them: "
              f"{scale[out].min().round(2) if out.any() else '-'}; at the ladder's top (48): "
              f"{int((out & (scale >= gaussian.SCALE_MAX - 1e-6)).sum())}")
        print(f"  largest distance in scales, any element: {float((distance / scale).max()):.1f}")


if __name__ == "__main__":
    main()
