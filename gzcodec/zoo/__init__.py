"""The model registry: finding a model's weights by id, name or path.

A ``.gzl`` file names its model by id, the first 6 bytes of the SHA-256 of
the weights file (12 hex digits). Models are looked up, in this order, in

1. an explicit path (``model="path/to/model.safetensors"`` or ``--model``),
2. each folder of the ``GZCODEC_MODEL_PATH`` environment variable
   (``os.pathsep``-separated),
3. the user cache folder (``$XDG_CACHE_HOME/gzcodec/models``, by default
   ``~/.cache/gzcodec/models``),
4. the models bundled in this package (``gzcodec/zoo/weights``).

Nothing is ever downloaded. The first bundled model in :data:`DEFAULT_MODEL`
is used when no model is named.

Examples
--------
>>> model = load_model()            # the bundled default face model
>>> model.config.image_size
128
>>> load_model(model.id).path == model.path
True
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

from ..container import MODEL_ID_SIZE, V2_MODEL_ID_SIZE
from ..entropy import FactorizedPrior, SymbolCoder
from ..errors import ModelNotFoundError
from .weights_file import ModelInfo, model_id_of, read_model_info

__all__ = ["DEFAULT_MODEL", "ModelInfo", "search_folders", "list_models", "find_model",
           "find_model_by_id", "load_model", "LoadedModel"]

#: Name of the bundled model used when none is named.
DEFAULT_MODEL = "face128"
BUNDLED_DIR = Path(__file__).parent / "weights"


def search_folders() -> list[Path]:
    """Folders searched for models, in order of precedence."""
    folders = [Path(p) for p in os.environ.get("GZCODEC_MODEL_PATH", "").split(os.pathsep) if p]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folders.append(cache / "gzcodec" / "models")
    folders.append(BUNDLED_DIR)
    return folders


_info_cache: dict[tuple[str, int, int], ModelInfo] = {}


def _info(path: Path) -> ModelInfo | None:
    """Header info of one candidate weights file; ``None`` if it is not a model."""
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _info_cache:
            _info_cache[key] = read_model_info(path)
        return _info_cache[key]
    except (OSError, ValueError):
        return None


def list_models() -> list[ModelInfo]:
    """Every readable model in :func:`search_folders`, earlier folders first."""
    found, seen = [], set()
    for folder in search_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.safetensors")):
            info = _info(path)
            if info is not None and info.id not in seen:
                seen.add(info.id)
                found.append(info)
    return found


def find_model(spec: str | os.PathLike[str] | None = None) -> ModelInfo:
    """Resolve a model by id (12 hex digits, or a unique prefix), name or path."""
    if spec is None:
        spec = DEFAULT_MODEL
    path = Path(spec)
    if path.suffix == ".safetensors" or path.is_file():
        if not path.is_file():
            raise ModelNotFoundError(f"model file not found: {path}")
        return read_model_info(path)
    text = str(spec).lower()
    models = list_models()
    by_id = [m for m in models if m.id.startswith(text)] if len(text) >= 4 else []
    by_name = [m for m in models if m.name == str(spec)]
    matches = by_id or by_name
    if len(matches) > 1 and by_id:
        raise ModelNotFoundError(f"model id prefix {spec!r} is ambiguous")
    if not matches:
        raise ModelNotFoundError(f"model {spec} not found (searched: {_searched()})")
    return matches[0]


def find_model_by_id(model_id: str) -> ModelInfo:
    """The model a ``.gzl`` file names: its whole id (12 hex digits, version 1 files) or the
    first 4 bytes of it (8 hex digits, version 2 files).

    Unlike :func:`find_model`, never takes the id for a file or model name. Two
    installed models that share a version 2 id are refused rather than guessed
    between (``spec/gzl.md`` §3 has the odds).
    """
    # Only the two lengths files store: a v1 id is compared whole, a v2 id with the prefix.
    if len(model_id) in (2 * MODEL_ID_SIZE, 2 * V2_MODEL_ID_SIZE):
        matches = [m for m in list_models() if m.id[:len(model_id)] == model_id]
        if len(matches) > 1:
            raise ModelNotFoundError(f"model {model_id} is ambiguous: installed models "
                                     f"{', '.join(m.id for m in matches)} share it")
        if matches:
            return matches[0]
    raise ModelNotFoundError(f"model {model_id} not found (searched: {_searched()})")


def _searched() -> str:
    return ", ".join(str(f) for f in search_folders())


@dataclasses.dataclass
class LoadedModel:
    """A model ready to run: its network, its probability tables and where it came from."""

    info: ModelInfo
    network: object  # gzcodec.models.FaceModel, typed loosely to keep torch out of imports
    pmf_tables: dict[int, object]

    @property
    def id(self) -> str:
        return self.info.id

    @functools.cached_property
    def entropy(self) -> SymbolCoder:
        """How this model codes its latent in version 2 range payloads (:mod:`gzcodec.entropy`).

        ``face128``-style models have a factorized prior; a model with another
        entropy model provides its own :class:`~gzcodec.entropy.SymbolCoder`.
        """
        return FactorizedPrior(self.pmf_tables, latent_shape=self.config.latent_shape)

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def config(self):  # -> ModelConfig
        return self.network.config


_loaded: dict[str, LoadedModel] = {}


def load_model(spec: str | os.PathLike[str] | LoadedModel | ModelInfo | None = None) -> LoadedModel:
    """Load (once per process) the model named by ``spec``; see :func:`find_model`."""
    if isinstance(spec, LoadedModel):
        return spec
    info = spec if isinstance(spec, ModelInfo) else find_model(spec)
    if info.id not in _loaded:
        from .weights_file import load_weights

        network, tables = load_weights(info.path, expected_id=info.id)
        _loaded[info.id] = LoadedModel(info=info, network=network, pmf_tables=tables)
    return _loaded[info.id]


def model_id(path: str | os.PathLike[str]) -> str:
    """Id (12 hex digits) of the weights file at ``path``."""
    return model_id_of(Path(path).read_bytes())
