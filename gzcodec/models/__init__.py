"""The networks: encoder, generator and prior (torch), and their configs (no torch).

The networks are imported when first asked for, so that reading a model's
config (:mod:`gzcodec.models.config`) does not import torch.
"""

from __future__ import annotations

from typing import Any

from .config import ModelConfig

__all__ = ["FaceModel", "ModelConfig", "quantize", "quantize_ste"]


def __getattr__(name: str) -> Any:
    if name == "FaceModel":
        from .face_model import FaceModel

        return FaceModel
    if name in ("quantize", "quantize_ste"):
        from . import quantization

        return getattr(quantization, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
