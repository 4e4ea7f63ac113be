"""Are decoded pixels the same on 1, 2 and 3 torch threads, and what does making them so cost?

Encodes ``--n`` faces once (``--effort none``: which latent a file holds does not matter
here), then decodes every file on 1, 2 and 3 threads (as ``GZCODEC_THREADS`` would), with
oneDNN's convolutions (torch's default, the decode before issue 26) and without them (the
decode now, :func:`gzcodec.threads.same_pixels_on_any_threads`), and counts the faces whose
pixels differ from the 1-thread decode. Then times both decodes on one thread (gzcodec's
default), interleaved file by file, ``--repeats`` times each: the median is the figure.

Usage (CelebA is for measuring only; nothing from it is written but the counts)::

    GZCODEC_THREADS=1 python benchmarks/thread_exactness.py --faces ../shared/data/celeba128/val \\
        --n 48 --json results/thread-exactness/summary.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import gzcodec
from gzcodec import codec
from gzcodec.imageio import list_images
from gzcodec.threads import same_pixels_on_any_threads, set_threads


def decode(data: bytes, threads: int, *, exact: bool) -> np.ndarray:
    set_threads(threads)
    # The decode before the fix: oneDNN left on (the context manager made a no-op).
    codec.same_pixels_on_any_threads = (same_pixels_on_any_threads if exact
                                        else contextlib.nullcontext)
    return np.asarray(gzcodec.decode(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, required=True)
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    set_threads(1)
    files = [gzcodec.encode(p, effort="none") for p in list_images(args.faces)[:args.n]]
    summary: dict = {"faces": len(files), "torch": torch.__version__,
                     "torch_default_threads": torch.get_num_threads()}
    for exact in (False, True):
        label = "without_onednn" if exact else "with_onednn"
        one = [decode(f, 1, exact=exact) for f in files]
        for n in (2, 3):
            other = [decode(f, n, exact=exact) for f in files]
            diffs = [np.abs(a.astype(int) - b.astype(int)) for a, b in zip(one, other, strict=True)]
            summary[f"{label}_faces_differing_1_vs_{n}_threads"] = sum(bool(d.any()) for d in diffs)
            summary[f"{label}_values_differing_1_vs_{n}_threads"] = sum(int((d > 0).sum())
                                                                        for d in diffs)
            summary[f"{label}_largest_difference_1_vs_{n}_threads"] = max(int(d.max()) for d in diffs)
    times: dict[bool, list[float]] = {False: [], True: []}
    for f in files:
        for _ in range(args.repeats):
            for exact in (False, True):
                t0 = time.perf_counter()
                decode(f, 1, exact=exact)
                times[exact].append(time.perf_counter() - t0)
    before, after = statistics.median(times[False]), statistics.median(times[True])
    summary.update(median_decode_s_with_onednn=round(before, 5),
                   median_decode_s_without_onednn=round(after, 5),
                   decode_time_cost_pct=round(100 * (after / before - 1), 1))
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
