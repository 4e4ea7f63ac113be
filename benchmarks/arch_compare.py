"""Compare model architectures at fixed bytes: the encoder's guess on ``val`` faces.

For each checkpoint (or weights file / registry name) it evaluates the guess of
the first ``--n`` faces at rate positions every half level (bytes =
information content + the 14-byte header), and interpolates each face's PSNR
and SSIM at fixed whole-file budgets (linear in log bytes), averaged over the
faces whose curve reaches the budget. Used to choose face128-v3's design by
short runs at equal CPU time (results/v3-architecture/). Any hyperprior-context
model, enhanced ones included: the guess holds every latent the model codes at
that rate, and its bits count them all.

    python benchmarks/arch_compare.py face128-v2 runs/v3-armA/checkpoint.safetensors \\
        --val ../shared/data/celeba128/val --n 100
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from gzcodec.metrics import psnr, ssim
from gzcodec.models.context_model import ContextModel
from gzcodec.train import load_checkpoint, load_images

BUDGETS = (100, 150, 205, 307, 441, 614, 1024, 1536, 2048, 3072)
HEADER_BYTES = 14


def load(source: str) -> tuple[ContextModel, str]:
    path = Path(source)
    if path.is_file() and path.suffix == ".safetensors":
        try:
            model, _, meta = load_checkpoint(path)
            return model, (f"{source} (step {meta['step']}, "
                           f"{float(meta.get('cpu_seconds', 0)) / 3600:.2f} CPU-h)")
        except KeyError:
            pass
    from gzcodec.zoo import load_model

    loaded = load_model(source)
    return loaded.network, f"{source} ({loaded.id})"


@torch.no_grad()
def curves(model: ContextModel, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytes, PSNR and SSIM of every face (rows) at every half-level position (columns)."""
    model.eval()
    x = images.float() / 255
    y_u = model.analyse(x)
    positions = np.arange(0, model.config.levels - 0.99, 0.5)
    nbytes, p, s = [], [], []
    originals = images.permute(0, 2, 3, 1).numpy()
    for r in positions:
        guess = model.guess(y_u, torch.full((x.shape[0],), float(r)))
        out = torch.round(model.reconstruct(guess).clamp(0, 1) * 255).to(torch.uint8)
        out = out.permute(0, 2, 3, 1).numpy()
        nbytes.append(guess.bits.numpy() / 8 + HEADER_BYTES)
        p.append([psnr(a, b) for a, b in zip(originals, out, strict=True)])
        s.append([ssim(a, b) for a, b in zip(originals, out, strict=True)])
    return np.array(nbytes).T, np.array(p).T, np.array(s).T


def at_budgets(nbytes: np.ndarray, values: np.ndarray) -> list[tuple[float, int]]:
    """Mean over faces of ``values`` at each budget, and how many faces reach it."""
    out = []
    for budget in BUDGETS:
        got = []
        for b, v in zip(nbytes, values, strict=True):
            order = np.argsort(b)
            lb = np.log(b[order])
            if lb[0] <= math.log(budget) <= lb[-1]:
                got.append(float(np.interp(math.log(budget), lb, v[order])))
        out.append((float(np.mean(got)) if got else math.nan, len(got)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--val", required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_images(args.val, 128)[: args.n]
    rows = {}
    print(f"first {len(images)} faces of {args.val}; guess (no refinement); whole-file bytes "
          f"(information content + {HEADER_BYTES}); PSNR dB / SSIM at each budget [faces reaching it]")
    print(f"{'model':<34}" + "".join(f"{b:>14}" for b in BUDGETS))
    for source in args.models:
        model, label = load(source)
        t0 = time.process_time()
        nbytes, p, s = curves(model, images)
        pa, sa = at_budgets(nbytes, p), at_budgets(nbytes, s)
        rows[source] = {"label": label, "psnr": pa, "ssim": sa,
                        "range": [float(nbytes.min(axis=1).mean()), float(nbytes.max(axis=1).mean())],
                        "eval_cpu_s": time.process_time() - t0}
        cells = "".join(f"{v:>7.2f}/{w:.3f}" if n else f"{'-':>14}"
                        for (v, n), (w, _) in zip(pa, sa, strict=True))
        print(f"{Path(source).parent.name or source:<34}{cells}")
        low, high = rows[source]["range"]
        print(f"{'':<34}  {label}; mean bytes {low:.0f}..{high:.0f}; faces reaching: {[n for _, n in pa]}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
