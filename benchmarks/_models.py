"""Shared by the benchmark scripts: a model from a weights file, a name or a training checkpoint."""

from __future__ import annotations

from pathlib import Path

import gzcodec

#: The widest coding window a checkpoint is exported with (windowed tables): wide enough that
#: the coder clamps next to nothing at any rate (0.17 elements a face at face-v3's top rate,
#: against 57 at face128-v2's 64: results/training-face-v3/table-radius.txt), so a comparison
#: measures the network.
CHECKPOINT_TABLE_RADIUS = 511


def load_model_or_checkpoint(spec: str, tmp: Path):
    """``gzcodec.load_model`` of ``spec``; a training checkpoint is exported into ``tmp`` first
    (with tables of :data:`CHECKPOINT_TABLE_RADIUS`)."""
    path = Path(spec)
    if not path.is_file():
        return gzcodec.load_model(spec)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        is_checkpoint = "options" in (f.metadata() or {})
    if is_checkpoint:
        from gzcodec.train import export_model

        weights = tmp / "model.safetensors"
        export_model(path, weights, name=path.stem, table_radius=CHECKPOINT_TABLE_RADIUS)
        path = weights
    return gzcodec.load_model(path)
