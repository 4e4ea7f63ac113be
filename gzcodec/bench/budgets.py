"""The bench's byte budgets: whole files, in bytes, the user-facing knob of ``gzcodec bench``.

Every matched-rate comparison is made at a budget: each codec's largest file
within so many bytes. Internally the matched-rate tables also carry the
budget's rate in bits per pixel (:func:`budget_bpp`), which converts back to
the same number of bytes exactly (:func:`gzcodec.bench.measure.budget_bytes`).

Examples
--------
>>> parse_budgets("441, 205,3072")
(205, 441, 3072)
>>> budget_bpp(205)
0.10009765625
>>> parse_budgets("205,1.5k")
Traceback (most recent call last):
...
ValueError: '1.5k' is not a whole number of bytes
"""

from __future__ import annotations

from .measure import IMAGE_SIZE

__all__ = ["DEFAULT_BUDGETS", "budget_bpp", "parse_budgets"]

DEFAULT_BUDGETS: tuple[int, ...] = (100, 150, 205, 307, 441, 614, 1024, 1536, 2048, 3072)
"""Bytes, whole files: issue 20's measurement rules (205 and 441 B are the poster's
0.1 and 0.2152 bpp at 128x128), enough points above the classic codecs' smallest
files for a cubic BD fit."""


def budget_bpp(budget: int, size: int = IMAGE_SIZE) -> float:
    """The rate of a ``budget``-byte file of a ``size`` square, in bits per pixel (exact)."""
    return budget * 8 / (size * size)


def parse_budgets(text: str) -> tuple[int, ...]:
    """Budgets from ``--budgets``' comma-separated whole bytes, sorted.

    Raises
    ------
    ValueError
        With a one-line message: an empty list, an entry that is not a whole
        number of bytes above 0, or one given twice.
    """
    entries = [entry.strip() for entry in text.split(",")]
    if not any(entries):
        raise ValueError("give at least one budget in bytes, e.g. 205,441")
    budgets: list[int] = []
    for entry in entries:
        if not entry.isdigit():
            raise ValueError(f"{entry!r} is not a whole number of bytes")
        value = int(entry)
        if value <= 0:
            raise ValueError(f"{value} bytes: a budget must be above 0")
        if value in budgets:
            raise ValueError(f"{value} bytes is given twice")
        budgets.append(value)
    return tuple(sorted(budgets))
