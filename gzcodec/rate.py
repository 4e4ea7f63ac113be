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


def bits_to_rate(bits: int) -> int:
    """The rate index of a ``--bits`` setting on a v2 model.

    ``bits`` 2..8 map linearly onto the rate indices 0..255 (0, 42, 85, 128,
    170, 212, 255), so onto the model's whole trained range: ``--bits`` keeps
    its meaning of "more is larger and better", from under 100 bytes to about
    1 KB a face with ``face128-v2`` (4: about 200 bytes; the default,
    :data:`gzcodec.options.DEFAULT_BITS`, is 5).
    """
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be 2..8 for this model (its trained range), not {bits}")
    return round((bits - 2) * RATE_INDEX_MAX / 6)


@dataclasses.dataclass(frozen=True)
class RateRequest:
    """What decides each image's rate: exactly one of the three is set."""

    rate: int | None = None
    max_bytes: int | None = None
    target_ssim: float | None = None
