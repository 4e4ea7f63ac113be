"""Coding a :class:`ContextModel`'s integer latent in a range payload, and back.

:class:`ContextCoder` is the v2 model's :class:`gzcodec.entropy.SymbolCoder`.
The order is the model's: the hyper-latent ``z`` first when the model has a
hyperprior (each channel's ``2 x 2`` values under that channel's factorized
table), then each channel slice in turn, row-major ``(C, H, W)`` inside a
slice. The symbols are one flat int64 vector, ``z`` then ``q``
(:meth:`ContextCoder.join` / :meth:`ContextCoder.split`). Before a slice is
coded, its means and scales are predicted from what a decoder has already decoded, snapped to the coder's grid
(:func:`gaussian.snap`) and turned into rows of the table stored in the
weights file. The file's rate byte is the rate index (:func:`rate_position`).

Bit-exactness. Everything that decides a table row runs in float64 from
integers: a private float64 copy of the context model and of the encoder
gains, fed the decoded integers and the rate position, which is itself a
ratio of integers. Machines then agree on every snapped index except in the
~1e-12-wide neighbourhood of a snapping boundary; the golden-file test holds
the decoded symbols fixed across thread counts.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..payload import QuantizedRows, SymbolReader, SymbolWriter, information_bits, symbol_offset, symbol_range
from . import gaussian
from .context_model import RATE_INDEX_MAX, ContextModel, rate_position
from .context_prior import HYPER_BITS

__all__ = ["ContextCoder"]


class ContextCoder:
    """The coding order and tables of one :class:`ContextModel` (a ``SymbolCoder``).

    Parameters
    ----------
    model : ContextModel
        The trained model (not modified).
    gaussian_tables : ndarray
        ``(SCALE_LEVELS, MEAN_FRACTIONS, 2 * radius + 1)`` float32, from
        the weights file (:func:`gaussian.build_tables` at export); the width
        sets the coding window.
    hyper_tables : ndarray, optional
        ``(hyper_channels, 2**HYPER_BITS)`` float32 tables of ``z``, for a model
        with a hyperprior.
    windows : ndarray, optional
        ``(SCALE_LEVELS,)``: each scale's coding window, for windowed tables
        (:func:`gaussian.scale_windows`); ``None``: uniform tables.
    """

    def __init__(self, model: ContextModel, gaussian_tables: np.ndarray,
                 hyper_tables: np.ndarray | None = None, *, windows: np.ndarray | None = None) -> None:
        self.config = model.config
        if self.config.hyper_channels and hyper_tables is None:
            raise ValueError("a model with a hyperprior needs its hyper tables")
        self.prior = copy.deepcopy(model.prior).double().eval().requires_grad_(False)
        self.log_gain_enc = model.log_gain_enc.detach().double()
        m, h, w = self.config.latent_shape
        self.hyper_shape = (self.config.hyper_channels, h // 4, w // 4)
        self.tables = gaussian.CodingTables(gaussian_tables, windows)
        self.hyper_table = None if hyper_tables is None else QuantizedRows(hyper_tables)

    # -- the flat symbol vector ------------------------------------------------------------

    @property
    def size(self) -> int:
        """Symbols per file: ``z``'s then ``q``'s."""
        return int(np.prod(self.hyper_shape)) + int(np.prod(self.config.latent_shape))

    def join(self, q: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """The flat symbol vector of a latent ``q`` ``(M, h, w)`` and hyper-latent ``z``."""
        parts = [np.asarray(z, np.int64).reshape(-1)] if self.config.hyper_channels else []
        return np.concatenate(parts + [np.asarray(q, np.int64).reshape(-1)])

    def split(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(q, z)`` of a flat symbol vector (``z`` is None without a hyperprior)."""
        flat = np.asarray(symbols)
        if flat.shape != (self.size,):
            raise ValueError(f"{flat.shape} symbols, the model codes ({self.size},)")
        flat = flat.astype(np.int64)
        n_z = int(np.prod(self.hyper_shape))
        z = flat[:n_z].reshape(self.hyper_shape) if n_z else None
        return flat[n_z:].reshape(self.config.latent_shape), z

    def _hyper_rows(self) -> QuantizedRows:
        per_channel = self.hyper_shape[1] * self.hyper_shape[2]
        return self.hyper_table.take(np.repeat(np.arange(self.hyper_shape[0]), per_channel))

    @property
    def radius(self) -> int:
        """The widest coding window: the tables' radius."""
        return self.tables.radius

    def codes_rate(self, rate: int) -> bool:
        return 0 <= rate <= RATE_INDEX_MAX

    def _position(self, rate: int) -> float:
        return rate_position(rate, self.config.levels)

    def _gain(self, position: float) -> torch.Tensor:
        """Encoder gain ``(1, M, 1, 1)`` in float64 (the entropy model's unit)."""
        i = min(int(math.floor(position)), self.config.levels - 2)
        log_gain = torch.lerp(self.log_gain_enc[i], self.log_gain_enc[i + 1], position - i)
        return torch.exp(log_gain)[None, :, None, None]

    def _slices(self, rate: int, z: np.ndarray | None):
        """For each slice: ``(start, width, snapped(previous) -> (base, fraction, scale_index))``."""
        position = self._position(rate)
        features = None
        if z is not None:
            with torch.no_grad():
                features = self.prior.hyper_features(torch.from_numpy(z.astype(np.float64))[None])
        common = self.prior._common(1, torch.tensor([position], dtype=torch.float64), features)
        gain = self._gain(position)
        start = 0
        for k, width in enumerate(self.config.slices):

            def snapped(previous: np.ndarray, k: int = k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                prev = torch.from_numpy(previous.astype(np.float64))[None] if previous.size else None
                with torch.no_grad():
                    mean, scale = self.prior.slice_params(k, common, prev, gain)
                return gaussian.snap(mean[0].numpy(), scale[0].numpy())

            yield start, width, snapped
            start += width

    def clamp(self, symbols: np.ndarray, *, rate: int) -> np.ndarray:
        """``symbols`` with every element moved into its coding window.

        An element further than its window from its predicted mean cannot be
        coded; it is moved to the window's edge, at the cost of its accuracy.
        With uniform radius-40 tables that happened to ~4 elements a face at
        ``face128-v2``'s top rate; with radius 64, to ~0.5 (12 val faces,
        ``benchmarks/table_radius.py``). Call it before :meth:`write_symbols`.
        """
        q, z = self.split(symbols)
        q = q.copy()
        if z is not None:
            z = np.clip(z, *symbol_range(HYPER_BITS))
        for start, width, snapped in self._slices(rate, z):
            values = q[start:start + width].reshape(-1)  # a view: clipping it clips q
            for where, centre, w, _ in self.tables.groups(*snapped(q[:start])):
                values[where] = np.clip(values[where], centre - w, centre + w)
        return self.join(q, z)

    def write_symbols(self, symbols: np.ndarray, writer: SymbolWriter, *, rate: int) -> None:
        q, z = self.split(symbols)
        if z is not None:
            unsigned = z.reshape(-1) + symbol_offset(HYPER_BITS)
            if unsigned.min() < 0 or unsigned.max() >= 1 << HYPER_BITS:
                raise ValueError("z is outside its range; clamp() the latent first")
            writer.write(unsigned, self._hyper_rows())
        for start, width, snapped in self._slices(rate, z):
            values = q[start:start + width].reshape(-1)
            for where, centre, w, rows in self.tables.groups(*snapped(q[:start])):
                columns = values[where] - centre + w
                if columns.min() < 0 or columns.max() > 2 * w:
                    raise ValueError("a symbol is outside its coding window; clamp() the latent first")
                writer.write(columns, rows)

    def read_symbols(self, reader: SymbolReader, *, rate: int) -> np.ndarray:
        z = None
        if self.config.hyper_channels:
            unsigned = reader.read(self._hyper_rows()).astype(np.int64)
            z = (unsigned - symbol_offset(HYPER_BITS)).reshape(self.hyper_shape)
        m, h, w = self.config.latent_shape
        q = np.zeros((m, h, w), np.int64)
        for start, width, snapped in self._slices(rate, z):
            values = np.zeros(width * h * w, np.int64)
            for where, centre, window, rows in self.tables.groups(*snapped(q[:start])):
                values[where] = reader.read(rows).astype(np.int64) + centre - window
            q[start:start + width] = values.reshape(width, h, w)
        return self.join(q, z)

    def information_bits(self, symbols: np.ndarray, *, rate: int) -> float:
        q, z = self.split(symbols)
        total = 0.0
        if z is not None:
            half = symbol_offset(HYPER_BITS)
            total += information_bits(np.clip(z + half, 0, 2 * half - 1).reshape(-1),
                                      self._hyper_rows())
        for start, width, snapped in self._slices(rate, z):
            values = q[start:start + width].reshape(-1)
            for where, centre, w, rows in self.tables.groups(*snapped(q[:start])):
                total += information_bits(np.clip(values[where] - centre + w, 0, 2 * w), rows)
        return total
