"""A training checkpoint's model as a shippable weights file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .checkpoints import load_checkpoint

__all__ = ["export_model"]


def export_model(checkpoint: str | Path, weights: str | Path, *, name: str, description: str = "",
                 force: bool = False, training: dict | None = None,
                 table_radius: int | None = None) -> str:
    """Write the model of a training checkpoint as a shippable weights file; return its id.

    ``training`` (data, wall time, ...) is stored in the file's metadata next to
    the step count and CPU time read from the checkpoint. The stored config is
    renamed ``name`` too, so that the registry and the bench name the model
    alike. An existing ``weights`` file is replaced only with ``force``: files
    made with it name its id, and could no longer be decoded. ``table_radius``:
    the coding window of a context model's tables (see
    :func:`~gzcodec.zoo.weights_file.save_weights`).
    """
    from ..zoo.weights_file import save_weights

    model, _, meta = load_checkpoint(checkpoint)
    model.config = dataclasses.replace(model.config, name=name)
    info = {"steps": int(meta["step"]), "cpu_hours": round(float(meta.get("cpu_seconds", 0)) / 3600, 2),
            "options": json.loads(meta["options"])}
    info.update(training or {})
    return save_weights(model, weights, name=name, description=description, training=info,
                        force=force, table_radius=table_radius)
