"""Which model ``--model auto`` keeps for each domain: issue 23's target 4.

Encodes the first ``--n`` images (sorted) of each domain's folder with
``gzcodec.encode(image, model="auto", max_bytes=...)``, every installed model
competing (``gzcodec models``), and counts, per domain, how often the kept
file names the domain's own model (its header's model id). Also the mean
PSNR of the kept files, and of the own model's file alone, so a wrong pick
that costs little shows as such.

    python benchmarks/auto_choice.py --domain face128-v2=../shared/data/celeba128/val \\
        --domain cat128=../shared/data/afhqcat128/val --n 100 --max-bytes 441 \\
        --json results/data-specificity/auto-choice.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

import gzcodec
from gzcodec.imageio import list_images, load_image, model_input
from gzcodec.metrics import psnr
from gzcodec.zoo import find_model, list_models


def _psnr(data: bytes, reference) -> float:
    return float(psnr(reference, np.asarray(gzcodec.decode(data))))


def run_domain(own: str, folder: Path, *, n: int, max_bytes: int) -> dict:
    """The auto choice on the first ``n`` images of ``folder``, whose own model is ``own``."""
    own_id = find_model(own).id
    names = {info.id[:8]: info.name for info in list_models()}
    files = list_images(folder)[:n]  # the bench's order and its notion of an image
    kept, psnr_auto, psnr_own = Counter(), [], []
    for path in files:
        image = load_image(path)
        reference = model_input(image, 128).pixels
        data = gzcodec.encode(image, model="auto", max_bytes=max_bytes)
        kept[names.get(gzcodec.read_header(data).model_id_hex, "?")] += 1
        psnr_auto.append(_psnr(data, reference))
        psnr_own.append(_psnr(gzcodec.encode(image, model=own, max_bytes=max_bytes), reference))
    return {"folder": str(folder), "own_model": own, "own_id": own_id, "images": len(files),
            "kept": dict(kept), "own_share": kept[names[own_id[:8]]] / len(files),
            "mean_psnr_auto": sum(psnr_auto) / len(files), "mean_psnr_own": sum(psnr_own) / len(files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", action="append", required=True, metavar="MODEL=FOLDER",
                        help="a domain's own model and its folder (repeatable)")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--max-bytes", type=int, default=441)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.time()
    record = {"max_bytes": args.max_bytes, "installed": [m.name for m in list_models()], "domains": []}
    for domain in args.domain:
        own, _, folder = domain.partition("=")
        result = run_domain(own, Path(folder), n=args.n, max_bytes=args.max_bytes)
        record["domains"].append(result)
        print(f"{folder}: {result['own_share']:.1%} kept {own} of {result['images']} "
              f"(kept: {result['kept']}); mean PSNR auto {result['mean_psnr_auto']:.2f} dB, "
              f"{own} alone {result['mean_psnr_own']:.2f} dB")
    record["seconds"] = round(time.time() - start, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
