"""The distortions an encode can minimise, by name, without importing torch.

What ``encode(loss=...)`` and ``gzcodec encode --loss`` accept; the functions
themselves are :data:`gzcodec.reversal.LOSSES`, in this order.
"""

from __future__ import annotations

__all__ = ["LOSS_NAMES"]

LOSS_NAMES: tuple[str, ...] = ("mse", "l1", "ssim", "ms-ssim", "mix")
"""MSE, mean absolute error, 1 - SSIM, 1 - MS-SSIM, and 0.84 MS-SSIM + 0.16 L1."""
