"""Decode time of the default model, split into entropy decoding and generator, old and new side by side.

Run from the repository root, niced like every benchmark on a shared machine::

    nice -n 19 python benchmarks/decode_time.py ../shared/data/celeba128/val --n 50 \
        --baseline /path/to/an/older/checkout

Each face is encoded once (default settings, current tree), then every file
is decoded in a fresh child process per tree with one torch thread, the trees
alternating round after round so that both see the same machine load. A
round times, for every file, :func:`gzcodec.decode` (what a user waits for),
:func:`gzcodec.codec.decode_symbols` (container, model lookup, entropy
decoding and the canonical-payload check) and the rest (the generator and the
conversion to an image). The figure reported per tree and stage is the median
over rounds of the mean per file. ``--baseline`` is any tree with a
``gzcodec/`` package that reads the same files (e.g. ``git worktree add``).

Prints a Markdown table; ``--out FILE`` also writes it there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import command_line, emit, machine

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
import gzcodec
from gzcodec.codec import decode_symbols
files = [open(p, "rb").read() for p in json.loads(sys.argv[1])]
for data in files[:2]:  # warm-up: model load, first-call allocations
    gzcodec.decode(data)
total = symbols = 0.0
for data in files:
    t0 = time.perf_counter(); gzcodec.decode(data); t1 = time.perf_counter()
    decode_symbols(data); t2 = time.perf_counter()
    total += t1 - t0; symbols += t2 - t1
n = len(files)
print(json.dumps({"decode": total / n * 1e3, "symbols": symbols / n * 1e3,
                  "generator": (total - symbols) / n * 1e3, "module": gzcodec.__file__}))
"""


def _round(tree: Path, paths: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    # cwd=tree too: "python -c" puts the working folder first on sys.path.
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(paths)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("faces", type=Path, help="folder of images to encode (the first --n, sorted)")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another tree to time the same files with")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import gzcodec
    from gzcodec.zoo import DEFAULT_MODEL

    images = sorted(p for p in args.faces.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    images = images[: args.n]
    if not images:
        sys.exit(f"error: no images in {args.faces}")
    trees = {"current": ROOT}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, data in enumerate(gzcodec.encode_batch([str(p) for p in images])):
            path = Path(tmp) / f"{i:04d}.gzl"
            path.write_bytes(data)
            paths.append(str(path))
        mean_bytes = sum(Path(p).stat().st_size for p in paths) / len(paths)
        rounds: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                rounds[name].append(_round(tree, paths))

    lines = [
        command_line(__file__, runner="nice -n 19 python"),
        "",
        f"{len(paths)} files of the default model ({DEFAULT_MODEL}, default settings),"
        f" {mean_bytes:.0f} B on average; one torch thread; median over {args.rounds} rounds of the"
        f" mean per file; {machine()}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| tree | decode (ms/file) | entropy decoding | generator and image |",
        "|---|---:|---:|---:|",
    ]
    for name, results in rounds.items():
        med = {k: statistics.median(r[k] for r in results) for k in ("decode", "symbols", "generator")}
        lines.append(f"| {name} (`{Path(results[0]['module']).parent.parent}`) | {med['decode']:.1f} | "
                     f"{med['symbols']:.1f} | {med['generator']:.1f} |")
    text = "\n".join(lines) + "\n"
    emit(text, args.out)


if __name__ == "__main__":
    main()
