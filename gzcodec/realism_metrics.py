"""What a realistic decode is measured by: a sharpness profile, and KID between two sets of vectors.

Numpy only, so that training's validation and the bench use one definition.

**Sharpness profile** (:func:`band_powers`, :func:`sharpness_profile`). The
power spectrum of the grey image (ITU-R BT.601 luma, its mean removed, under a
2-D Hann window), averaged over the frequencies of each of four bands whose
edges are spaced evenly in log-frequency from 1/8 to 1 of the Nyquist
frequency (:data:`BAND_EDGES`: 0.125, 0.21, 0.35, 0.59, 1; the corners of the
spectrum past Nyquist are left out). A decode's profile is its band powers
over the original's, per band, averaged over faces: 1.0 is as sharp as the
original, below is blur (an MSE decoder's), above is added noise.

**KID** (:func:`kid`, :func:`kid_interval`): the kernel inception distance of
Bińkowski et al. (*Demystifying MMD GANs*, ICLR 2018), the unbiased estimate
of the squared maximum mean discrepancy under the cubic polynomial kernel
``k(x, y) = (x·y / d + 1)**3``, here between sets of any ``d``-dimensional
descriptors (the bench uses dlib's 128-D face descriptors: no Inception
network is available here). Its 95 % interval is a bootstrap over the
samples, with the pairs of a draw that repeat one sample left out, as the
estimator leaves out ``i = j``. When the two sets describe the same items
(decodes and their originals) the draws are paired, and each item's own pair
is left out of the cross term too, since its two vectors are not independent
(the MMD²_u of Gretton et al., *A Kernel Two-Sample Test*, JMLR 2012).

Examples
--------
>>> import numpy as np
>>> face = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
>>> sharpness_profile([face], [face]).tolist()
[1.0, 1.0, 1.0, 1.0]
>>> rng = np.random.default_rng(1)
>>> a, b = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
>>> abs(kid(a, b)) < 0.05, kid(a, b + 1) > 0.5
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BAND_EDGES", "band_powers", "grey", "kid", "kid_interval", "sharpness_profile"]

#: Edges of the four sharpness bands, in fractions of the Nyquist frequency (log-spaced).
BAND_EDGES: tuple[float, ...] = tuple(float(e) for e in np.geomspace(1 / 8, 1, 5))


def grey(image: np.ndarray) -> np.ndarray:
    """The luma (ITU-R BT.601) of an ``H x W x 3`` image as float64; a 2-D image as it is."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 2:
        return pixels
    return pixels[..., :3] @ np.array([0.299, 0.587, 0.114])


def _band_index(shape: tuple[int, int], edges: Sequence[float]) -> np.ndarray:
    """Each frequency's band (0.. len(edges) - 2), or -1 outside them, on an FFT grid of ``shape``."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    radius = np.hypot(fx, fy) / 0.5  # in fractions of Nyquist
    index = np.searchsorted(np.asarray(edges), radius, side="right") - 1
    index[(radius < edges[0]) | (radius > edges[-1])] = -1
    return index


def band_powers(image: np.ndarray, edges: Sequence[float] = BAND_EDGES) -> np.ndarray:
    """Mean power of the Hann-windowed spectrum of ``image``'s luma in each band.

    Parameters
    ----------
    image : numpy.ndarray
        ``H x W x 3`` (or ``H x W``), any range (uint8 0..255 in the bench).
    edges : sequence of float
        Band edges in fractions of the Nyquist frequency, increasing.

    Returns
    -------
    numpy.ndarray
        ``len(edges) - 1`` powers.
    """
    luma = grey(image)
    luma = luma - luma.mean()
    window = np.outer(np.hanning(luma.shape[0]), np.hanning(luma.shape[1]))
    power = np.abs(np.fft.fft2(luma * window)) ** 2
    index = _band_index(luma.shape, edges)
    return np.array([power[index == b].mean() for b in range(len(edges) - 1)])


def sharpness_profile(originals: Sequence[np.ndarray], decodes: Sequence[np.ndarray],
                      edges: Sequence[float] = BAND_EDGES) -> np.ndarray:
    """Per band, the decodes' power over their originals', averaged over the pairs (1.0: as sharp).

    Raises
    ------
    ValueError
        No pairs, or a different number of originals and decodes.
    """
    if len(originals) != len(decodes) or not len(originals):
        raise ValueError(f"need as many decodes as originals, at least one ({len(originals)} "
                         f"and {len(decodes)})")
    ratios = [band_powers(d, edges) / np.maximum(band_powers(o, edges), 1e-12)
              for o, d in zip(originals, decodes, strict=True)]
    return np.mean(ratios, axis=0)


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def _mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray, ix: np.ndarray, iy: np.ndarray, *,
          paired: bool = False) -> float:
    """The unbiased MMD² of the samples ``ix`` of x and ``iy`` of y.

    Pairs of one sample with itself are left out of the within-set terms; with
    ``paired`` (``x[i]`` and ``y[i]`` describe one item, so are not independent)
    also each item's own pair out of the cross term (Gretton et al. 2012's MMD²_u).
    """
    def mean_apart(k: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float(k[np.ix_(a, b)][a[:, None] != b[None, :]].mean())

    cross = mean_apart(kxy, ix, iy) if paired else float(kxy[np.ix_(ix, iy)].mean())
    return mean_apart(kxx, ix, ix) + mean_apart(kyy, iy, iy) - 2.0 * cross


def _vectors(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be at least 2 vectors of one length (an N x d array)")
    return x


def kid(x: np.ndarray, y: np.ndarray, *, paired: bool = False) -> float:
    """The unbiased KID (squared MMD, cubic polynomial kernel) of ``x`` (``m x d``) and ``y`` (``n x d``).

    ``paired``: ``x[i]`` and ``y[i]`` describe the same item (a decode and its
    original), and each item's own pair is left out of the cross term.
    """
    x, y = _vectors(x, "x"), _vectors(y, "y")
    if paired and len(x) != len(y):
        raise ValueError("paired samples must be as many in x as in y")
    return _mmd2(_kernel(x, x), _kernel(y, y), _kernel(x, y), np.arange(len(x)), np.arange(len(y)),
                 paired=paired)


def kid_interval(x: np.ndarray, y: np.ndarray, *, resamples: int = 1000, level: float = 0.95,
                 paired: bool | None = None, seed: int = 0) -> tuple[float, float, float]:
    """KID with a bootstrap interval: ``(kid, low, high)``.

    Parameters
    ----------
    x, y : numpy.ndarray
        ``m x d`` and ``n x d`` vectors.
    resamples : int
        Bootstrap draws.
    level : float
        Coverage of the interval (percentiles of the draws).
    paired : bool, optional
        ``x[i]`` and ``y[i]`` describe the same item: draw the same indices from
        both, and leave each item's own pair out of the cross term (see
        :func:`kid`); by default when ``m == n``.
    seed : int
        Seed of the draws: the same inputs give the same interval.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> value, low, high = kid_interval(rng.normal(size=(100, 4)), rng.normal(size=(100, 4)))
    >>> low < 0 < high
    True
    """
    x, y = _vectors(x, "x"), _vectors(y, "y")
    paired = len(x) == len(y) if paired is None else paired
    if paired and len(x) != len(y):
        raise ValueError("paired samples must be as many in x as in y")
    kxx, kyy, kxy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    value = _mmd2(kxx, kyy, kxy, np.arange(len(x)), np.arange(len(y)), paired=paired)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        ix = rng.integers(0, len(x), len(x))
        iy = ix if paired else rng.integers(0, len(y), len(y))
        if len(np.unique(ix)) > 1 and len(np.unique(iy)) > 1:
            draws.append(_mmd2(kxx, kyy, kxy, ix, iy, paired=paired))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return value, float(low), float(high)
