"""Distortion metrics and Bjøntegaard deltas.

All metrics compare two ``H x W x 3`` uint8 RGB arrays on the 0..255 scale:

* MSE over every pixel and channel; PSNR = ``10 log10(255**2 / MSE)``
  (``inf`` for identical images).
* SSIM: :func:`gzcodec.metrics.ssim`, the one definition the encoder's
  ``target_ssim`` uses too (Wang et al.'s Gaussian-window settings).
* MS-SSIM: ``pytorch_msssim.ms_ssim`` with the default five scales and
  weights but a 7-pixel Gaussian window, :data:`MS_SSIM_SETTINGS`: with the
  default 11-pixel window the fifth scale of a 128-pixel image (8 pixels) is
  smaller than the window, which pytorch_msssim refuses.

BD-rate and BD-PSNR follow Bjøntegaard (VCEG-M33): a cubic polynomial fit of
log-rate against PSNR (or PSNR against log-rate), integrated over the range
the two curves share.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
from pytorch_msssim import ms_ssim as _ms_ssim

from ..metrics import SSIM_SETTINGS, image_pair, mse, psnr, ssim
from ..threads import torch_threads

__all__ = [
    "MS_SSIM_SETTINGS",
    "SSIM_SETTINGS",
    "bd_psnr",
    "bd_rate",
    "ms_ssim",
    "mse",
    "pareto_front",
    "psnr",
    "Quality",
    "quality_metrics",
    "ssim",
]

MS_SSIM_SETTINGS: dict[str, object] = {"data_range": 255, "win_size": 7, "win_sigma": 1.5}
"""Keyword arguments of ``pytorch_msssim.ms_ssim`` (5 scales, default weights)."""


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM with :data:`MS_SSIM_SETTINGS` (five scales, 7-pixel window)."""
    a, b = image_pair(reference, test)

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None]

    # A 128x128 MS-SSIM is ~6 ms of work, but between codec calls torch's idle OpenMP
    # pool has to be woken for each one, which took 0.2-0.8 s per call on a busy
    # two-core machine.
    with torch.no_grad(), torch_threads(1):
        return float(_ms_ssim(tensor(a), tensor(b), size_average=True, **MS_SSIM_SETTINGS))


@dataclasses.dataclass(frozen=True)
class Quality:
    """Every distortion metric of one decoded image (:func:`quality_metrics`).

    Attributes
    ----------
    mse : float
        Mean squared error (0..255 scale).
    psnr : float
        dB; ``inf`` for identical images.
    ssim, ms_ssim : float
        :func:`ssim` and :func:`ms_ssim`.
    """

    mse: float
    psnr: float
    ssim: float
    ms_ssim: float


def quality_metrics(reference: np.ndarray, test: np.ndarray) -> Quality:
    """Every distortion metric of ``test`` against ``reference``.

    Returns
    -------
    Quality
        ``mse``, ``psnr`` (dB), ``ssim`` and ``ms_ssim``.
    """
    return Quality(
        mse=mse(reference, test),
        psnr=psnr(reference, test),
        ssim=ssim(reference, test),
        ms_ssim=ms_ssim(reference, test),
    )


def _curve(rate: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise ValueError("rate and quality must be 1-D sequences of the same length")
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    return np.log(r[keep]), q[keep]


def _mean_gap(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> float:
    """Mean of ``fit2(x) - fit1(x)`` over the shared ``x`` range, cubic fits of y on x."""
    if len(x1) < 4 or len(x2) < 4:
        return math.nan  # a cubic needs four points
    low, high = max(x1.min(), x2.min()), min(x1.max(), x2.max())
    if not high > low:
        return math.nan  # the curves do not overlap
    int1 = np.polyint(np.polyfit(x1, y1, 3))
    int2 = np.polyint(np.polyfit(x2, y2, 3))
    area1 = np.polyval(int1, high) - np.polyval(int1, low)
    area2 = np.polyval(int2, high) - np.polyval(int2, low)
    return float((area2 - area1) / (high - low))


def pareto_front(rate: Sequence[float], quality: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats, in increasing rate.

    A point is kept when its quality is higher than that of every point of
    lower rate: the settings a user would actually choose. Bjøntegaard's cubic
    fits assume such a monotone curve; a setting that costs more and gives
    less would bend the fit arbitrarily.

    Examples
    --------
    >>> pareto_front([0.2, 0.3, 0.31, 0.4], [25.0, 26.0, 25.5, 27.0])
    [0, 1, 3]
    """
    order = sorted(range(len(rate)), key=lambda i: (rate[i], -quality[i]))
    kept: list[int] = []
    for i in order:
        if math.isfinite(quality[i]) and (not kept or quality[i] > quality[kept[-1]]):
            kept.append(i)
    return kept


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_psnr: Sequence[float],
    test_rate: Sequence[float],
    test_psnr: Sequence[float],
) -> float:
    """Bjøntegaard delta rate of ``test`` against ``anchor``, in percent.

    Parameters
    ----------
    anchor_rate, anchor_psnr : sequence of float
        The reference curve (bpp, dB), at least four points.
    test_rate, test_psnr : sequence of float
        The curve being judged.

    Returns
    -------
    float
        Mean rate change at equal PSNR over the PSNR range both curves cover:
        negative means ``test`` needs fewer bits. ``nan`` when either curve has
        fewer than four points or the ranges do not overlap.

    Examples
    --------
    >>> rate, quality = [0.1, 0.2, 0.4, 0.8], [20.0, 23.0, 26.0, 29.0]
    >>> round(bd_rate(rate, quality, [r / 2 for r in rate], quality), 6)
    -50.0
    """
    log_a, q_a = _curve(anchor_rate, anchor_psnr)
    log_t, q_t = _curve(test_rate, test_psnr)
    gap = _mean_gap(q_a, log_a, q_t, log_t)
    return math.nan if math.isnan(gap) else (math.exp(gap) - 1) * 100


def bd_psnr(
    anchor_rate: Sequence[float],
    anchor_psnr: Sequence[float],
    test_rate: Sequence[float],
    test_psnr: Sequence[float],
) -> float:
    """Bjøntegaard delta PSNR of ``test`` against ``anchor``, in dB.

    Mean PSNR gain at equal rate over the log-rate range both curves cover
    (positive means ``test`` is better); ``nan`` as for :func:`bd_rate`.
    """
    log_a, q_a = _curve(anchor_rate, anchor_psnr)
    log_t, q_t = _curve(test_rate, test_psnr)
    return _mean_gap(log_a, q_a, log_t, q_t)
