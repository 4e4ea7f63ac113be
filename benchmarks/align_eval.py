"""Measure ``--align`` on the synthetic in-the-wild set of ``scripts/make_wild_set.py``.

Per picture: detection and alignment time (one thread; the picture already in
memory), then each ground-truth face is matched to the detected face whose eye
centres are nearest (within half the true eye distance). Reported:

* faces found (matched / ground-truth faces) and false detections;
* eye error: the true eye centres mapped into the aligned 128-pixel crop by
  the estimated transform, against the template's eye centres (the larger of
  the two distances), and the share within 2 pixels;
* with ``--encode``: PSNR at ``--max-bytes`` of each found face's decode
  against its input, in four arms: the aligned crop (gzcodec's transform);
  the *true crop*, cut from the same picture by the same function
  (:func:`gzcodec.align.geometry.crop_face`) with the transform gzcodec would
  have fitted to the ground-truth landmarks (the script's transform applied to
  the landmarks found on the original crop): the same resampling and framing,
  perfect alignment, so that the aligned arm's difference from it is what
  alignment costs; the picture cut by the script's transform itself (the
  original crop's framing, resampled); and the original crop from ``--val``
  (neither resampled nor turned, for contrast). Means by face-size band and
  overall; and, for contrast, each whole picture encoded without ``--align``
  (its centre square squeezed to 128), as PSNR against that squeezed input and
  as PSNR of the face (cut from the decode, upscaled to the picture, by the
  true transform) against the same cut of the picture.

    GZCODEC_THREADS=1 python benchmarks/align_eval.py runs/wild --val ../shared/data/celeba128/val \
        --encode --contrast --out results/align/eval.json
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


#: Face-size bands (the face's span in the picture, pixels; the set draws 60-180) the figures
#: are grouped by: small faces are resampled most.
SPAN_BANDS = ((60, 80), (80, 110), (110, 140), (140, 181))
#: The PSNR arms of ``--encode``, as the rows name them.
ARMS = ("psnr_aligned", "psnr_true_crop", "psnr_true_framing", "psnr_original")


def true_alignment(truth_transform: SimilarityTransform, crop_landmarks: np.ndarray,
                   template: Template) -> SimilarityTransform:
    """The alignment gzcodec would fit were its landmarks the ground truth.

    ``truth_transform`` placed the original crop in the picture and
    ``crop_landmarks`` were found on the original crop, so the true landmarks
    in the picture are ``truth_transform(crop_landmarks)``; they are fitted to
    ``template`` as :func:`gzcodec.align.detect_faces` fits the ones it finds.
    """
    true_landmarks = truth_transform(np.asarray(crop_landmarks, np.float64))
    return alignment_transform(true_landmarks[ALIGN_POINTS], template)


def span_band(span: float) -> str | None:
    """The :data:`SPAN_BANDS` label of a face span, e.g. ``"80-109px"``."""
    for lo, hi in SPAN_BANDS:
        if lo <= span < hi:
            return f"{lo}-{hi - 1}px"
    return None


def _psnr_summary(rows: list[dict]) -> dict:
    """Mean PSNR of each arm, and the aligned arm against the true crops (what alignment costs)."""
    if not rows:
        return {"faces": 0}
    cost = [r["psnr_aligned"] - r["psnr_true_crop"] for r in rows]
    errors = [r["eye_error"] for r in rows]
    summary = {"faces": len(rows)}
    summary.update({f"{arm}_mean": round(statistics.mean(r[arm] for r in rows), 3) for arm in ARMS})
    summary.update({
        "aligned_minus_true_crop_mean": round(statistics.mean(cost), 3),
        "aligned_minus_true_crop_median": round(statistics.median(cost), 3),
        "aligned_minus_true_crop_share_within_0.5dB": round(sum(abs(c) <= 0.5 for c in cost) / len(cost), 4),
        "aligned_minus_original_mean": round(statistics.mean(
            r["psnr_aligned"] - r["psnr_original"] for r in rows), 3),
        "eye_error_median_px": round(statistics.median(errors), 3),
        "eye_error_p95_px": round(float(np.percentile(errors, 95)), 3),
        "eyes_within_2px_share": round(sum(e <= 2 for e in errors) / len(errors), 4),
        "true_crop_eye_error_median_px": round(statistics.median(r["true_crop_eye_error"] for r in rows), 3),
    })
    return summary


def _eye_error(transform: SimilarityTransform, true_eyes: np.ndarray, template: Template) -> float:
    in_crop = transform.inverse(true_eyes)
    return float(np.linalg.norm(in_crop - template.eye_centres, axis=1).max())


def _detection_rows(wild: Path, truth: dict, template: Template):
    """Each true face found or not, with its eye error; detection times; false detections."""
    all_points = Template(128, template.landmarks)
    rows, times, times_1024, cpu_1024, false_detections = [], [], [], [], 0
    for picture in truth["pictures"]:
        pixels = np.asarray(Image.open(wild / picture["file"]).convert("RGB"))
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
    return rows, times, times_1024, cpu_1024, false_detections


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
    rows, times, times_1024, cpu_1024, false_detections = _detection_rows(args.wild, truth, template)

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
        "found_by_face_span": {
            span_band(lo): f"{sum(r['found'] for r in rows if span_band(r['face_span']) == span_band(lo))}"
                           f" / {sum(span_band(r['face_span']) == span_band(lo) for r in rows)}"
            for lo, _ in SPAN_BANDS},
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
        eyes_template = Template(template.size, template.landmarks[ALIGN_POINTS])
        by_picture: dict[str, list] = {}
        for r in found:
            by_picture.setdefault(r["picture"], []).append(r)
        for picture in truth["pictures"]:
            if picture["file"] not in by_picture:
                continue
            pixels = np.asarray(Image.open(args.wild / picture["file"]).convert("RGB"))
            faces = detect_faces(pixels)
            truths = {t["crop"]: t for t in picture["faces"]}
            for r in by_picture[picture["file"]]:
                true = truths[r["crop"]]
                placed = SimilarityTransform(matrix=np.array(true["transform"]))
                perfect = true_alignment(placed, true["crop_landmarks"], eyes_template)
                r["true_crop_eye_error"] = _eye_error(perfect, np.array(true["eyes"]), template)
                inputs = {
                    "psnr_aligned": faces[r["face_index"]].crop,
                    "psnr_true_crop": crop_face(pixels, perfect, 128),
                    "psnr_true_framing": crop_face(pixels, placed, 128),
                    "psnr_original": np.asarray(Image.open(args.val / r["crop"]).convert("RGB")),
                }
                for arm, face in inputs.items():
                    data = gzcodec.encode(face, max_bytes=args.max_bytes)
                    r[arm] = psnr(np.asarray(gzcodec.decode(data)), face)
                    r[arm.replace("psnr_", "bytes_")] = len(data)
        bands = [span_band(lo) for lo, _ in SPAN_BANDS]
        by_band = {band: _psnr_summary([r for r in found if span_band(r["face_span"]) == band])
                   for band in bands}
        overall = _psnr_summary(found)
        summary.update({
            "max_bytes": args.max_bytes,
            "psnr_overall": overall,
            "psnr_by_face_span": by_band,
            "within_0.5dB_of_true_crops": abs(overall["aligned_minus_true_crop_mean"]) <= 0.5,
        })
        print(json.dumps({k: v for k, v in summary.items() if "psnr" in k or "0.5" in k}, indent=1))
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
