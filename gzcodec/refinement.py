"""How much an encode refines the encoder network's guess, by name, without importing torch.

What ``encode(steps=..., effort=...)`` and ``gzcodec encode --steps/--effort``
fall back on; :mod:`gzcodec.reversal` runs the refinement with these numbers.

Examples
--------
>>> EFFORTS[DEFAULT_EFFORT]
24
"""

from __future__ import annotations

__all__ = ["DEFAULT_STEPS", "EFFORTS", "DEFAULT_EFFORT"]

#: Default refinement steps of v1 models (``face128``): none. Measured on 8 ``val``
#: faces, 10 straight-through steps returned byte-identical files to the encoder's
#: guess at bits 2..4: rounding hides the small moves Adam makes, so the steps only
#: cost time. v2 models refine with :func:`gzcodec.reversal.refine` (stochastic Gumbel
#: annealing), which does improve on the guess; see ``results/sga/``.
DEFAULT_STEPS = 0

#: Refinement iterations of each ``effort`` level (v2 models). ``fast`` fits the
#: 1 s/face budget on a 2-core CPU; ``archive`` is for files written once and kept.
EFFORTS: dict[str, int] = {"none": 0, "fast": 24, "archive": 200}
DEFAULT_EFFORT = "fast"
