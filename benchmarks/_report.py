"""What the benchmark scripts share to report: the table printed, and kept in ``--out`` if given."""

from __future__ import annotations

from pathlib import Path


def emit(text: str, out: Path | None) -> None:
    """Print ``text``; also write it to ``out`` (its folder made) when one is given."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
