"""Coding an :class:`~gzcodec.models.enhancement.EnhancedModel`'s two latents in one range payload.

:class:`EnhancedCoder` is the enhanced models' :class:`gzcodec.entropy.SymbolCoder`.
A payload holds, in this order:

1. the base latent, exactly as the base model's :class:`ContextCoder` writes
   it (hyper-latent ``z``, then each channel slice of ``q``);
2. only if the file's rate index reaches the model's enhancement level
   (``rate * (levels - 1) >= enhancement_level * 255``, integers): the
   enhancement latent ``e``, one pass at a time (with a checkerboard: the
   anchors, ``(i + j)`` even, then the rest), each pass's elements in
   ``(C, H, W)`` row-major order, under rows of the same Gaussian tables.

Below the enhancement level a payload is therefore byte for byte what the
base model writes, and nothing of the enhancement runs. The flat symbol
vector is ``z``, ``q`` and, where coded, ``e`` (:meth:`EnhancedCoder.join`).

Bit-exactness, as for the base: a float64 copy of the enhancement's entropy
model is fed the decoded integers, the rate position (a ratio of integers)
and the float64 gains, and its means and scales are snapped to the tables'
grid (:func:`gaussian.snap`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

from ..payload import SymbolReader, SymbolWriter, information_bits
from . import gaussian
from .context_coding import ContextCoder
from .context_model import RATE_INDEX_MAX, rate_position
from .enhancement import EnhancedModel

__all__ = ["EnhancedCoder"]

#: What a pass's prediction gives: snapped ``(base, fraction, scale_index)``, each ``(E, H, W)``.
_Snapped = tuple[np.ndarray, np.ndarray, np.ndarray]
#: A coding pass: which elements it codes ``(E, H, W)``, and their snapped predictions given
#: the enhancement latent decoded so far.
_Pass = tuple[np.ndarray, Callable[[np.ndarray], _Snapped]]


class EnhancedCoder:
    """The coding order and tables of one :class:`EnhancedModel` (a ``SymbolCoder``).

    Parameters
    ----------
    model : EnhancedModel
        The trained model (not modified).
    gaussian_tables, hyper_tables, windows : ndarray
        As for :class:`~gzcodec.models.context_coding.ContextCoder` (the
        enhancement codes under the same Gaussian tables and windows).
    """

    def __init__(self, model: EnhancedModel, gaussian_tables: np.ndarray,
                 hyper_tables: np.ndarray | None = None, *, windows: np.ndarray | None = None) -> None:
        self.base = ContextCoder(model, gaussian_tables, hyper_tables, windows=windows)
        self.config = model.config
        self.tables = self.base.tables
        self.shape = self.config.enhancement_shape
        if self.config.enhancement_channels:
            self.prior = copy.deepcopy(model.enhancement_prior).double().eval().requires_grad_(False)
            self.log_gain = model.log_gain_enh_enc.detach().double()

    # -- the gate and the flat symbol vector ---------------------------------------------

    @property
    def radius(self) -> int:
        """The widest coding window: the tables' radius."""
        return self.tables.radius

    def codes_rate(self, rate: int) -> bool:
        return self.base.codes_rate(rate)

    def codes_enhancement(self, rate: int) -> bool:
        """Whether files of rate index ``rate`` hold the enhancement latent (exact, in integers)."""
        cfg = self.config
        return bool(cfg.enhancement_channels) and (
            rate * (cfg.levels - 1) >= cfg.enhancement_level * RATE_INDEX_MAX)

    def size(self, rate: int) -> int:
        """Symbols in a file of rate index ``rate``."""
        return self.base.size + (int(np.prod(self.shape)) if self.codes_enhancement(rate) else 0)

    def join(self, q: np.ndarray, z: np.ndarray | None = None, e: np.ndarray | None = None) -> np.ndarray:
        """The flat symbol vector of a base latent ``q``, hyper-latent ``z`` and enhancement ``e``."""
        flat = self.base.join(q, z)
        return flat if e is None else np.concatenate([flat, np.asarray(e, np.int64).reshape(-1)])

    def _parts(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The base's flat symbols and the enhancement latent (``None`` when absent)."""
        flat = np.asarray(symbols)
        n = self.base.size
        if flat.shape == (n,):
            return flat, None
        if flat.shape != (n + int(np.prod(self.shape)),) or not self.config.enhancement_channels:
            raise ValueError(f"{flat.shape} symbols, the model codes ({n},) or with its "
                             f"enhancement ({n + int(np.prod(self.shape))},)")
        flat = flat.astype(np.int64)
        return flat[:n], flat[n:].reshape(self.shape)

    def split(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(q, z)`` of a flat symbol vector (as :meth:`ContextCoder.split`; ``e`` is left out)."""
        return self.base.split(self._parts(symbols)[0])

    def enhancement(self, symbols: np.ndarray) -> np.ndarray | None:
        """The enhancement latent ``(E, H, W)`` of a flat symbol vector, or ``None``."""
        return self._parts(symbols)[1]

    def _checked(self, symbols: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray | None]:
        base, e = self._parts(symbols)
        if (e is not None) != self.codes_enhancement(rate):
            raise ValueError(f"{np.size(symbols)} symbols, a file of rate {rate} codes {self.size(rate)}")
        return base, e

    # -- the passes ----------------------------------------------------------------------

    def _gain(self, position: float) -> torch.Tensor:
        """The enhancement's encoder gain ``(1, E, 1, 1)`` in float64 (as :meth:`ContextCoder._gain`)."""
        i = min(int(math.floor(position)), self.config.levels - 2)
        log_gain = torch.lerp(self.log_gain[i], self.log_gain[i + 1], position - i)
        return torch.exp(log_gain)[None, :, None, None]

    def _passes(self, rate: int, q: np.ndarray) -> Iterator[_Pass]:
        """The coding passes of the enhancement latent of a file of rate ``rate`` and base latent ``q``."""
        position = rate_position(rate, self.config.levels)
        base_gain, gain = self.base._gain(position), self._gain(position)
        with torch.no_grad():
            unscaled = torch.from_numpy(q.astype(np.float64))[None] / base_gain
            features = self.prior.features(unscaled, torch.tensor([position], dtype=torch.float64))
        for k, mask in enumerate(self.prior.passes()):

            def snapped(e: np.ndarray, k: int = k) -> _Snapped:
                known = None if k == 0 else torch.from_numpy(e.astype(np.float64))[None] / gain
                with torch.no_grad():
                    mean, scale = self.prior.params(features, known, gain)
                return gaussian.snap(mean[0].numpy(), scale[0].numpy())

            yield np.broadcast_to(mask.numpy(), self.shape), snapped

    def _groups(self, snapped: _Snapped, mask: np.ndarray):
        """The coding groups of a pass's elements ``mask`` (:meth:`gaussian.CodingTables.groups`)."""
        return self.tables.groups(*(part[mask] for part in snapped))

    # -- SymbolCoder ---------------------------------------------------------------------

    def clamp(self, symbols: np.ndarray, *, rate: int) -> np.ndarray:
        """``symbols`` with every element moved into its coding window (see :meth:`ContextCoder.clamp`)."""
        base, e = self._checked(symbols, rate)
        base = self.base.clamp(base, rate=rate)
        if e is None:
            return base
        q, z = self.base.split(base)
        e = e.copy()
        for mask, snapped in self._passes(rate, q):
            values = e[mask]
            for where, centre, w, _ in self._groups(snapped(e), mask):
                values[where] = np.clip(values[where], centre - w, centre + w)
            e[mask] = values
        return self.join(q, z, e)

    def write_symbols(self, symbols: np.ndarray, writer: SymbolWriter, *, rate: int) -> None:
        base, e = self._checked(symbols, rate)
        self.base.write_symbols(base, writer, rate=rate)
        if e is None:
            return
        for mask, snapped in self._passes(rate, self.base.split(base)[0]):
            values = e[mask]
            for where, centre, w, rows in self._groups(snapped(e), mask):
                columns = values[where] - centre + w
                if columns.min() < 0 or columns.max() > 2 * w:
                    raise ValueError("a symbol is outside its coding window; clamp() the latent first")
                writer.write(columns, rows)

    def read_symbols(self, reader: SymbolReader, *, rate: int) -> np.ndarray:
        base = self.base.read_symbols(reader, rate=rate)
        if not self.codes_enhancement(rate):
            return base
        e = np.zeros(self.shape, np.int64)
        for mask, snapped in self._passes(rate, self.base.split(base)[0]):
            values = np.zeros(int(mask.sum()), np.int64)
            for where, centre, w, rows in self._groups(snapped(e), mask):
                values[where] = reader.read(rows).astype(np.int64) + centre - w
            e[mask] = values
        return np.concatenate([base, e.reshape(-1)])

    def information_bits(self, symbols: np.ndarray, *, rate: int) -> float:
        base, e = self._checked(symbols, rate)
        total = self.base.information_bits(base, rate=rate)
        if e is None:
            return total
        for mask, snapped in self._passes(rate, self.base.split(base)[0]):
            values = e[mask]
            for where, centre, w, rows in self._groups(snapped(e), mask):
                total += information_bits(np.clip(values[where] - centre + w, 0, 2 * w), rows)
        return total
