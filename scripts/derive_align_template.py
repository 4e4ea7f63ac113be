"""Derive the alignment template from the training faces: ``gzcodec/align/template.json``.

Runs the landmark detector of ``gzcodec.align`` over the first ``--n`` files
(sorted) of a folder of training crops, for each of CelebA's two crop
conventions (``../shared/data/README.md``: CelebA's test partition, ids
182638 and up, cut as centre squares of about 200x200 face crops; the other
ids, ``img_align_celeba`` cut to the box (0, 20, 178, 198)), and writes the mean
landmark positions. If the two conventions put the eyes more than
``--agree`` pixels apart, the majority's (more training images) is used.

    python scripts/derive_align_template.py ../shared/data/celeba128/train --n 3000 \
        --out gzcodec/align/template.json --report results/align/template.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gzcodec.align.detect import find_faces
from gzcodec.align.template import eye_centres

#: The repository's root: recorded paths are relative to it (``../shared/...``), not to one machine.
REPOSITORY = Path(__file__).resolve().parent.parent
#: CelebA's test partition starts at this image id (list_eval_partition.txt).
CELEBA_TEST_FIRST_ID = 182638


def recorded_path(folder: Path) -> str:
    """``folder`` as the template records it: relative to the repository, ``/`` separated.

    The template ships in the package, so a path of the machine it was derived
    on (``/work/shared/...``) would mean nothing to its readers.
    """
    return Path(os.path.relpath(Path(folder).resolve(), REPOSITORY)).as_posix()


def convention(path: Path) -> str:
    return "test-partition-square" if int(path.stem) >= CELEBA_TEST_FIRST_ID else "img_align_celeba"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--n", type=int, default=3000, help="files per convention (first in sorted order)")
    parser.add_argument("--agree", type=float, default=1.0, help="largest eye gap (px) called agreement")
    parser.add_argument("--out", type=Path, default=Path("gzcodec/align/template.json"))
    parser.add_argument("--report", type=Path, default=Path("results/align/template.json"))
    args = parser.parse_args()

    files = sorted(args.folder.glob("*.jpg"))
    counts = {name: sum(convention(f) == name for f in files)
              for name in ("test-partition-square", "img_align_celeba")}
    groups: dict[str, dict] = {}
    start = time.perf_counter()
    for name in counts:
        chosen = [f for f in files if convention(f) == name][:args.n]
        points, missed = [], 0
        for path in chosen:
            crop = np.asarray(Image.open(path).convert("RGB"))
            # Faces of about 70 pixels in a 128 crop: look for 40 and up (the crop scaled x2).
            faces = find_faces(crop, min_face=40)
            if not faces:
                missed += 1
                continue
            points.append(faces[0].landmarks)
        stack = np.stack(points)
        eyes = eye_centres(stack)
        groups[name] = {
            "images": len(chosen), "found": len(points), "missed": missed,
            "landmarks": stack.mean(0).round(3).tolist(),
            "landmarks_median": np.median(stack, 0).round(3).tolist(),
            "landmarks_std": stack.std(0).round(3).tolist(),
            "eye_centres": eyes.mean(0).round(3).tolist(),
            "eye_distance": float(np.linalg.norm(eyes[:, 0] - eyes[:, 1], axis=-1).mean().round(3)),
        }
    majority = max(counts, key=counts.get)
    minority = min(counts, key=counts.get)
    gap = float(np.abs(np.array(groups[majority]["eye_centres"])
                       - np.array(groups[minority]["eye_centres"])).max())
    agree = gap <= args.agree
    if agree:  # one template from every face found, each convention weighted by its training share
        weights = {name: counts[name] / sum(counts.values()) for name in counts}
        landmarks = sum(np.array(groups[name]["landmarks"]) * weights[name] for name in counts)
        used = "both, weighted by their training images"
    else:
        landmarks = np.array(groups[majority]["landmarks"])
        used = f"{majority} (the majority: {counts[majority]} of {sum(counts.values())} training images)"
    template = {
        "size": 128,
        "landmarks": np.round(landmarks, 3).tolist(),
        "derived_by": "scripts/derive_align_template.py",
        "source": f"{recorded_path(args.folder)} (first {args.n} files of each crop convention, sorted)",
        "conventions_agree": agree,
        "used": used,
    }
    report = {"template": template, "training_images_by_convention": counts, "groups": groups,
              "largest_eye_gap_between_conventions_px": round(gap, 3),
              "seconds": round(time.perf_counter() - start, 1)}
    args.out.write_text(json.dumps(template, indent=1) + "\n")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
