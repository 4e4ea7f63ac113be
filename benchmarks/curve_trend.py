"""What more training would give: validation PSNR at fixed bytes against CPU-hours.

Reads a run's ``log.jsonl`` (a validation record every ``val_every`` steps:
estimated bytes and PSNR of the encoder's guess at several rate positions, 16
``val`` faces) and, so that a level whose bytes drift does not read as a gain
or a loss, interpolates every record's rate-distortion points at fixed byte
budgets (PSNR linear in log bytes). It prints

- PSNR at each budget, averaged over the records of each CPU-hour window
  (the records are noisy, about +-0.1 dB), and at the last record;
- the least-squares slope of PSNR against log2(CPU-hours) over the records
  from ``--from-hours`` to ``--to-hours`` (a constant-learning-rate stretch):
  dB per doubling of training, and what it predicts at twice and four times
  the last hour of the fit.

A run started with ``gzcodec train --init-from`` counts its CPU time from 0;
``--start-hours`` adds the hours already spent on the model it started from, so
that its records line up with that run's. ``--metric ssim`` reads SSIM instead
of PSNR (records written since the log carries it).

Usage::

    python benchmarks/curve_trend.py results/training-face-v2/log.jsonl \\
        --from-hours 2 --to-hours 10.3 > results/training-face-v2/curve-trend.txt
    python benchmarks/curve_trend.py runs/face-v2-more/log.jsonl --start-hours 12.57
    python benchmarks/curve_trend.py results/training-face-v3/log.jsonl --from-hours 2 \
        --windows 0,1,2,3,4,5,6,7,8,9,10,11 --budgets 110,256,512,1024,1536,2048,2700
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

BUDGETS = (100, 200, 300, 440, 600, 800)


def metric_at(rows: list[dict], budget: float, metric: str = "psnr") -> float:
    """``metric`` (PSNR or SSIM) at ``budget`` bytes on one record's curve (nan outside its byte range)."""
    points = sorted((r["bytes"], r[metric]) for r in rows)
    sizes = np.log([b for b, _ in points])
    if not sizes[0] <= math.log(budget) <= sizes[-1]:
        return math.nan
    return float(np.interp(math.log(budget), sizes, [p for _, p in points]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--from-hours", type=float, default=2.0)
    parser.add_argument("--to-hours", type=float, default=math.inf)
    parser.add_argument("--windows", default="0,1,2,4,6,8,10,12,15",
                        help="edges of the CPU-hour windows of the table")
    parser.add_argument("--start-hours", type=float, default=0.0,
                        help="CPU-hours spent on the model before this log's run began")
    parser.add_argument("--metric", choices=("psnr", "ssim"), default="psnr")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)),
                        help="byte budgets, comma-separated (bytes without the header)")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    records = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
    records = [r for r in records if all(args.metric in row for row in r["val"])]
    if not records:
        parser.error(f"no validation record in {args.log} carries {args.metric}")
    hours = np.array([args.start_hours + r["cpu_seconds"] / 3600 for r in records])
    table = np.array([[metric_at(r["val"], b, args.metric) for b in budgets] for r in records])
    fmt = "7.2f" if args.metric == "psnr" else "7.3f"
    name = "PSNR (dB)" if args.metric == "psnr" else "SSIM"

    print(f"{args.log}: {len(records)} validation records, steps {records[0]['step']}.."
          f"{records[-1]['step']}, {hours[-1]:.2f} CPU-hours")
    print(f"{name} of the encoder's guess at fixed bytes (16 val faces), mean per window")
    print(f"{'CPU-hours':>12} {'records':>7} " + " ".join(f"{b:>6}B" for b in budgets))
    edges = [float(e) for e in args.windows.split(",")]
    for lo, hi in zip(edges, [*edges[1:], math.inf], strict=True):
        inside = (hours >= lo) & (hours < hi)
        if inside.any():
            cells = np.nanmean(table[inside], axis=0)
            label = f"{lo:g}-{hi:g}" if math.isfinite(hi) else f"{lo:g}-"
            print(f"{label:>12} {int(inside.sum()):>7} "
                  + " ".join(f"{c:>{fmt}}" for c in cells))

    print(f"{'last record':>12} {'step ' + str(records[-1]['step']):>7} "
          + " ".join(f"{c:>{fmt}}" for c in table[-1]))

    fit = (hours >= args.from_hours) & (hours <= args.to_hours)
    last = hours[fit].max()
    print(f"\nslope over {int(fit.sum())} records from {args.from_hours:g} to {last:.2f} "
          f"CPU-hours: {args.metric.upper()} = a + s * log2(hours)")
    unit = "dB" if args.metric == "psnr" else "SSIM"
    print(f"{'budget':>7} {f's ({unit}/doubling)':>16} {f'at {last:.1f} h':>10} "
          f"{f'at {2 * last:.1f} h':>10} {f'at {4 * last:.1f} h':>10}")
    for j, budget in enumerate(budgets):
        y = table[fit, j]
        ok = ~np.isnan(y)
        if ok.sum() < 3:
            continue
        slope, intercept = np.polyfit(np.log2(hours[fit][ok]), y[ok], 1)
        at = [intercept + slope * math.log2(h) for h in (last, 2 * last, 4 * last)]
        print(f"{budget:>6}B {slope:>+16.4f} " + " ".join(f"{a:>10.3f}" for a in at))


if __name__ == "__main__":
    main()
