"""Coding a :class:`ContextModel`'s integer latent with the range coder, and back.

The order is the model's: the hyper-latent ``z`` first (if the model has one),
then each channel slice, row-major ``(C, H, W)`` inside a slice. Before a
slice is coded, its means and scales are predicted from what a decoder has
already decoded, snapped to the coder's grid (:func:`gaussian.snap`) and turned
into rows of the tables stored in the weights file.

Bit-exactness. Everything that decides a table row runs in float64 from
integers: a private float64 copy of the entropy model and of the encoder
gains, fed the decoded integers and the rate position, which is itself a
ratio of integers. Machines then agree on every snapped index except in the
~1e-12-wide neighbourhood of a snapping boundary; the golden-file test holds
the decoded bytes fixed across thread counts.

The ``writer`` and ``reader`` are :class:`gzcodec.payload.SymbolWriter` and
:class:`gzcodec.payload.SymbolReader` (any object with their ``write(symbols,
probabilities)`` / ``read(probabilities)`` methods will do).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from . import gaussian
from .context_model import ContextModel
from .entropy import HYPER_BITS

__all__ = ["ContextCoder"]


class ContextCoder:
    """The coding order and tables of one :class:`ContextModel`.

    Parameters
    ----------
    model : ContextModel
        The trained model (not modified).
    gaussian_tables : ndarray
        ``(SCALE_LEVELS, MEAN_FRACTIONS, 2 * TABLE_RADIUS + 1)`` float32, from
        the weights file (:func:`gaussian.build_tables` at export).
    hyper_tables : ndarray, optional
        ``(hyper_channels, 2**HYPER_BITS)`` float32 tables of ``z``.
    """

    def __init__(self, model: ContextModel, gaussian_tables: np.ndarray,
                 hyper_tables: np.ndarray | None = None) -> None:
        self.config = model.config
        self.prior = copy.deepcopy(model.prior).double().eval().requires_grad_(False)
        self.log_gain_enc = model.log_gain_enc.detach().double()
        self.tables = gaussian_tables
        self.hyper_tables = hyper_tables
        if self.config.hyper_channels and hyper_tables is None:
            raise ValueError("a model with a hyperprior needs its hyper tables")

    # -- shared by both directions -----------------------------------------------------

    def _gain(self, position: float) -> torch.Tensor:
        """Encoder gain ``(1, M, 1, 1)`` in float64 (the entropy model's unit)."""
        levels = self.config.levels
        i = min(int(math.floor(position)), levels - 2)
        t = position - i
        log_gain = torch.lerp(self.log_gain_enc[i], self.log_gain_enc[i + 1], t)
        return torch.exp(log_gain)[None, :, None, None]

    def _common(self, position: float, z: np.ndarray | None) -> torch.Tensor:
        features = None
        if z is not None:
            z_t = torch.from_numpy(z.astype(np.float64))[None]
            features = self.prior.hyper_features(z_t)
        pos = torch.tensor([position], dtype=torch.float64)
        return self.prior._common(1, pos, features)

    def _slice_rows(self, k: int, common: torch.Tensor, previous: np.ndarray,
                    gain: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(base, fraction, scale_index)`` of every element of slice ``k``."""
        prev = torch.from_numpy(previous.astype(np.float64))[None] if previous.size else None
        with torch.no_grad():
            mean, scale = self.prior.slice_params(k, common, prev, gain)
        return gaussian.snap(mean[0].numpy(), scale[0].numpy())

    def _hyper_rows(self) -> np.ndarray:
        """Per-symbol probability rows of ``z`` (row-major ``(Cz, 2, 2)``)."""
        side = self.config.latent_shape[1] // 4
        return np.repeat(self.hyper_tables, side * side, axis=0)

    # -- encoder side --------------------------------------------------------------------

    def write(self, q: np.ndarray, position: float, writer, *, z: np.ndarray | None = None
              ) -> np.ndarray:
        """Code the integers ``q`` ``(M, h, w)`` (and ``z``); return ``q`` as coded.

        Elements more than ``TABLE_RADIUS`` from their predicted mean are
        clamped into the window (they cost ~40 bits each, so the encoder never
        wants them; this only guards the format).
        """
        q = np.array(q, dtype=np.int64)
        radius = gaussian.TABLE_RADIUS
        if self.config.hyper_channels:
            half = 2 ** (HYPER_BITS - 1)
            z = np.clip(np.asarray(z, np.int64), -half, half - 1)
            writer.write((z + half).reshape(-1), self._hyper_rows())
        common = self._common(position, z)
        gain = self._gain(position)
        start = 0
        for k, width in enumerate(self.config.slices):
            base, fraction, scale_index = self._slice_rows(k, common, q[:start], gain)
            piece = np.clip(q[start:start + width], base - radius, base + radius)
            q[start:start + width] = piece
            writer.write((piece - base + radius).reshape(-1),
                         gaussian.table_rows(self.tables, fraction, scale_index))
            start += width
        return q

    def information_bits(self, q: np.ndarray, position: float, *,
                         z: np.ndarray | None = None) -> float:
        """``-log2 p`` of ``q`` (and ``z``) under the coder's own tables."""
        total = 0.0
        radius = gaussian.TABLE_RADIUS
        if self.config.hyper_channels:
            half = 2 ** (HYPER_BITS - 1)
            rows = self._hyper_rows()
            total -= np.log2(rows[np.arange(len(rows)), (np.asarray(z) + half).reshape(-1)]).sum()
        common = self._common(position, z)
        gain = self._gain(position)
        start = 0
        for k, width in enumerate(self.config.slices):
            base, fraction, scale_index = self._slice_rows(k, common, q[:start], gain)
            cols = np.clip(q[start:start + width] - base + radius, 0, 2 * radius).reshape(-1)
            rows = gaussian.table_rows(self.tables, fraction, scale_index)
            total -= np.log2(np.maximum(rows[np.arange(len(rows)), cols], 1e-12)).sum()
            start += width
        return float(total)

    # -- decoder side --------------------------------------------------------------------

    def read(self, reader, position: float) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode ``(q, z)`` in the order :meth:`write` coded them."""
        m, h, w = self.config.latent_shape
        radius = gaussian.TABLE_RADIUS
        z = None
        if self.config.hyper_channels:
            half = 2 ** (HYPER_BITS - 1)
            side = h // 4
            z = reader.read(self._hyper_rows()).astype(np.int64).reshape(-1, side, side) - half
        common = self._common(position, z)
        gain = self._gain(position)
        q = np.zeros((m, h, w), np.int64)
        start = 0
        for k, width in enumerate(self.config.slices):
            base, fraction, scale_index = self._slice_rows(k, common, q[:start], gain)
            symbols = reader.read(gaussian.table_rows(self.tables, fraction, scale_index))
            q[start:start + width] = symbols.astype(np.int64).reshape(width, h, w) + base - radius
            start += width
        return q, z
