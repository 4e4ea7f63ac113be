"""At which scale the realistic decode departs from the original: error of block means, β = 0 and 1.

Run from the repository root, niced like every benchmark on a shared machine::

    nice -n 19 python benchmarks/realism_scales.py ../shared/data/celeba128/val --n 64 \\
        --rate 40 --rate 72 --rate 96

Each of the folder's first ``--n`` images (sorted; 128×128, as the bench's sets) is encoded
once per ``--rate`` with the default model at the default effort; each file is decoded at
β = 0 (the fidelity decode) and β = 1 (the bundled realism decoder). For block sizes 1
(pixels) to 16, the mean squared error of the decode's block means against the original's,
mean over images: a ratio β=1 / β=0 near 1 at a block size says the realism decoder keeps
what the fidelity decode has at that scale; a ratio above 1 says it moves the image there.
Issue 22 asked whether holding the coarse scales (the face's layout) could keep identity at
β = 1: the answer is in the coarse columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from skimage.measure import block_reduce

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = (1, 2, 4, 8, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", type=Path, help="a folder of images")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--rate", type=int, action="append", help="rate index (repeatable)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # this checkout's gzcodec, whatever is installed
    import gzcodec
    from gzcodec.imageio import list_images, load_image
    from gzcodec.threads import set_threads

    set_threads(1)
    paths = list_images(args.images)[: args.n]
    originals = [np.asarray(load_image(p).convert("RGB"), dtype=np.float64) / 255 for p in paths]
    print(f"{len(paths)} images of {args.images}, default model, one thread; "
          "block-mean MSE ×10³ β=0 / β=1 (ratio)")
    print("rate  bytes  " + "  ".join(f"{f'{b}×{b}':>20}" for b in BLOCKS))
    for rate in args.rate or [40, 72, 96]:
        errors = np.zeros((2, len(BLOCKS)))
        size = 0
        for path, original in zip(paths, originals, strict=True):
            data = gzcodec.encode(path, rate=rate)
            size += len(data)
            for row, beta in enumerate((0.0, 1.0)):
                decoded = np.asarray(gzcodec.decode(data, realism=beta), dtype=np.float64) / 255
                for col, block in enumerate(BLOCKS):
                    diff = (block_reduce(decoded, (block, block, 1), np.mean)
                            - block_reduce(original, (block, block, 1), np.mean))
                    errors[row, col] += np.mean(diff**2) / len(paths)
        cells = [f"{1e3 * e0:.3f}/{1e3 * e1:.3f} ({e1 / e0:.2f})" for e0, e1 in errors.T]
        print(f"{rate:4d}  {size / len(paths):5.0f}  " + "  ".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
