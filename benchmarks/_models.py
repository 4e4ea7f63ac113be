"""Shared by the benchmark scripts: a model from a weights file, a name or a training checkpoint."""

from __future__ import annotations

from pathlib import Path

import gzcodec


def load_model_or_checkpoint(spec: str, tmp: Path):
    """``gzcodec.load_model`` of ``spec``; a training checkpoint is exported into ``tmp`` first."""
    path = Path(spec)
    if not path.is_file():
        return gzcodec.load_model(spec)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        is_checkpoint = "options" in (f.metadata() or {})
    if is_checkpoint:
        from gzcodec.train import export_model

        weights = tmp / "model.safetensors"
        export_model(path, weights, name=path.stem)
        path = weights
    return gzcodec.load_model(path)
