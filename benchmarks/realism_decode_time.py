"""Decode time of the realistic decode against the fidelity decode, on the same files.

Run from the repository root, niced like every benchmark on a shared machine::

    nice -n 19 python benchmarks/realism_decode_time.py REALISM.safetensors examples --rate 40 \\
        --rounds 100

Each image of the folder is encoded once with the realism file's model at ``--rate``; then,
round after round, every file is decoded at β = 0 (the fidelity decode) and at ``--beta``
(the realism decoder) alternately, on one torch thread, so that both see the same machine
load. Prints the median decode time of each and their ratio (issue 22's target: within 1.5).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("realism", type=Path, help="a realism weights file")
    parser.add_argument("images", type=Path, help="a folder of images")
    parser.add_argument("--rate", type=int, default=40, help="rate index of the files (40: ~100 B)")
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # this checkout's gzcodec, whatever is installed
    import gzcodec
    from gzcodec.imageio import list_images
    from gzcodec.threads import set_threads
    from gzcodec.zoo.realism_file import read_realism_info

    set_threads(1)
    model = gzcodec.load_model(read_realism_info(args.realism).base_model_id)
    files = [gzcodec.encode(path, model=model, rate=args.rate) for path in list_images(args.images)]
    times: dict[float, list[float]] = {0.0: [], args.beta: []}
    for data in files:  # warm: the decoder is loaded once per process
        gzcodec.decode(data, realism=args.beta, realism_weights=args.realism)
    for _ in range(args.rounds):
        for data in files:
            for beta in times:
                start = time.perf_counter()
                gzcodec.decode(data, model=model, realism=beta, realism_weights=args.realism)
                times[beta].append(time.perf_counter() - start)
    fidelity, realistic = (1000 * statistics.median(times[b]) for b in times)
    print(f"{len(files)} files of {model.info.name} at rate {args.rate}, {args.rounds} rounds, one thread")
    print(f"fidelity decode (beta 0): {fidelity:.2f} ms; realism decoder (beta {args.beta:g}): "
          f"{realistic:.2f} ms; ratio {realistic / fidelity:.3f}")


if __name__ == "__main__":
    main()
