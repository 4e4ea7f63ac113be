"""Gaussian conditional: the probability of an integer symbol given a mean and a scale.

The context model (:mod:`gzcodec.models.context_prior`) predicts, for every latent
element, a mean ``mu`` and a scale ``sigma``; the element is rounded to the
integer ``q`` and costs ``-log2 P(q)`` bits, where ``P`` is the mass of the
Gaussian ``N(mu, sigma)`` on the bin ``[q - 1/2, q + 1/2)``.

Bit-exact decoding. The entropy coder must see *exactly* the same table on the
decoding machine as on the encoding one, or the rest of the file decodes to
garbage (CompressAI #279, #54). So the coder never sees ``mu`` and ``sigma``
themselves: ``sigma`` is snapped to one of :data:`SCALE_LEVELS` values of a
fixed log-spaced table and ``mu`` to a multiple of ``1 / MEAN_FRACTIONS``, and
the coder reads the row of a table built once, at export, and stored in the
weights file. Only the snapping depends on floating-point arithmetic, and it
is computed in float64 from integer inputs, where machines agree except within
~1e-12 of a bin boundary.

Coding windows. A row covers the symbols within its window of ``floor(mu)``;
an element further out is clamped by the encoder. Tables are uniform (every
row ``radius`` wide each side: ``face128-v2``'s, and every export at the
default :data:`TABLE_RADIUS`) or windowed (:func:`scale_windows`: each scale's
rows as wide as :data:`TAIL_SIGMAS` of its scale, at least
:data:`TABLE_RADIUS`), which a model whose top rates spread wide needs without
paying a wide row for every narrow element. :class:`CodingTables` is the
coder's view of either.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..payload import QuantizedRows

__all__ = [
    "SCALE_MIN", "SCALE_MAX", "SCALE_LEVELS", "MEAN_FRACTIONS", "TABLE_RADIUS", "MAX_TABLE_RADIUS",
    "TAIL_SIGMAS", "table_radius", "scale_windows", "checked_windows", "CodingTables",
    "bin_likelihood", "snap", "build_tables", "row_index", "table_rows",
]

#: The fixed scale ladder: ``SCALE_LEVELS`` values log-spaced from ``SCALE_MIN`` to ``SCALE_MAX``
#: (CompressAI's ladder starts at 0.11 too: below it a bin holds > 99.99 % of the mass).
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 48.0, 64
#: Means are snapped to quarter symbols: finer changes the rate by < 0.1 %.
MEAN_FRACTIONS = 4
#: Symbols are coded in a window of ``2 * radius + 1`` values around ``floor(mu)``; the
#: encoder clamps the rare elements that would fall outside it. ``TABLE_RADIUS`` is the
#: radius of the tables new exports build; a model's own is its stored table's width
#: (:func:`table_radius`), so models exported with another radius keep decoding their files.
#: 64: at the top rate of the face model, 40 clamped ~4 elements a face and lost 0.37 dB;
#: 64 keeps 0.35 of those dB, 127 all of them but decodes ~4-5 ms slower (decode time grows
#: with the table's width; ``benchmarks/table_radius.py``, ``results/decode-time/``).
TABLE_RADIUS = 64
#: The widest table a weights file may store.
MAX_TABLE_RADIUS = 1023
#: A windowed table's rows reach this many of their scale each side of the mean (capped at
#: the table's radius). Elements are clamped only at the largest scales: at face-v3's top rate
#: all the elements beyond 64 had scales of 15 or more, most at the ladder's top, 48, and no
#: element of any scale was beyond 9.1 of it (``results/training-face-v3/clamped-scales.txt``).
TAIL_SIGMAS = 10

_LOG_MIN, _LOG_MAX = math.log(SCALE_MIN), math.log(SCALE_MAX)
_SQRT1_2 = math.sqrt(0.5)


def _std_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-_SQRT1_2 * x)


def bin_likelihood(y: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mass of ``N(mean, scale)`` on ``[y - 1/2, y + 1/2)``, clamped away from zero.

    Differentiable in all three arguments; evaluated on the side of the mean
    where the two CDF values are small, so that far tails do not cancel to 0.
    """
    scale = scale.clamp_min(SCALE_MIN)
    v = (y - mean).abs()
    upper = _std_cdf((0.5 - v) / scale)
    lower = _std_cdf((-0.5 - v) / scale)
    return (upper - lower).clamp_min(1e-9)


def snap(mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snap float64 means and scales to the coder's grid.

    Returns ``(base, fraction, scale_index)``: the table row for an element is
    ``(scale_index, fraction)`` and symbol ``q`` sits at column
    ``q - base + radius``.
    """
    mean = np.asarray(mean, np.float64)
    scale = np.asarray(scale, np.float64)
    quarters = np.round(mean * MEAN_FRACTIONS).astype(np.int64)
    base = np.floor_divide(quarters, MEAN_FRACTIONS)
    fraction = quarters - base * MEAN_FRACTIONS
    position = (np.log(np.clip(scale, SCALE_MIN, SCALE_MAX)) - _LOG_MIN) / (_LOG_MAX - _LOG_MIN)
    scale_index = np.round(position * (SCALE_LEVELS - 1)).astype(np.int64)
    return base, fraction, scale_index


def scale_ladder() -> np.ndarray:
    """The ``SCALE_LEVELS`` scales of the table, float64."""
    return np.exp(np.linspace(_LOG_MIN, _LOG_MAX, SCALE_LEVELS))


def scale_windows(radius: int) -> np.ndarray | None:
    """Each scale's window in windowed tables of ``radius``, or ``None`` where they are all ``radius``.

    A scale ``sigma``'s rows reach ``ceil(TAIL_SIGMAS * sigma)`` each side, at
    least ``min(radius, TABLE_RADIUS)`` and at most ``radius``. Up to
    :data:`TABLE_RADIUS` every window is the radius: uniform tables, as before.

    Examples
    --------
    >>> scale_windows(TABLE_RADIUS) is None
    True
    >>> w = scale_windows(511)
    >>> int(w[0]), int(w[-1]), int((w > TABLE_RADIUS).sum())
    (64, 481, 21)
    """
    floor = min(radius, TABLE_RADIUS)
    windows = np.clip(np.ceil(TAIL_SIGMAS * scale_ladder()), floor, radius).astype(np.int64)
    return None if bool((windows == radius).all()) else windows


def build_tables(radius: int = TABLE_RADIUS, windows: np.ndarray | None = None) -> np.ndarray:
    """Probability tables ``(SCALE_LEVELS, MEAN_FRACTIONS, 2 * radius + 1)``, float32.

    Row ``(s, f)`` holds the masses of the symbols ``base - w .. base + w``
    for a Gaussian centred at ``base + f / MEAN_FRACTIONS``, where ``w`` is the
    scale's window (``windows[s]``; default: ``radius`` for every scale),
    centred in the row and padded with zeros; its two end columns take the
    tails, so every row sums to one. Built at export and stored in the
    weights file: decoders read it, they never recompute it.
    """
    if not 1 <= radius <= MAX_TABLE_RADIUS:
        raise ValueError(f"table radius must be 1..{MAX_TABLE_RADIUS}, not {radius}")
    if windows is not None:
        windows = checked_windows(windows, radius)
        out = np.zeros((SCALE_LEVELS, MEAN_FRACTIONS, 2 * radius + 1), np.float32)
        for w in np.unique(windows):
            scales = windows == w
            out[scales, :, radius - w:radius + w + 1] = build_tables(int(w))[scales]
        return out
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    scales = torch.from_numpy(scale_ladder())[:, None, None]
    centres = torch.arange(MEAN_FRACTIONS, dtype=torch.float64)[None, :, None] / MEAN_FRACTIONS
    edges = torch.from_numpy(np.concatenate([offsets - 0.5, offsets[-1:] + 0.5]))[None, None, :]
    cdf = _std_cdf((edges - centres) / scales)
    cdf[..., 0] = 0.0
    cdf[..., -1] = 1.0
    pmf = (cdf[..., 1:] - cdf[..., :-1]).clamp_min(0.0).numpy()
    return (pmf / pmf.sum(-1, keepdims=True)).astype(np.float32)


def table_radius(tables: np.ndarray) -> int:
    """The coding window's radius of tables built by :func:`build_tables` (from their width)."""
    width = np.shape(tables)[-1]
    if width % 2 != 1 or not 3 <= width <= 2 * MAX_TABLE_RADIUS + 1:
        raise ValueError(f"a Gaussian table is 2 * radius + 1 wide (radius 1..{MAX_TABLE_RADIUS}), "
                         f"not {width}")
    return (width - 1) // 2


def checked_windows(windows: np.ndarray, radius: int) -> np.ndarray:
    """``windows`` as int64 if they are coding windows of tables of ``radius``, else ``ValueError``."""
    windows = np.asarray(windows)
    if (windows.shape != (SCALE_LEVELS,) or not np.issubdtype(windows.dtype, np.integer)
            or windows.min() < 1 or windows.max() > radius):
        raise ValueError(f"coding windows must be {SCALE_LEVELS} integers in 1..{radius} (the "
                         f"table's radius), not {windows.shape} {windows.dtype}")
    return windows.astype(np.int64)


class CodingTables:
    """The coder's view of a model's Gaussian tables: each element's window and row.

    Parameters
    ----------
    tables : ndarray
        ``(SCALE_LEVELS, MEAN_FRACTIONS, 2 * radius + 1)``, as :func:`build_tables`
        made them.
    windows : ndarray, optional
        ``(SCALE_LEVELS,)`` integers in ``1..radius``: each scale's window, as
        the tables were built with; ``None``: every row's is ``radius``.

    Notes
    -----
    :meth:`groups` splits the elements of a pass by window, narrowest first,
    each group in the elements' order; a coder writes and reads the groups in
    that order. Uniform tables make one group of every element in order, so
    their payloads are what they were before windows existed.
    """

    def __init__(self, tables: np.ndarray, windows: np.ndarray | None = None) -> None:
        self.radius = table_radius(tables)
        r = self.radius
        self.windows = (np.full(SCALE_LEVELS, r, np.int64) if windows is None
                        else checked_windows(windows, r))
        self.windowed = windows is not None
        # Per window, the rows of its scales cropped to it, quantized once (not per file:
        # re-quantizing each element's row was most of a decode's time; the bits are the same).
        self._rows: dict[int, QuantizedRows] = {}
        self._slot = np.zeros(SCALE_LEVELS, np.int64)  # a scale's place among its window's
        for w in (int(w) for w in np.unique(self.windows)):
            scales = np.flatnonzero(self.windows == w)
            self._slot[scales] = np.arange(scales.size)
            rows = np.asarray(tables)[scales, :, r - w:r + w + 1]
            self._rows[w] = QuantizedRows(rows.reshape(-1, 2 * w + 1))

    def groups(self, base: np.ndarray, fraction: np.ndarray, scale_index: np.ndarray):
        """``(where, centre, window, rows)`` for each window among the elements, narrowest first.

        The arguments are :func:`snap`'s, one value per element (any shape,
        flattened); ``where`` are the group's flat positions in order,
        ``centre`` their ``base``, and element ``q`` is coded as column
        ``q - centre + window`` of its row in ``rows``.
        """
        base, fraction, scale_index = (np.asarray(a).reshape(-1) for a in (base, fraction, scale_index))
        window = self.windows[scale_index]
        for w in np.unique(window):
            where = np.flatnonzero(window == w)
            index = self._slot[scale_index[where]] * MEAN_FRACTIONS + fraction[where]
            yield where, base[where], int(w), self._rows[int(w)].take(index)


def row_index(fraction: np.ndarray, scale_index: np.ndarray) -> np.ndarray:
    """Each element's row in the tables flattened to ``(SCALE_LEVELS * MEAN_FRACTIONS, L)``."""
    return (np.asarray(scale_index) * MEAN_FRACTIONS + np.asarray(fraction)).reshape(-1)


def table_rows(tables: np.ndarray, fraction: np.ndarray, scale_index: np.ndarray) -> np.ndarray:
    """The coder's probability row of each element: ``(n, 2 * radius + 1)``."""
    return tables.reshape(-1, tables.shape[-1])[row_index(fraction, scale_index)]
