"""One measurement: decode a file and compare it with the original.

Which file of a codec family is measured at a target rate is
:mod:`gzcodec.bench.pick`'s rule.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .interface import Codec, bits_per_pixel
from .metrics import quality_metrics
from .ratecontrol import Trial
from .records import Measurement

__all__ = ["IMAGE_SIZE", "budget_bytes", "measure"]

IMAGE_SIZE = 128
"""Side of the images the bench compares (gzcodec's model size)."""

def budget_bytes(target_bpp: float, size: int = IMAGE_SIZE) -> int:
    """Largest whole number of bytes at or below ``target_bpp`` for a ``size`` square.

    Examples
    --------
    >>> budget_bytes(0.2152)
    440
    """
    return int(math.floor(target_bpp * size * size / 8 + 1e-9))


def measure(codec: Codec, trial: Trial, reference: np.ndarray, name: str) -> Measurement:
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
        Image name, copied into the measurement.

    Returns
    -------
    Measurement
    """
    start = time.perf_counter()
    decoded = codec.decode(trial.data)
    decode_s = time.perf_counter() - start
    out = np.asarray(decoded.convert("RGB"))
    if out.shape != reference.shape:
        raise RuntimeError(f"{codec.name} decoded {name} to {out.shape}, not {reference.shape}")
    h, w = reference.shape[:2]
    quality = quality_metrics(reference, out)
    return Measurement(
        image=name,
        codec=codec.name,
        scale=codec.scale,
        param=trial.param,
        nbytes=trial.nbytes,
        bpp=bits_per_pixel(trial.nbytes, (w, h)),
        mse=quality.mse,
        psnr=quality.psnr,
        ssim=quality.ssim,
        ms_ssim=quality.ms_ssim,
        encode_s=trial.encode_s,
        decode_s=decode_s,
    )
