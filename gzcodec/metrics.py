"""Image quality metrics: the one definition of MSE, PSNR and SSIM that gzcodec uses.

The encoder's ``target_ssim``, the bench's reports and the README all mean the
same SSIM: scikit-image's ``structural_similarity`` with the settings that
reproduce Wang et al. (2004), :data:`SSIM_SETTINGS` (Gaussian 11x11 window of
sigma 1.5, population covariance, K1=0.01, K2=0.03), averaged over the three
channels. Every function compares two ``H x W x 3`` uint8 RGB arrays on the
0..255 scale.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SSIM_SETTINGS", "image_pair", "mse", "psnr", "ssim"]

SSIM_SETTINGS: dict[str, object] = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "data_range": 255,
    "channel_axis": -1,
}
"""Keyword arguments of ``skimage.metrics.structural_similarity`` (Wang et al. 2004)."""


def image_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two images as arrays of the same shape (a ``ValueError`` if they differ)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def mse(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error over all pixels and channels (0..255 scale).

    Examples
    --------
    >>> import numpy as np
    >>> mse(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 3, np.uint8))
    9.0
    """
    a, b = image_pair(reference, test)
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images; ``inf`` when identical."""
    error = mse(reference, test)
    return math.inf if error == 0 else 10 * math.log10(255**2 / error)


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """SSIM with :data:`SSIM_SETTINGS` (Wang et al.'s Gaussian-window SSIM).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    >>> ssim(a, a)
    1.0
    """
    from skimage.metrics import structural_similarity

    a, b = image_pair(reference, test)
    return float(structural_similarity(a, b, **SSIM_SETTINGS))
