"""What decides a v2 encode's rate index, without importing torch.

A v2 (context) model codes each image at one of its rate indices 0..255
(:data:`RATE_INDEX_MAX`): a fixed one (``rate``, or
``bits`` mapped by :func:`bits_to_rate`), or the one a target asks for
(``max_bytes``, ``target_ssim``). A family's ``rate_request``
(:mod:`gzcodec.families.hyperprior_context`) makes a :class:`RateRequest` of an
encode's options; checking options needs no torch (the ``--ray`` driver
validates before any worker starts), so these live here, below the models.

Examples
--------
>>> bits_to_rate(5)
128
>>> RateRequest(max_bytes=441)
RateRequest(rate=None, max_bytes=441, target_ssim=None)
"""

from __future__ import annotations

import dataclasses

__all__ = ["RATE_INDEX_MAX", "RateRequest", "bits_to_rate", "rate_position"]

#: The rate byte of a hyperprior-context model's file: 0 (fewest bytes) .. RATE_INDEX_MAX (most).
RATE_INDEX_MAX = 255


def rate_position(rate_index: int, levels: int) -> float:
    """The continuous rate position of a file's rate byte (0..255) on a model of ``levels`` levels."""
    if not 0 <= rate_index <= RATE_INDEX_MAX:
        raise ValueError(f"rate index must be 0..{RATE_INDEX_MAX}, not {rate_index}")
    return rate_index * (levels - 1) / RATE_INDEX_MAX


def bits_to_rate(bits: int, *, levels: int = 10) -> int:
    """The rate index of a ``--bits`` setting on a v2 model of ``levels`` trained levels.

    ``bits`` keeps its meaning of "more is larger and better" and spans the
    model's whole trained range: 2 is its lowest level, 8 its top. On a model
    of up to ten levels (``face128-v2``, ``cat128``) it maps linearly onto the
    rate indices 0..255 (0, 42, 85, 128, 170, 212, 255): from under 100 bytes
    to about 1 KB a face with ``face128-v2`` (4: about 200 bytes; the default,
    :data:`gzcodec.options.DEFAULT_BITS`, is 5). A model with more levels
    trains ``face128-v2``'s ten λ first and adds levels above them (the v3
    candidates), so there ``bits`` 2..5 keep ``face128-v2``'s rate positions
    (0, 1.5, 3, 4.5: the same λ as ``face128-v2``'s, the default included) and 5..8
    share the rest of the range evenly up to the top level.

    Examples
    --------
    >>> [bits_to_rate(b) for b in range(2, 9)]
    [0, 42, 85, 128, 170, 212, 255]
    >>> [bits_to_rate(b, levels=13) for b in range(2, 9)]
    [0, 32, 64, 96, 149, 202, 255]
    """
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be 2..8 for this model (its trained range), not {bits}")
    if levels < 2:
        raise ValueError(f"a model has at least 2 rate levels, not {levels}")
    top = levels - 1
    if top <= 9:
        position = (bits - 2) * top / 6
    elif bits <= 5:
        position = (bits - 2) * 1.5
    else:
        position = 4.5 + (bits - 5) * (top - 4.5) / 3
    return round(position * RATE_INDEX_MAX / top)


@dataclasses.dataclass(frozen=True)
class RateRequest:
    """What decides each image's rate: exactly one of the three is set."""

    rate: int | None = None
    max_bytes: int | None = None
    target_ssim: float | None = None
