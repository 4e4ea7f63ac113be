"""The networks: encoder, generator and prior (torch)."""

from .face_model import FaceModel, ModelConfig, quantize, quantize_ste

__all__ = ["FaceModel", "ModelConfig", "quantize", "quantize_ste"]
