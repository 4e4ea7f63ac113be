"""A v2 model against a committed bench run, face by face, at the bench's byte budgets.

``gzcodec bench`` (``results/celeba128-val200/results.json``) stores, for every
matched budget and every codec, the file each face got (the largest within the
budget, also downscaled). This encodes the same first ``--n`` faces with a v2
model at the same budgets (``max_bytes``, whole files, header included),
decodes them and prints the means next to the bench's picks for the same faces.
It re-measures nothing of the classic codecs: it is a quick check of a model
in training, not a replacement for ``gzcodec bench`` with the model.

Usage::

    python benchmarks/budget_compare.py CHECKPOINT_OR_WEIGHTS \\
        --bench results/celeba128-val200/results.json --val ../shared/data/celeba128/val --n 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _models import load_model_or_checkpoint

import gzcodec
from gzcodec.bench.records import BenchRun
from gzcodec.imageio import read_model_input
from gzcodec.metrics import psnr, ssim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--bench", required=True, help="results.json of a gzcodec bench run")
    parser.add_argument("--val", required=True, help="the folder that bench measured")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--budgets", default="0.1,0.15,0.2152,0.3,0.5",
                        help="matched-rate keys of the bench run: bpp in runs before "
                        "`--budgets`, bytes (e.g. 205,441) since")
    parser.add_argument("--effort", default="fast")
    args = parser.parse_args()
    bench = BenchRun.load(args.bench)
    with tempfile.TemporaryDirectory() as tmp:
        lm = load_model_or_checkpoint(args.model, Path(tmp))
        print(f"model {lm.id} ({lm.info.name}), effort {args.effort}; first {args.n} faces of "
              f"{args.val} against {args.bench}")
        print("PSNR dB / SSIM (faces that fit); bench rows are that run's picks for the same faces")
        for key in args.budgets.split(","):
            matched = bench.matched[key]
            budget = matched.budget_bytes
            picks = {c: {p.image: p.measurement for p in v.images}
                     for c, v in matched.codecs.items()}
            names = [p.image for p in matched.codecs["webp"].images][:args.n]
            inputs = [read_model_input(Path(args.val) / name, lm.config.image_size)
                      for name in names]
            t0 = time.perf_counter()
            files = gzcodec.encode_batch(inputs, model=lm, max_bytes=budget, effort=args.effort)
            seconds = (time.perf_counter() - t0) / len(inputs)
            decoded = [np.asarray(gzcodec.decode(f, model=lm)) for f in files]
            rows = {"v2 model": (np.mean([psnr(m.pixels, d) for m, d in zip(inputs, decoded,
                                                                              strict=True)]),
                                 np.mean([ssim(m.pixels, d) for m, d in zip(inputs, decoded,
                                                                             strict=True)]),
                                 len(files), float(np.mean([len(f) for f in files])))}
            for codec, by_name in picks.items():
                got = [by_name[n] for n in names if by_name.get(n) is not None]
                if got:
                    rows[codec] = (np.mean([g.psnr for g in got]),
                                   np.mean([g.ssim for g in got]), len(got),
                                   float(np.mean([g.nbytes for g in got])))
                else:
                    rows[codec] = (float("nan"), float("nan"), 0, float("nan"))
            print(f"\n{budget} bytes ({key} bpp); v2 encode {seconds:.2f} s/face")
            for codec, (p, s, n, b) in rows.items():
                print(f"  {codec:<10} {p:6.2f} / {s:.3f}   {n:>3}/{len(names)} fit, "
                      f"mean {b:6.1f} bytes")


if __name__ == "__main__":
    main()
