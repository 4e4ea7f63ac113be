"""Make a synthetic in-the-wild set of photos from aligned face crops, with ground truth.

Each face crop is turned by up to +-20 degrees, scaled so that the face (the
detector's box on the crop) spans 60-180 pixels, moved to a random place and
pasted through a soft elliptical mask into a 256-1024 pixel background made
of another image cut into shuffled, flipped tiles (so it holds no second
face). One picture in five holds two faces; one in four is 1024 pixels on its
long side (for the time measurement). Ground truth, per face: the transform
(crop -> picture, scikit-image pixel-centre coordinates) and the eye centres
the landmark detector finds on the *original* crop, mapped through it. Faces
whose original crop the detector misses are skipped (no ground truth) and
counted.

    python scripts/make_wild_set.py ../shared/data/celeba128/val --pictures 200 --out runs/wild

Writes ``runs/wild/NNNN.png`` and ``runs/wild/truth.json``. Never commit the
output: it is made of CelebA pixels.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from gzcodec.align.detect import find_faces
from gzcodec.align.geometry import face_mask, paste_face
from gzcodec.align.template import eye_centres

#: The ellipse the faces are pasted through (wider than the decoder's, so hair shows too).
PASTE_MASK = dict(width=0.9, height=1.0, feather=0.25)


def shuffled_tiles(source: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                   tile: int = 16) -> np.ndarray:
    """A ``size`` (width, height) background of ``source``'s tiles, shuffled, flipped and turned."""
    n = source.shape[0] // tile
    tiles = [source[y * tile:(y + 1) * tile, x * tile:(x + 1) * tile] for y in range(n) for x in range(n)]
    order = rng.permutation(len(tiles))
    tiles = [np.rot90(tiles[i], rng.integers(4)) for i in order]
    tiles = [t[:, ::-1] if rng.random() < 0.5 else t for t in tiles]
    grid = np.concatenate([np.concatenate(tiles[r * n:(r + 1) * n], 1) for r in range(n)], 0)
    return np.asarray(Image.fromarray(np.ascontiguousarray(grid)).resize(size, Image.Resampling.BICUBIC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("val", type=Path, help="folder of aligned crops (val)")
    parser.add_argument("--pictures", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/wild"))
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    files = sorted(args.val.glob("*.jpg"))
    order = list(rng.permutation(len(files)))
    args.out.mkdir(parents=True, exist_ok=True)
    mask = face_mask(128, **PASTE_MASK)
    pictures, skipped = [], []

    def next_face() -> tuple[Path, np.ndarray, object]:
        while True:
            path = files[order.pop()]
            crop = np.asarray(Image.open(path).convert("RGB"))
            found = find_faces(crop, min_face=40)
            if found:
                return path, crop, found[0]
            skipped.append(path.name)

    for index in range(args.pictures):
        n_faces = 2 if index % 5 == 4 else 1
        faces = [next_face() for _ in range(n_faces)]
        background_file = files[order.pop()]
        spans = rng.uniform(60, 180, n_faces)
        scales = [span / (f[2].box[2] - f[2].box[0]) for f, span in zip(faces, spans, strict=True)]
        # The rotated crop's bounding box (its diagonal, at worst), so that a face fits whole.
        reach = [128 * s * math.sqrt(2) for s in scales]
        need = max(256, math.ceil(sum(reach) + 8) if n_faces == 2 else math.ceil(max(reach) + 8))
        long_side = 1024 if index % 4 == 0 else int(rng.integers(max(256, need), 1025))
        short_side = int(rng.integers(max(256, min(need, long_side)), long_side + 1))
        width, height = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
        while True:  # places for the faces' centres, far enough apart not to overlap
            centres = [(rng.uniform(r / 2, width - r / 2), rng.uniform(r / 2, height - r / 2))
                       for r in reach]
            if n_faces == 1 or math.dist(*centres) > (reach[0] + reach[1]) / 2:
                break
        background = np.asarray(Image.open(background_file).convert("RGB"))
        picture = shuffled_tiles(background, (width, height), rng)
        truth = []
        for (path, crop, found), scale, centre in zip(faces, scales, centres, strict=True):
            angle = math.radians(rng.uniform(-20, 20))
            middle = SimilarityTransform(scale=scale, rotation=angle)(np.array([[63.5, 63.5]]))[0]
            transform = SimilarityTransform(scale=scale, rotation=angle,
                                            translation=np.array(centre) - 0.5 - middle)
            picture = paste_face(picture, crop, transform, mask=mask)
            truth.append({"crop": path.name, "transform": transform.params.round(6).tolist(),
                          "face_span": round(float(found.box[2] - found.box[0]) * scale, 2),
                          "angle_degrees": round(math.degrees(angle), 3),
                          "crop_landmarks": found.landmarks.round(3).tolist(),
                          "eyes": transform(eye_centres(found.landmarks)).round(3).tolist()})
        name = f"{index:04d}.png"
        Image.fromarray(picture).save(args.out / name)
        pictures.append({"file": name, "size": [width, height], "background": background_file.name,
                         "faces": truth})
    record = {"command": "python scripts/make_wild_set.py " + " ".join(
                  [str(args.val), "--pictures", str(args.pictures), "--seed", str(args.seed),
                   "--out", str(args.out)]),
              "pictures": pictures, "faces": sum(len(p["faces"]) for p in pictures),
              "crops_without_ground_truth": skipped}
    (args.out / "truth.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(pictures)} pictures, {record['faces']} faces, {len(skipped)} crops skipped "
          f"(no landmarks on the original) -> {args.out}")


if __name__ == "__main__":
    main()
