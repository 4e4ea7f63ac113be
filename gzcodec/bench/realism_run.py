"""``gzcodec bench DIR --realism 0,1``: one file, decoded at each realism weight β, against WebP.

For each face and byte budget (:data:`REALISM_BUDGETS` by default, whole
files), gzcodec's file is the largest rate within the budget
(``encode(max_bytes=budget)``), and that one file is decoded at every β asked
for (β = 0: the fidelity decode; β > 0: the model's realism decoder,
:mod:`gzcodec.models.realism`); WebP's is the best-PSNR scale variant's
largest file within the budget (the main bench's rule, :mod:`gzcodec.bench.pick`, without
its MS-SSIM).
Per budget and variant (each β, WebP), over the faces it fits:

* mean bytes, PSNR and SSIM (:mod:`gzcodec.metrics`);
* the identity share: decodes still the same person by the bench's rule
  (:mod:`gzcodec.bench.identity`: dlib's descriptor of the decode, aligned by
  the original's landmarks, within 0.6 of the original's);
* the sharpness profile (:func:`gzcodec.realism_metrics.sharpness_profile`:
  per band from 1/8 to 1 of Nyquist, the decodes' power over the originals';
  1.0 is as sharp);
* KID between the decodes' and the originals' dlib descriptors, unbiased,
  with a paired bootstrap 95 % interval (:func:`gzcodec.realism_metrics.kid_interval`);
* the median decode time.

Also a side-by-side grid per budget (original, each β, WebP) of the first
four faces, or of ``grid_dir``'s (CelebA's may not be redistributed), and
``results.json`` and ``report.md`` (:mod:`gzcodec.bench.realism_report`,
which also checks issue 22's targets).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..imageio import list_images, load_image, to_model_input
from ..metrics import psnr, ssim
from ..realism_metrics import kid_interval, sharpness_profile
from .classic import SCALES, ScaledCodec, WebpCodec
from .diskcache import DiskEntry, image_key
from .figures import grid_figure
from .identity import SAME_PERSON_DISTANCE, unavailable_reason
from .measure import IMAGE_SIZE
from .ratecontrol import EncodeCache, match_budget

__all__ = ["REALISM_BUDGETS", "Decode", "VariantSummary", "run_realism_bench", "summarise"]

#: Issue 22's budgets: the sizes where only a generative decoder makes a face at all.
REALISM_BUDGETS: tuple[int, ...] = (100, 150, 205, 441)
#: Faces in each grid.
GRID_FACES = 4


@dataclasses.dataclass
class Decode:
    """One variant's decode of one face at one budget (``pixels`` ``None``: no file fits)."""

    pixels: np.ndarray | None = None
    nbytes: int | None = None
    decode_s: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    distance: float | None = None
    descriptor: np.ndarray | None = None


@dataclasses.dataclass
class VariantSummary:
    """One variant at one budget, over the faces it fits (JSON-ready)."""

    variant: str
    budget: int
    fitted: int
    images: int
    mean_bytes: float | None
    psnr: float | None
    ssim: float | None
    same_person: float | None  # share of the fitted decodes; None without dlib
    sharpness: list[float] | None
    kid: float | None
    kid_low: float | None
    kid_high: float | None
    decode_ms: float | None


def _label(beta: float) -> str:
    return f"β={beta:g}"


def _load(folder: str | os.PathLike[str], n: int, size: int = IMAGE_SIZE
          ) -> tuple[list[str], list[np.ndarray]]:
    """The first ``n`` images of ``folder`` (sorted) as the model sees them: ``size`` squares."""
    paths = list_images(folder)[:n]
    if not paths:
        raise FileNotFoundError(f"no images in {folder}")
    return [p.name for p in paths], [np.asarray(to_model_input(load_image(p), size)[0]) for p in paths]


def _measured(original: np.ndarray, pixels: np.ndarray, nbytes: int, seconds: float) -> Decode:
    return Decode(pixels, nbytes, seconds, psnr(original, pixels), ssim(original, pixels))


def _gzcodec_decodes(lm, original: np.ndarray, budget: int, betas: Sequence[float],
                     realism_weights) -> dict[str, Decode]:
    """The file within ``budget`` (if any) decoded at each β."""
    from .. import codec

    try:
        data = codec.encode(Image.fromarray(original), model=lm, max_bytes=budget)
    except ValueError:  # smaller than this model's smallest file of the face
        return {_label(b): Decode() for b in betas}
    out = {}
    for beta in betas:
        start = time.perf_counter()
        image = codec.decode(data, model=lm, realism=beta, realism_weights=realism_weights)
        out[_label(beta)] = _measured(original, np.asarray(image), len(data),
                                      time.perf_counter() - start)
    return out


def _webp_decode(original: np.ndarray, budget: int, caches: list[EncodeCache]) -> Decode:
    """WebP within ``budget``: each scale variant's largest file, the best PSNR of them (the bench's rule)."""
    best = Decode()
    for cache in caches:
        trial = match_budget(cache, budget)
        if trial is None:
            continue
        start = time.perf_counter()
        pixels = np.asarray(cache.codec.decode(trial.data).convert("RGB"))
        found = _measured(original, pixels, trial.nbytes, time.perf_counter() - start)
        if best.psnr is None or found.psnr > best.psnr:
            best = found
    return best


def _webp_caches(original: np.ndarray, cache_dir: Path | None) -> list[EncodeCache]:
    codecs = [WebpCodec() if s == 1.0 else ScaledCodec(WebpCodec(), s) for s in SCALES]
    key = image_key(original) if cache_dir is not None else ""
    image = Image.fromarray(original)
    return [EncodeCache(c, image, DiskEntry(str(cache_dir), key, c) if cache_dir else None) for c in codecs]


def _judge_identity(originals: Sequence[np.ndarray], decodes: dict[int, dict[str, list[Decode]]],
                    log: Callable[[str], None]) -> list[np.ndarray | None]:
    """Fill in each decode's descriptor and distance; return the originals' descriptors."""
    from .identity import FaceIdentity

    judge = FaceIdentity()
    descriptors: list[np.ndarray | None] = []
    for i, original in enumerate(originals):
        reference = judge.reference(original)
        descriptors.append(reference.descriptor)
        for by_variant in decodes.values():
            for row in by_variant.values():
                d = row[i]
                if d.pixels is not None:
                    d.descriptor = judge.descriptor(reference, d.pixels)
                    d.distance = (float(np.linalg.norm(d.descriptor - reference.descriptor))
                                  if d.descriptor is not None else float("inf"))
        if (i + 1) % 25 == 0:
            log(f"identity: {i + 1} of {len(originals)} faces")
    return descriptors


def summarise(variant: str, budget: int, originals: Sequence[np.ndarray], row: Sequence[Decode],
              descriptors: Sequence[np.ndarray | None] | None) -> VariantSummary:
    """The summary of one variant at one budget (identity and KID only with ``descriptors``)."""
    fit = [(o, d) for o, d in zip(originals, row, strict=True) if d.pixels is not None]

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    same = kid = low = high = None
    if descriptors is not None and fit:
        same = mean([float(d.distance < SAME_PERSON_DISTANCE) for _, d in fit])
        pairs = [(d.descriptor, ref) for d, ref in zip(row, descriptors, strict=True)
                 if d.descriptor is not None and ref is not None]
        if len(pairs) >= 4:
            kid, low, high = kid_interval(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    return VariantSummary(
        variant=variant, budget=budget, fitted=len(fit), images=len(row),
        mean_bytes=mean([d.nbytes for _, d in fit]), psnr=mean([d.psnr for _, d in fit]),
        ssim=mean([d.ssim for _, d in fit]), same_person=same,
        sharpness=[float(v) for v in sharpness_profile([o for o, _ in fit], [d.pixels for _, d in fit])]
        if fit else None,
        kid=kid, kid_low=low, kid_high=high,
        decode_ms=1000 * statistics.median(d.decode_s for _, d in fit) if fit else None)


def _grids(out: Path, lm, faces: list[np.ndarray], budgets: Sequence[int], betas: Sequence[float],
           realism_weights, cache_dir: Path | None) -> list[str]:
    """One grid per budget: original, each β, WebP; the paths written."""
    # ASCII: the bitmap font Pillow falls back on has no β or ≤.
    headers = ["original", *(f"gzcodec beta={b:g}" for b in betas)]
    written = []
    for budget in budgets:
        rows = []
        for face in faces:
            decodes = _gzcodec_decodes(lm, face, budget, betas, realism_weights)
            decodes["webp"] = _webp_decode(face, budget, _webp_caches(face, cache_dir))
            rows.append([(Image.fromarray(face), "")] + [
                (None, "does not fit") if d.pixels is None
                else (Image.fromarray(d.pixels), f"{d.nbytes} B, {d.psnr:.1f} dB")
                for d in decodes.values()])
        path = out / f"grid-{budget}B.png"
        grid_figure(rows, [*headers, f"WebP (<= {budget} B)"], path)
        written.append(path.name)
    return written


def run_realism_bench(image_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, n: int = 200,
                      budgets: Sequence[int] = REALISM_BUDGETS, betas: Sequence[float] = (0.0, 1.0),
                      model: str | os.PathLike[str] | None = None,
                      realism_weights: str | os.PathLike[str] | None = None,
                      grid_dir: str | os.PathLike[str] | None = None, identity: bool = True,
                      cache: str | os.PathLike[str] | None = None, command_line: str = "",
                      log: Callable[[str], None] = print) -> dict:
    """Measure a model's decodes at each β and WebP at each budget; write the report; return the results.

    Writes ``results.json``, ``report.md`` and ``grid-<budget>B.png`` to ``out_dir``.

    Raises
    ------
    ModelNotFoundError
        A β above 0 and no realism decoder for the model.
    """
    from ..zoo import load_model
    from ..zoo.realism_file import require_realism
    from .realism_report import write_realism_report

    t0 = time.time()
    lm = load_model(model)
    realism = require_realism(lm, weights=realism_weights) if any(betas) else None
    out, cache_dir = Path(out_dir), Path(cache) if cache is not None else None
    out.mkdir(parents=True, exist_ok=True)
    size = lm.config.image_size
    names, originals = _load(image_dir, n, size)
    variants = [*(_label(b) for b in betas), "webp"]
    decodes = {b: {v: [] for v in variants} for b in budgets}
    for i, original in enumerate(originals):
        caches = _webp_caches(original, cache_dir)
        for budget in budgets:
            found = _gzcodec_decodes(lm, original, budget, betas, realism_weights)
            found["webp"] = _webp_decode(original, budget, caches)
            for variant, decode in found.items():
                decodes[budget][variant].append(decode)
        if (i + 1) % 25 == 0 or i + 1 == len(names):
            log(f"encoded and decoded {i + 1} of {len(names)} faces ({time.time() - t0:.0f} s)")
    why_not = unavailable_reason() if identity else "not measured (--no-identity)"
    descriptors = _judge_identity(originals, decodes, log) if why_not is None else None
    summaries = [summarise(v, b, originals, decodes[b][v], descriptors) for b in budgets for v in variants]
    faces = _load(grid_dir, GRID_FACES, size)[1] if grid_dir is not None else originals[:GRID_FACES]
    grids = _grids(out, lm, faces, budgets, betas, realism_weights, cache_dir)
    results = {
        "command": command_line, "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "images": len(names), "image_dir": str(image_dir), "budgets": list(budgets),
        "betas": list(betas), "model": {"id": lm.id, "name": lm.info.name, "path": str(lm.path)},
        "realism": None if realism is None else {"id": realism.id, "name": realism.name,
                                                 "path": str(realism.path),
                                                 "training": realism.training},
        "identity": why_not or "dlib, distance < 0.6", "grids": grids,
        "grid_faces": str(grid_dir) if grid_dir is not None else "the first bench images",
        "summaries": [dataclasses.asdict(s) for s in summaries],
        "per_image": [{"image": name, **{f"{v}@{b}": _row(decodes[b][v][i]) for b in budgets
                                         for v in variants}} for i, name in enumerate(names)],
        "wall_time_s": round(time.time() - t0, 1),
    }
    write_realism_report(out, results)
    return results


def _row(d: Decode) -> dict | None:
    if d.pixels is None:
        return None
    # A decode whose descriptor cannot be computed is not the same person: its distance is None.
    return {"bytes": d.nbytes, "psnr": round(d.psnr, 3), "ssim": round(d.ssim, 4),
            "distance": round(d.distance, 4) if d.distance is not None and np.isfinite(d.distance)
            else None}
