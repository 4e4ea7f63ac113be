"""The networks: encoder, generator and prior (torch)."""

from .generator import FaceModel, ModelConfig, quantize, quantize_ste

__all__ = ["FaceModel", "ModelConfig", "quantize", "quantize_ste"]
