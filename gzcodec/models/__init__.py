"""The networks: encoder, generator and prior (torch)."""

from .generator import FaceModel, ModelConfig, quantize_ste

__all__ = ["FaceModel", "ModelConfig", "quantize_ste"]
