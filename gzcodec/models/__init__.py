"""The networks: encoder, generator and prior (torch), and their configs (no torch).

The networks are imported when first asked for, so that reading a model's
config (:mod:`gzcodec.models.config`) does not import torch.
"""

from __future__ import annotations

from typing import Any

from .config import ContextModelConfig, EnhancedModelConfig, ModelConfig

__all__ = ["FaceModel", "ModelConfig", "network_class", "quantize", "quantize_ste"]


def network_class(config: ModelConfig | ContextModelConfig) -> type:
    """The network class a config builds: ``network_class(config)(config)`` is the model.

    Examples
    --------
    >>> network_class(ContextModelConfig()).__name__, network_class(EnhancedModelConfig()).__name__
    ('ContextModel', 'EnhancedModel')
    """
    if isinstance(config, EnhancedModelConfig):
        from .enhancement import EnhancedModel

        return EnhancedModel
    if isinstance(config, ContextModelConfig):
        from .context_model import ContextModel

        return ContextModel
    from .face_model import FaceModel

    return FaceModel


def __getattr__(name: str) -> Any:
    if name == "FaceModel":
        from .face_model import FaceModel

        return FaceModel
    if name in ("quantize", "quantize_ste"):
        from . import quantization

        return getattr(quantization, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
