"""Entropy-model comparison: training checkpoints of several variants at equal steps.

Each checkpoint is evaluated on the first ``--n`` validation faces at the
rate positions 0..6 (the encoder's guess, rounded; bytes are the information
content under the model, without header or coder overhead, the same for every
variant). BD-rate and BD-PSNR are against the first checkpoint named.

Usage::

    python benchmarks/entropy_models.py --val ../shared/data/celeba128/val --n 100 \\
        slices=runs/face-v2-step4000.safetensors hyper=runs/cmp-hyper/checkpoint.safetensors
"""

from __future__ import annotations

import argparse
import json

import torch

from gzcodec.bench.metrics import bd_psnr, bd_rate
from gzcodec.imageio import list_images, load_image, to_model_input
from gzcodec.train import evaluate, load_checkpoint


def _faces(folder: str, n: int) -> torch.Tensor:
    import numpy as np

    arrays = [to_model_input(load_image(p), 128)[0] for p in list_images(folder)[:n]]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="label=checkpoint.safetensors")
    parser.add_argument("--val", required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--json", help="also write the measurements here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    faces = _faces(args.val, args.n)
    results = {}
    for spec in args.runs:
        label, path = spec.split("=", 1)
        model, _, meta = load_checkpoint(path)
        rows = evaluate(model, faces, positions=tuple(float(r) for r in range(model.config.levels)))
        params = sum(p.numel() for p in model.prior.parameters())
        results[label] = {"step": int(meta["step"]), "prior_parameters": params,
                          "rows": [r.to_json() for r in rows],
                          "config": json.loads(meta["config"])}
    anchor = next(iter(results.values()))["rows"]
    pixels = 128 * 128

    def curve(rows):
        return [8 * r["bytes"] / pixels for r in rows], [r["psnr"] for r in rows]

    print(f"first {args.n} faces of {args.val}; bytes = information content (no header)")
    print(f"{'variant':<14} {'step':>6} {'prior params':>12}  "
          + "  ".join(f"r{r:g} B/dB".rjust(13) for r in range(len(anchor)))
          + f"  {'BD-rate':>8} {'BD-PSNR':>8}")
    for label, res in results.items():
        cells = "  ".join(f"{r['bytes']:6.0f}/{r['psnr']:5.2f}" for r in res["rows"])
        rate = bd_rate(*curve(anchor), *curve(res["rows"]))
        psnr = bd_psnr(*curve(anchor), *curve(res["rows"]))
        print(f"{label:<14} {res['step']:>6} {res['prior_parameters']:>12}  {cells}  "
              f"{rate:+7.1f}% {psnr:+7.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
