"""Measure ``--align`` on the synthetic in-the-wild set of ``scripts/make_wild_set.py``.

Per picture: detection and alignment time (one thread; the picture already in
memory), then each ground-truth face is matched to the detected face whose eye
centres are nearest (within half the true eye distance). Reported:

* faces found (matched / ground-truth faces) and false detections;
* eye error: the true eye centres mapped into the aligned 128-pixel crop by
  the estimated transform, against the template's eye centres (the larger of
  the two distances), and the share within 2 pixels;
* with ``--encode``: PSNR at ``--max-bytes`` of each aligned face's decode
  against its aligned input, beside the same face encoded from its original
  crop; and, for contrast, each whole picture encoded without ``--align``
  (its centre square squeezed to 128), as PSNR against that squeezed input and
  as PSNR of the face (cut from the decode, upscaled to the picture, by the
  true transform) against the same cut of the picture.

    GZCODEC_THREADS=1 python benchmarks/align_eval.py runs/wild --val ../shared/data/celeba128/val \
        --encode --out results/align/eval.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from gzcodec.align import ALIGN_POINTS, detect_faces
from gzcodec.align.geometry import alignment_transform, crop_face
from gzcodec.align.template import Template, load_template
from gzcodec.metrics import psnr


def _match(true_eyes: np.ndarray, faces: list) -> int | None:
    """The index of the detected face whose eyes are nearest the true ones, if near enough."""
    gap = np.linalg.norm(true_eyes[0] - true_eyes[1])
    best, best_d = None, 0.5 * gap
    for i, face in enumerate(faces):
        d = float(np.linalg.norm(face.eyes - true_eyes, axis=1).mean())
        if d < best_d:
            best, best_d = i, d
    return best


def _eye_error(transform: SimilarityTransform, true_eyes: np.ndarray, template: Template) -> float:
    in_crop = transform.inverse(true_eyes)
    return float(np.linalg.norm(in_crop - template.eye_centres, axis=1).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wild", type=Path)
    parser.add_argument("--val", type=Path, help="the crops' folder (for --encode)")
    parser.add_argument("--encode", action="store_true", help="PSNR of the aligned faces and crops")
    parser.add_argument("--contrast", action="store_true", help="the pictures encoded without --align")
    parser.add_argument("--max-bytes", type=int, default=441)
    parser.add_argument("--out", type=Path, default=Path("results/align/eval.json"))
    parser.add_argument("--threshold", type=float, default=None,
                        help="detection threshold (default gzcodec's DEFAULT_THRESHOLD)")
    args = parser.parse_args()

    import torch

    from gzcodec.align import detect
    if args.threshold is not None:
        detect.DEFAULT_THRESHOLD = args.threshold
    torch.set_num_threads(1)
    truth = json.loads((args.wild / "truth.json").read_text())
    template = load_template(128)
    all_points = Template(128, template.landmarks)
    rows, times, times_1024, cpu_1024, false_detections = [], [], [], [], 0
    for picture in truth["pictures"]:
        pixels = np.asarray(Image.open(args.wild / picture["file"]).convert("RGB"))
        start, cpu_start = time.perf_counter(), time.process_time()
        faces = detect_faces(pixels)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        times.append(elapsed)
        if max(picture["size"]) == 1024:
            times_1024.append(elapsed)
            # CPU time of this one-thread process: what the wall time is on an idle core, on a
            # machine where other jobs share the cores.
            cpu_1024.append(cpu)
        matched = set()
        for true in picture["faces"]:
            true_eyes = np.array(true["eyes"])
            i = _match(true_eyes, faces)
            row = {"picture": picture["file"], "crop": true["crop"], "face_span": true["face_span"],
                   "angle_degrees": true["angle_degrees"], "found": i is not None}
            if i is not None:
                matched.add(i)
                face = faces[i]
                row["eye_error"] = _eye_error(face.transform, true_eyes, template)
                # The alternative measured against gzcodec's fit to the eye corners alone.
                row["eye_error_five_point_fit"] = _eye_error(
                    alignment_transform(face.landmarks, all_points), true_eyes, template)
                row["face_index"] = i
            rows.append(row)
        false_detections += len(faces) - len(matched)

    found = [r for r in rows if r["found"]]
    errors = [r["eye_error"] for r in found]
    errors_five = [r["eye_error_five_point_fit"] for r in found]
    summary = {
        "pictures": len(truth["pictures"]), "faces": len(rows), "found": len(found),
        "found_share": round(len(found) / len(rows), 4), "false_detections": false_detections,
        "eyes_within_2px_share": round(sum(e <= 2 for e in errors) / len(found), 4),
        "eye_error_median_px": round(statistics.median(errors), 3),
        "eye_error_p95_px": round(float(np.percentile(errors, 95)), 3),
        "fit_points": f"landmarks[{ALIGN_POINTS.start}:{ALIGN_POINTS.stop}] (the eye corners)",
        "five_point_fit_within_2px_share": round(sum(e <= 2 for e in errors_five) / len(found), 4),
        "five_point_fit_eye_error_median_px": round(statistics.median(errors_five), 3),
        "missed": [(r["picture"], r["face_span"], r["angle_degrees"]) for r in rows if not r["found"]],
        "detect_align_seconds_median_all": round(statistics.median(times), 4),
        "detect_align_seconds_median_1024": round(statistics.median(times_1024), 4),
        "detect_align_cpu_seconds_median_1024": round(statistics.median(cpu_1024), 4),
        "pictures_1024": len(times_1024),
        "threads": "dlib: 1; torch: 1",
        "threshold": detect.DEFAULT_THRESHOLD,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "missed"}, indent=1))

    import gzcodec
    from gzcodec.imageio import model_input

    if args.encode:
        aligned, original = [], []
        by_picture: dict[str, list] = {}
        for r in found:
            by_picture.setdefault(r["picture"], []).append(r)
        for picture in truth["pictures"]:
            pixels = np.asarray(Image.open(args.wild / picture["file"]).convert("RGB"))
            faces = detect_faces(pixels) if picture["file"] in by_picture else []
            for r in by_picture.get(picture["file"], []):
                crop = faces[r["face_index"]].crop
                decoded = np.asarray(gzcodec.decode(gzcodec.encode(crop, max_bytes=args.max_bytes)))
                r["psnr_aligned"] = psnr(decoded, crop)
                source = np.asarray(Image.open(args.val / r["crop"]).convert("RGB"))
                decoded = np.asarray(gzcodec.decode(gzcodec.encode(source, max_bytes=args.max_bytes)))
                r["psnr_original"] = psnr(decoded, source)
                aligned.append(r["psnr_aligned"])
                original.append(r["psnr_original"])
        diffs = [a - o for a, o in zip(aligned, original, strict=True)]
        spans = np.array([r["face_span"] for r in found])
        by_span = {}
        for lo, hi in ((60, 80), (80, 100), (100, 140), (140, 181)):
            chosen = [d for d, s in zip(diffs, spans, strict=True) if lo <= s < hi]
            by_span[f"{lo}-{hi - 1}px"] = {"faces": len(chosen),
                                          "difference_mean": round(statistics.mean(chosen), 3)}
        summary.update({
            "max_bytes": args.max_bytes,
            "psnr_aligned_mean": round(statistics.mean(aligned), 3),
            "psnr_original_crops_mean": round(statistics.mean(original), 3),
            "psnr_difference_mean": round(statistics.mean(diffs), 3),
            "psnr_difference_median": round(statistics.median(diffs), 3),
            "psnr_difference_share_within_0.5dB": round(sum(abs(d) <= 0.5 for d in diffs) / len(diffs), 4),
            "psnr_difference_share_above_minus_0.5dB": round(sum(d >= -0.5 for d in diffs) / len(diffs), 4),
            "psnr_difference_by_face_span": by_span,
        })
        print(json.dumps({k: v for k, v in summary.items() if "psnr" in k}, indent=1))
    if args.contrast:
        whole, whole_face, outside = [], [], 0
        for picture in truth["pictures"]:
            pixels = np.asarray(Image.open(args.wild / picture["file"]).convert("RGB"))
            # Without --align: the whole picture, squeezed to 128 as a plain encode does.
            squeezed = model_input(pixels, 128).pixels
            data = gzcodec.encode(pixels, max_bytes=args.max_bytes)
            decoded = np.asarray(gzcodec.decode(data))
            whole.append(psnr(decoded, squeezed))
            upscaled = np.asarray(gzcodec.decode(data, size="source"))
            side = min(pixels.shape[:2])
            top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
            canvas = pixels.copy()
            canvas[top:top + side, left:left + side] = upscaled
            for true in picture["faces"]:
                transform = SimilarityTransform(matrix=np.array(true["transform"]))
                eyes = np.array(true["eyes"])
                if not ((eyes >= (left, top)) & (eyes < (left + side, top + side))).all():
                    outside += 1  # the face is not in the file at all
                    continue
                whole_face.append(psnr(crop_face(canvas, transform, 128), crop_face(pixels, transform, 128)))
        summary.update({
            "without_align_psnr_vs_squeezed_input_mean": round(statistics.mean(whole), 3),
            "without_align_face_psnr_mean": round(statistics.mean(whole_face), 3),
            "without_align_faces_in_the_centre_square": len(whole_face),
            "without_align_faces_outside_it": outside,
        })
        print(json.dumps({k: v for k, v in summary.items() if "psnr" in k}, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "faces": rows,
                                    "command": "python benchmarks/align_eval.py " + " ".join(
                                        os.sys.argv[1:])}, indent=1) + "\n")


if __name__ == "__main__":
    main()
