"""Realism weights: a realism decoder in a file of its own, beside the model it decodes for.

A model's realistic decode (:mod:`gzcodec.models.realism`) is a separate
safetensors file, so that adding one never changes the model's weights file,
and so never its id, which every existing ``.gzl`` file names. Layout:

* ``net.<name>``: the decoder's parameters, float16 (it runs in float32);
* metadata ``format`` = ``gzcodec-realism``, ``format_version`` = ``1``,
  ``base_model_id`` (the 12 hex digits of the model it was trained for),
  ``base_model_name``, ``config`` (JSON of :class:`~gzcodec.models.config.RealismConfig`),
  ``name``, ``description``, ``training`` (JSON) and ``tensors_sha256``, the
  SHA-256 of the tensors' bytes, checked when the decoder is loaded.

Its own id is, as a model's, the first 6 bytes of the SHA-256 of the whole
file (12 hex digits).

Where it is found, for a model whose weights are ``DIR/NAME.safetensors``:
an explicit path first (``realism_weights=``, ``--realism-weights``), then
``DIR/NAME.realism.safetensors`` (:func:`realism_path_for`), then every
``*.realism.safetensors`` of the registry's folders
(:func:`gzcodec.zoo.search_folders`: ``GZCODEC_MODEL_PATH``, the user cache,
the bundled models) whose ``base_model_id`` is the model's. A file made for
another model is never used: given by path, or found under the model's own
name (beside it, or ``<model name>.realism.safetensors`` in a folder), it is an
error that says so.

Examples
--------
>>> from gzcodec.zoo import find_model
>>> realism_path_for(find_model("face128-v2").path).name
'face128-v2.realism.safetensors'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ModelFileError, ModelMismatchError, ModelNotFoundError
from ..fileio import write_atomic
from ..models.config import ContextModelConfig, RealismConfig
from .folders import search_folders
from .weights_file import FileInfo, FileKind, model_id_of, read_file_bytes, read_file_head, sorted_metadata

if TYPE_CHECKING:
    from ..models.realism import RealismGenerator

__all__ = ["REALISM_FILE", "REALISM_SUFFIX", "RealismInfo", "check_realism", "find_realism", "load_realism",
           "read_realism_info", "realism_path_for", "require_realism", "save_realism"]

#: What a realism weights file's metadata says it is.
REALISM_FILE = FileKind("gzcodec-realism", ("1",), "gzcodec realism decoder", "realism decoder")
#: The end of a realism file's name: ``face128-v2.realism.safetensors`` for ``face128-v2.safetensors``.
REALISM_SUFFIX = ".realism.safetensors"


class BaseModel(Protocol):
    """What finding a realism decoder needs of its base model: a ``LoadedModel`` or a ``ModelInfo``."""

    @property
    def id(self) -> str: ...

    @property
    def path(self) -> Path: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class RealismInfo(FileInfo):
    """What a realism weights file says of itself, read from its header (no torch): its
    :class:`~gzcodec.zoo.weights_file.FileInfo` and the model it was trained for."""

    base_model_id: str
    base_model_name: str


def check_realism(value: object) -> float:
    """A realism weight β as a float in [0, 1]; ``None`` is 0, the fidelity decode.

    >>> check_realism(None), check_realism(1)
    (0.0, 1.0)
    >>> check_realism(1.5)
    Traceback (most recent call last):
    ...
    ValueError: realism must be a number from 0 to 1, not 1.5
    """
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"realism must be a number from 0 to 1, not {value!r}")
    return float(value)


def realism_path_for(model_path: str | os.PathLike[str]) -> Path:
    """Where the realism decoder of the model at ``model_path`` is looked for first: beside it."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".safetensors") + REALISM_SUFFIX)


def _tensors_sha256(data: bytes, header_end: int) -> str:
    return hashlib.sha256(data[header_end:]).hexdigest()


def _info(path: Path, meta: dict[str, str], size: int, file_id: str) -> RealismInfo:
    try:
        config = json.loads(meta["config"])
        training = json.loads(meta.get("training", "{}"))
        base = meta["base_model_id"]
    except (KeyError, ValueError, TypeError, RecursionError):
        raise ModelFileError(f"{path}: realism metadata has no valid config or base model") from None
    if not (isinstance(config, dict) and isinstance(training, dict) and isinstance(base, str)
            and len(base) == 12 and all(c in "0123456789abcdef" for c in base)):
        raise ModelFileError(f"{path}: realism metadata has no valid config or base model")
    problem = RealismConfig.problem(config)
    if problem is not None:
        raise ModelFileError(f"{path}: realism config is out of range ({problem})")
    return RealismInfo(id=file_id, name=str(meta.get("name", path.stem)), path=path, size_bytes=size,
                       base_model_id=base, base_model_name=str(meta.get("base_model_name", "")),
                       config=config, description=str(meta.get("description", "")),
                       training=training)


def read_realism_info(path: str | os.PathLike[str], *, hashed: bool = True) -> RealismInfo:
    """Name, base model and config of the realism file at ``path``; its id if ``hashed`` (else ``""``).

    Raises
    ------
    ModelFileError
        Not a complete gzcodec realism file.
    """
    path = Path(path)
    size, _, meta, file_id = read_file_head(path, REALISM_FILE, hashed=hashed)
    return _info(path, meta, size, file_id)


def _candidates(model_path: Path, weights: str | os.PathLike[str] | None) -> list[Path]:
    """The realism files to try for a model at ``model_path``, in order (each once)."""
    if weights is not None:
        return [Path(weights)]
    found = [realism_path_for(model_path)]
    for folder in search_folders():
        if folder.is_dir():
            found += sorted(folder.glob("*" + REALISM_SUFFIX))
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def _name(model: BaseModel) -> str:
    return getattr(model, "info", model).name


def _named_for(model: BaseModel, path: Path) -> bool:
    """Whether ``path`` is named as ``model``'s realism file: beside it, or ``<model name>.realism...``."""
    return path == realism_path_for(model.path) or path.name == _name(model) + REALISM_SUFFIX


def _mismatch(info: RealismInfo, model: BaseModel) -> ModelMismatchError:
    return ModelMismatchError(
        f"{info.path}: realism decoder for model {info.base_model_id}"
        f"{f' ({info.base_model_name})' if info.base_model_name else ''}, not for {model.id} "
        f"({_name(model)})")


def find_realism(model: BaseModel, *,
                 weights: str | os.PathLike[str] | None = None) -> RealismInfo | None:
    """The realism decoder installed for ``model``, or ``None``.

    Parameters
    ----------
    model : LoadedModel or ModelInfo
        The base model (its ``id`` and ``path``).
    weights : path, optional
        This realism file, which must be ``model``'s.

    Raises
    ------
    ModelMismatchError
        ``weights``, or a file named after the model (beside it, or
        ``<model name>.realism.safetensors`` in a folder), was made for
        another model, and no other file is ``model``'s.
    ModelFileError
        ``weights`` is not a realism file.
    ModelNotFoundError
        ``weights`` does not exist.
    """
    if weights is not None and not Path(weights).exists():
        raise ModelNotFoundError(f"realism decoder not found: {weights}")
    wrong = None
    for path in _candidates(Path(model.path), weights):
        if weights is None and not path.is_file():
            continue
        try:
            info = read_realism_info(path, hashed=False)
        except ModelFileError:
            if weights is not None:
                raise
            continue  # a damaged file in a folder: as if it were not there
        if info.base_model_id == model.id:
            return dataclasses.replace(info, id=read_realism_info(path).id)
        if weights is not None or _named_for(model, path):
            wrong = wrong or _mismatch(info, model)
    if wrong is not None:
        raise wrong
    return None


def require_realism(model: BaseModel, *,
                    weights: str | os.PathLike[str] | None = None) -> RealismInfo:
    """:func:`find_realism`, or a :class:`ModelNotFoundError` that says where it looked."""
    found = find_realism(model, weights=weights)
    if found is None:
        name = _name(model)
        raise ModelNotFoundError(
            f"model {name} ({model.id}) has no realism decoder installed (looked for "
            f"{realism_path_for(model.path)} and *{REALISM_SUFFIX} in "
            f"{', '.join(str(f) for f in search_folders())}); make one with "
            f"gzcodec train DATA --realism-from {name}, or decode without --realism")
    return found


#: Realism decoders loaded in this process, by their file's id.
_loaded: dict[str, RealismGenerator] = {}


def load_realism(model: Any, *, weights: str | os.PathLike[str] | None = None
                 ) -> tuple[RealismGenerator, RealismInfo]:
    """The realism decoder of ``model`` (loaded once per process) and its file's info.

    Raises
    ------
    ModelNotFoundError
        None is installed (:func:`require_realism`).
    ModelMismatchError
        The one given (or named after the model) is another model's.
    ModelFileError
        The file is damaged (its tensors' hash, shapes or values).
    """
    info = require_realism(model, weights=weights)  # model: a LoadedModel (its config)
    if info.id not in _loaded:
        _loaded[info.id] = _build(info, model.config)
    return _loaded[info.id], info


def _build(info: RealismInfo, base: ContextModelConfig) -> RealismGenerator:
    """The decoder stored at ``info.path``, checked against its hash and its base model's shape."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    from ..models.realism import RealismGenerator

    path = info.path
    data, head, meta = read_file_bytes(path, REALISM_FILE)
    if model_id_of(data) != info.id or meta.get("tensors_sha256") != _tensors_sha256(data, len(head)):
        raise ModelFileError(f"{path}: changed on disk or damaged (its tensors' hash does not match)")
    config = RealismConfig.from_dict(info.config)
    if not isinstance(base, ContextModelConfig) or not config.fits(base):
        raise ModelFileError(f"{path}: realism decoder's layers do not fit model {info.base_model_id}")
    try:
        tensors = load_tensors(data)
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in RealismGenerator(config).state_dict().items()}
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        if {k: tuple(v.shape) for k, v in state.items()} != expected or len(state) != len(tensors):
            raise ValueError("missing, unexpected or misshapen tensors")
        decoder = RealismGenerator(config)
        decoder.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelFileError(f"{path}: realism weights do not fit their config ({exc})") from None
    if not all(torch.isfinite(p).all() for p in decoder.parameters()):
        raise ModelFileError(f"{path}: realism weights must be finite")
    return decoder.eval().requires_grad_(False)


def save_realism(decoder: RealismGenerator, path: str | os.PathLike[str], *,
                 base: BaseModel, name: str, description: str = "",
                 training: dict[str, Any] | None = None, force: bool = False) -> str:
    """Write ``decoder`` as the realism file of model ``base``; return the file's id.

    The parameters are rounded to float16, as a model's are; an existing
    file is replaced only with ``force``.
    """
    import torch
    from safetensors.torch import save as save_tensors

    tensors = {f"net.{k}": v.detach().to(torch.float16).contiguous()
               for k, v in decoder.state_dict().items()}
    base_name = _name(base)
    meta = {"format": REALISM_FILE.format, "format_version": REALISM_FILE.versions[-1],
            "base_model_id": base.id, "base_model_name": base_name, "name": name,
            "description": description, "config": json.dumps(decoder.config.to_dict()),
            "training": json.dumps(training or {}), "tensors_sha256": ""}
    draft = sorted_metadata(save_tensors(tensors, metadata=meta))
    end = 8 + int.from_bytes(draft[:8], "little")
    meta["tensors_sha256"] = _tensors_sha256(draft, end)  # the tensors' bytes do not move
    data = sorted_metadata(save_tensors(tensors, metadata=meta))
    end = 8 + int.from_bytes(data[:8], "little")
    if _tensors_sha256(data, end) != meta["tensors_sha256"]:  # pragma: no cover - safetensors' layout
        raise RuntimeError("the tensors moved when the metadata was written")
    write_atomic(path, data, force=force)
    return model_id_of(data)
