"""The model weights file: safetensors, config in its metadata, never a pickle.

Layout (all tensors little-endian, as safetensors defines):

* ``net.<name>``: the network's parameters, float16 (halves the file; the
  networks run in float32 after loading);
* ``pmf.<bits>``: float32 ``(C, 2**bits)`` probability tables of the prior for
  ``bits`` in 2..:data:`MAX_ANS_BITS`, computed once when the file is written
  so that encoder and decoder code under bit-identical tables on every
  machine (recomputing them from the prior's parameters with another libm
  could differ in the last bit and derail the ANS decoder);
* metadata ``format`` = ``gzcodec-model``, ``format_version`` = ``1``,
  ``config`` (JSON of :class:`~gzcodec.models.ModelConfig`), ``name``,
  ``description``, ``training`` (JSON: data, steps, wall time).

The model id is the first 6 bytes of the SHA-256 of the whole file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..container import MODEL_ID_SIZE
from ..errors import ModelFileError

__all__ = ["MAX_ANS_BITS", "ModelInfo", "model_id_of", "read_model_info", "load_weights",
           "save_weights"]

MAX_ANS_BITS = 10
_FORMAT = "gzcodec-model"
_MAX_HEADER = 1 << 24


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of a model without running it."""

    id: str
    name: str
    path: Path
    size_bytes: int
    config: dict[str, Any]
    description: str = ""
    training: dict[str, Any] = dataclasses.field(default_factory=dict)


def model_id_of(data: bytes) -> str:
    """Model id (hex) of a weights file's bytes."""
    return hashlib.sha256(data).digest()[:MODEL_ID_SIZE].hex()


def _metadata(data: bytes, path: Path) -> dict[str, str]:
    if len(data) < 8:
        raise ModelFileError(f"{path}: not a safetensors file (too short)")
    n = int.from_bytes(data[:8], "little")
    if n > min(_MAX_HEADER, len(data) - 8):
        raise ModelFileError(f"{path}: not a safetensors file (bad header length)")
    try:
        header = json.loads(data[8:8 + n])
        meta = header.get("__metadata__") or {}
    except (ValueError, AttributeError):
        raise ModelFileError(f"{path}: not a safetensors file (bad header)") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ModelFileError(f"{path}: not a gzcodec model (metadata format is not {_FORMAT!r})")
    if meta.get("format_version") != "1":
        raise ModelFileError(f"{path}: unsupported model format version {meta.get('format_version')}")
    return meta


def _info(data: bytes, path: Path) -> ModelInfo:
    meta = _metadata(data, path)
    try:
        config = json.loads(meta["config"])
        training = json.loads(meta.get("training", "{}"))
    except (KeyError, ValueError):
        raise ModelFileError(f"{path}: model metadata has no valid config") from None
    return ModelInfo(
        id=model_id_of(data), name=meta.get("name", path.stem), path=path,
        size_bytes=len(data), config=config, description=meta.get("description", ""),
        training=training,
    )


def read_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Id, name and config of the weights file at ``path`` (no torch needed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model ({exc.strerror})") from None
    return _info(data, path)


def load_weights(path: str | os.PathLike[str], *, expected_id: str | None = None):
    """Build the network and probability tables stored at ``path``.

    Returns ``(network, {bits: pmf_table})`` with the network in eval mode.
    Raises :class:`ModelFileError` for anything but a complete, matching file.
    """
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    from ..models import FaceModel, ModelConfig

    path = Path(path)
    data = path.read_bytes()
    info = _info(data, path)
    if expected_id is not None and info.id != expected_id:
        raise ModelFileError(f"{path}: changed on disk (id {info.id}, expected {expected_id})")
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: corrupt weights ({exc})") from None
    try:
        network = FaceModel(ModelConfig.from_dict(info.config))
        state = {k[4:]: v.float() for k, v in tensors.items() if k.startswith("net.")}
        network.load_state_dict(state, strict=True)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: weights do not fit the model config ({exc})") from None
    network.eval()
    network.requires_grad_(False)
    tables = {}
    c = network.config.latent_channels
    for key, value in tensors.items():
        if key.startswith("pmf."):
            bits = int(key[4:])
            table = value.numpy().astype(np.float32)
            if table.shape != (c, 1 << bits) or not np.isfinite(table).all():
                raise ModelFileError(f"{path}: probability table {key} is malformed")
            tables[bits] = table
    return network, tables


def save_weights(network, path: str | os.PathLike[str], *, name: str, description: str = "",
                 training: dict[str, Any] | None = None) -> str:
    """Write ``network`` as a gzcodec weights file; return its model id.

    The parameters are rounded to float16 first and the probability tables are
    computed from the rounded prior, so the file describes exactly the model
    that will be loaded from it.
    """
    import torch
    from safetensors.torch import save as save_tensors

    network = network.to(torch.float16).float().eval()
    tensors = {f"net.{k}": v.detach().to(torch.float16).contiguous()
               for k, v in network.state_dict().items()}
    cfg = network.config
    for bits in range(2, MAX_ANS_BITS + 1):
        table = network.prior.pmf_table(level=cfg.level(bits), bits=bits)
        tensors[f"pmf.{bits}"] = table.float().contiguous()
    meta = {
        "format": _FORMAT,
        "format_version": "1",
        "name": name,
        "description": description,
        "config": json.dumps(cfg.to_dict()),
        "training": json.dumps(training or {}),
    }
    data = save_tensors(tensors, metadata=meta)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return model_id_of(data)
