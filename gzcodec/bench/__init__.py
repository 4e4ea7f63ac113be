"""``gzcodec bench``: gzcodec against the classic codecs on the same faces.

The bench measures every codec through one small interface
(:class:`~gzcodec.bench.interface.Codec`: ``encode(image, param=...)`` to bytes,
``decode(bytes)`` to an image), computes the rate from the real file bytes,
and writes a JSON of every measurement, a Markdown report and PNG figures.

Examples
--------
>>> from gzcodec.bench import run_bench
>>> results = run_bench("val/", "results/val10", n=10)   # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["DEFAULT_BUDGETS", "run_bench"]


def __getattr__(name: str):
    # Lazy: `gzcodec.bench.cli` is imported by every `gzcodec` command, and the
    # runner imports torch, matplotlib and imagecodecs (seconds, hundreds of MB).
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
