"""Rounding a latent to what a file stores, as the networks do it (torch).

The one definition of the quantizers the models train and encode with, shared
by the ``factorized`` and ``hyperprior-context`` networks and the reversal;
the symbols they make are what :mod:`gzcodec.payload` writes.

Examples
--------
>>> symbol_range(4)
(-8, 7)
"""

from __future__ import annotations

import torch

__all__ = ["quantize", "quantize_ste", "round_ste", "symbol_range"]


def symbol_range(bits: int) -> tuple[int, int]:
    """The smallest and largest ``bits``-bit signed symbol a latent is clamped to.

    The networks' side of the rule :func:`gzcodec.payload.symbol_range` states
    for the payload (the two are tested equal): a network clamps to it, the
    payload refuses anything outside it.
    """
    half = 1 << (bits - 1)
    return -half, half - 1


def quantize(latent: torch.Tensor, step: float) -> torch.Tensor:
    """Round to the step grid: the latent that a file of its symbols stores."""
    return torch.round(latent / step) * step


def quantize_ste(latent: torch.Tensor, step: float) -> torch.Tensor:
    """Round to the step grid, passing gradients straight through."""
    return latent + (quantize(latent, step) - latent).detach()


def round_ste(y: torch.Tensor) -> torch.Tensor:
    """Round to integers, passing gradients straight through."""
    return quantize_ste(y, 1.0)
