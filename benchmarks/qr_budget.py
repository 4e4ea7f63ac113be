"""Faces in QR codes: the code each level needs for the default encode, and a fixed code's face.

For the first ``--n`` images of a folder (sorted by name), as ``gzcodec encode --qr`` makes
them with the bundled default model:

* the default encode (``--bits 5``): its bytes and the smallest QR version that holds it
  at each level L, M, Q, H (min / median / max over the faces);
* ``--qr-version V --qr-level LEVEL`` (default 10 and M: 213 bytes): the best face that
  fits, its bytes and PSNR (``gzcodec.metrics.psnr``) against the 128x128 image the model
  sees; each code is read back (``gzcodec.qr.read_qr``) and must give the file bit for bit.

Prints a report (``--out`` also writes it). The images are only read, never copied.

Usage::

    python benchmarks/qr_budget.py ../shared/data/celeba128/val --n 50 --out results/qr/budget-val50.txt
    python benchmarks/qr_budget.py examples/face.png
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import gzcodec
from gzcodec import encode_qr
from gzcodec.imageio import IMAGE_SUFFIXES, read_model_input
from gzcodec.metrics import psnr
from gzcodec.qr import LEVELS, capacity, read_qr, smallest_version


def _images(source: Path, n: int) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:n]
    return [source]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="A folder of images, or one image.")
    parser.add_argument("--n", type=int, default=50, help="The first N images of the folder.")
    parser.add_argument("--qr-version", type=int, default=10)
    parser.add_argument("--qr-level", default="M", choices=LEVELS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    model = gzcodec.load_model()
    images = _images(args.source, args.n)
    budget = capacity(args.qr_version, args.qr_level)
    default_bytes: list[int] = []
    versions: dict[str, list[int]] = {level: [] for level in LEVELS}
    fitted_bytes: list[int] = []
    fitted_psnr: list[float] = []
    start = time.time()
    for path in images:
        reference = read_model_input(path, model.config.image_size)
        data = gzcodec.encode(reference, model=model)
        default_bytes.append(len(data))
        for level in LEVELS:
            versions[level].append(smallest_version(len(data), level))
        fitted, code = encode_qr(reference, model=model, version=args.qr_version,
                                 level=args.qr_level)
        if read_qr(code.png) != fitted:
            raise SystemExit(f"{path.name}: the QR code did not read back as its file")
        decoded = np.asarray(gzcodec.decode(fitted))
        fitted_bytes.append(len(fitted))
        fitted_psnr.append(psnr(reference.pixels, decoded))
    seconds = time.time() - start

    def spread(values: list[float], fmt: str) -> str:
        return (f"mean {format(statistics.fmean(values), fmt)}, min {format(min(values), fmt)}, "
                f"median {format(statistics.median(values), fmt)}, max {format(max(values), fmt)}")

    lines = [
        f"command: python benchmarks/qr_budget.py {' '.join(sys.argv[1:])}".rstrip(),
        f"model: {model.info.name} ({model.id}); {len(images)} images from {args.source.name} "
        f"(sorted, the first {len(images)}); {seconds:.0f} s",
        "",
        f"default encode (--bits 5): bytes {spread(default_bytes, '.1f')}",
        "smallest QR version holding it (8 px a module: side in px = 8 * (17 + 4 v + 8)):",
    ]
    for level in LEVELS:
        vs = versions[level]
        lines.append(f"  level {level}: min {min(vs)}, median {statistics.median(vs):g}, max {max(vs)}"
                     f"  (holds {capacity(max(vs), level)} bytes at the max)")
    lines += [
        "",
        f"--qr-version {args.qr_version} --qr-level {args.qr_level} ({budget} bytes in byte mode); "
        f"every code read back bit for bit:",
        f"  bytes {spread(fitted_bytes, '.1f')}",
        f"  PSNR dB {spread(fitted_psnr, '.2f')}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
