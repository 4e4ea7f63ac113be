"""One measurement: decode a file, compare it with the original, and the
matched-rate pick among a codec's scale variants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .codec import Codec, bits_per_pixel
from .metrics import quality_metrics
from .ratecontrol import EncodeCache, Trial, match_budget

__all__ = ["IMAGE_SIZE", "Record", "best_within", "budget_bytes", "measure"]

IMAGE_SIZE = 128
"""Side of the images the bench compares (gzcodec's model size)."""

Record = dict[str, Any]


def budget_bytes(target_bpp: float, size: int = IMAGE_SIZE) -> int:
    """Largest whole number of bytes at or below ``target_bpp`` for a ``size`` square.

    Examples
    --------
    >>> budget_bytes(0.2152)
    440
    """
    return int(math.floor(target_bpp * size * size / 8 + 1e-9))


def measure(codec: Codec, trial: Trial, reference: np.ndarray, name: str) -> Record:
    """Decode ``trial`` and measure it against ``reference``.

    Parameters
    ----------
    codec : Codec
        The codec that made ``trial``.
    trial : Trial
        The file and its encode time.
    reference : numpy.ndarray
        The original, ``H x W x 3`` uint8.
    name : str
        Image name, copied into the record.

    Returns
    -------
    dict
        ``image``, ``codec``, ``scale``, ``param``, ``bytes``, ``bpp``,
        ``mse``, ``psnr``, ``ssim``, ``ms_ssim``, ``encode_s``, ``decode_s``.
    """
    start = time.perf_counter()
    decoded = codec.decode(trial.data)
    decode_s = time.perf_counter() - start
    out = np.asarray(decoded.convert("RGB"))
    if out.shape != reference.shape:
        raise RuntimeError(f"{codec.name} decoded {name} to {out.shape}, not {reference.shape}")
    h, w = reference.shape[:2]
    return {
        "image": name,
        "codec": codec.name,
        "scale": codec.scale,
        "param": trial.param,
        "bytes": trial.nbytes,
        "bpp": bits_per_pixel(trial.nbytes, (w, h)),
        **quality_metrics(reference, out),
        "encode_s": trial.encode_s,
        "decode_s": decode_s,
    }


def best_within(
    caches: Sequence[EncodeCache],
    budget: int,
    reference: np.ndarray,
    name: str,
    measured: dict[tuple[str, int], Record],
) -> Record:
    """The best-PSNR scale variant of one codec family whose file fits ``budget``.

    Parameters
    ----------
    caches : sequence of EncodeCache
        One per scale variant, all of the same image.
    budget : int
        Byte budget.
    reference : numpy.ndarray
        The original image.
    name : str
        Image name.
    measured : dict
        Measurements already made, by (variant name, setting); filled in, so
        that several targets landing on one file measure it once.

    Returns
    -------
    dict
        The winner's measurement with ``reached=True``, ``budget_bytes`` and
        ``variants`` (each variant's setting, bytes and PSNR); or, when no
        variant fits, ``reached=False`` and ``min_bytes``, the smallest file
        any variant can make.
    """
    variants: dict[str, Any] = {}
    best: Record | None = None
    for cache in caches:
        codec = cache.codec
        trial = match_budget(cache, budget)
        if trial is None:
            variants[codec.name] = {"reached": False, "min_bytes": cache.size(codec.param_values[0])}
            continue
        key = (codec.name, trial.param)
        if key not in measured:
            measured[key] = measure(codec, trial, reference, name)
        record = measured[key]
        variants[codec.name] = {"param": trial.param, "bytes": trial.nbytes, "psnr": record["psnr"]}
        if best is None or record["psnr"] > best["psnr"]:
            best = record
    if best is None:
        return {
            "image": name,
            "reached": False,
            "budget_bytes": budget,
            "min_bytes": min(v["min_bytes"] for v in variants.values()),
            "variants": variants,
        }
    return {**best, "reached": True, "budget_bytes": budget, "variants": variants}
