"""The model registry: finding a model's weights by id, name or path.

A ``.gzl`` file names its model by id, the first 6 bytes of the SHA-256 of
the weights file (12 hex digits). Models are looked up, in this order, in

1. an explicit path (``model="path/to/model.safetensors"`` or ``--model``),
2. each folder of the ``GZCODEC_MODEL_PATH`` environment variable
   (``os.pathsep``-separated),
3. the user cache folder (``$XDG_CACHE_HOME/gzcodec/models``, by default
   ``~/.cache/gzcodec/models``),
4. the models bundled in this package (``gzcodec/zoo/weights``).

Nothing is ever downloaded. When no model is named, the bundled
:data:`DEFAULT_MODEL` is used, whatever the other folders hold: a model that
happens to be called ``face128-v2`` in the cache never becomes the default
encoder. The first bundled model, ``face128``, stays bundled: its files name it
by id and keep decoding, and ``model="face128"`` still encodes with it. A name
or id given by the user must name exactly one model (by full id, unique id
prefix of at least 4 hex digits, or name); anything that matches several is an
error, never a silent pick. A spec ending in
``.safetensors`` or containing a path separator is a path.

Only regular files are read (a FIFO named ``*.safetensors`` would block every
read), and only as many bytes as their header declares. Model ids (a SHA-256
of the whole file) are cached in ``$XDG_CACHE_HOME/gzcodec/model-ids.json``
keyed on each file's path, size, times and inode, so a process does not hash
every model in every folder; :func:`load_model` still hashes what it loads
and refuses a file whose id is not the expected one.

Examples
--------
>>> model = load_model()            # the bundled default face model
>>> model.config.image_size
128
>>> load_model(model.id).path == model.path
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ..container import MODEL_ID_SIZE, V2_MODEL_ID_SIZE
from ..entropy import FactorizedTableCoder, SymbolCoder
from ..errors import ModelNotFoundError
from ..fileio import user_cache_folder, write_atomic
from ..models.config import ContextModelConfig, EnhancedModelConfig
from .folders import BUNDLED_DIR, search_folders
from .realism_file import REALISM_SUFFIX
from .weights_file import ModelInfo, open_regular, read_model_info

if TYPE_CHECKING:  # torch is imported only when a model is loaded
    import numpy as np

    from ..models import FaceModel, ModelConfig
    from ..models.context_model import ContextModel

__all__ = ["DEFAULT_MODEL", "ModelInfo", "search_folders", "list_models", "default_model", "find_model",
           "find_model_by_id", "load_model", "LoadedModel", "clear_model_info_cache"]

#: Name of the bundled model used when none is named (``face128`` before it).
DEFAULT_MODEL = "face128-v2"
#: What this process has read of each model file (id, config), keyed by its path and stat.
_info_cache: dict[tuple, ModelInfo] = {}
_ID_CACHE_NAME = "model-ids.json"
_ID_CACHE_MAX_BYTES = 1 << 20
_ID_CACHE_MAX_ENTRIES = 1000


def clear_model_info_cache() -> None:
    """Forget what this process has read of the model files, as a new process would start.

    A listing reads a model file again only when its path, size or times
    change; after this call, the next one takes each file's id from the
    persistent id cache (``model-ids.json`` in :func:`gzcodec.fileio.user_cache_folder`)
    or hashes the file again. For tests, and for a long-lived process whose
    model files may have been replaced in place.
    """
    _info_cache.clear()


def _stat_key(st: os.stat_result) -> list[int]:
    # ctime cannot be set by the user: a file rewritten with the same size and mtime still misses.
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _load_id_cache() -> dict[str, dict]:
    """The persistent id cache; empty if missing, unreadable or malformed (it is only a cache)."""
    try:
        with open_regular(user_cache_folder() / _ID_CACHE_NAME) as f:
            data = json.loads(f.read(_ID_CACHE_MAX_BYTES + 1)[:_ID_CACHE_MAX_BYTES])
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)
            and isinstance(v.get("key"), list) and isinstance(v.get("id"), str)
            and len(v["id"]) == 2 * MODEL_ID_SIZE}


def _save_id_cache(cache: dict[str, dict]) -> None:
    # Forget files that are gone (test folders, removed models), then keep the newest.
    entries = dict(list((k, v) for k, v in cache.items() if os.path.lexists(k))
                   [-_ID_CACHE_MAX_ENTRIES:])
    with contextlib.suppress(OSError, ValueError):
        write_atomic(user_cache_folder() / _ID_CACHE_NAME, json.dumps(entries).encode(), force=True)


def _scan(folders: list[Path]) -> list[ModelInfo]:
    """Every readable model in ``folders``, earlier folders first, each id once."""
    found, seen = [], set()
    disk = None  # the persistent id cache, read only if the in-memory one misses
    changed = False
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.safetensors")):
            if path.name.endswith(REALISM_SUFFIX):
                continue  # a realism decoder beside its model, not a model
            try:
                st = path.stat()
                if not stat.S_ISREG(st.st_mode):
                    continue  # a FIFO, a device or a folder: never opened
                real = str(path.resolve())
                key = _stat_key(st)
                memo = (real, *key)
                if memo not in _info_cache:
                    if disk is None:
                        disk = _load_id_cache()
                    hit = disk.get(real)
                    known = hit["id"] if hit and hit["key"] == key else None
                    info = read_model_info(path, model_id=known)
                    if known is None:
                        disk[real] = {"key": key, "id": info.id}
                        changed = True
                    _info_cache[memo] = info
                info = _info_cache[memo]
            except (OSError, ValueError):
                continue
            if info.id not in seen:
                seen.add(info.id)
                found.append(info)
    if changed:
        _save_id_cache(disk)
    return found


def list_models() -> list[ModelInfo]:
    """Every readable model in :func:`search_folders`, earlier folders first."""
    return _scan(search_folders())


def default_model() -> ModelInfo:
    """The bundled :data:`DEFAULT_MODEL`; never a same-named model from another folder."""
    for info in _scan([BUNDLED_DIR]):
        if info.name == DEFAULT_MODEL:
            return info
    raise ModelNotFoundError(f"the bundled model {DEFAULT_MODEL} is missing from {BUNDLED_DIR}")


def _is_path(spec: str | os.PathLike[str]) -> bool:
    text = os.fspath(spec)
    return (not isinstance(spec, str) or text.endswith(".safetensors")
            or any(sep and sep in text for sep in (os.sep, os.altsep)))


def find_model(spec: str | os.PathLike[str] | None = None) -> ModelInfo:
    """Resolve a model by path, id (12 hex digits, or a unique prefix of 4 or more) or name.

    ``None`` is the bundled default. A ``PathLike``, a string ending in
    ``.safetensors`` or one containing a path separator is a path. Otherwise
    the spec is compared with every model's id and name at once, and must
    match exactly one model.

    Raises
    ------
    ModelNotFoundError
        Nothing matches, or several models do (the message lists them).
    ModelFileError
        An explicit path that is not a valid model.
    """
    if spec is None:
        return default_model()
    if _is_path(spec):
        path = Path(spec)
        if not path.exists():
            raise ModelNotFoundError(f"model file not found: {path}")
        return read_model_info(path)
    text = str(spec)
    low = text.lower()
    is_hex = len(low) >= 4 and all(c in "0123456789abcdef" for c in low)
    matches = {m.id: m for m in list_models()
               if m.name == text or (is_hex and m.id.startswith(low))}
    if len(matches) > 1:
        listed = ", ".join(f"{m.id} ({m.name}, {m.path})" for m in matches.values())
        raise ModelNotFoundError(f"model {text!r} is ambiguous: it matches {listed}; "
                                 "give a full id or a path")
    if not matches:
        raise ModelNotFoundError(f"model {text} not found (searched: {_searched()})")
    return next(iter(matches.values()))


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
    network: FaceModel | ContextModel
    #: face128: ``{bits: (C, 2**bits) table}``; v2 models: ``{"gaussian": table}``
    #: (and ``"hyper"`` with a hyperprior). float32 arrays; and, for windowed tables,
    #: ``"windows"``: each scale's coding window, int64.
    pmf_tables: dict[int | str, np.ndarray]

    @property
    def id(self) -> str:
        return self.info.id

    @functools.cached_property
    def entropy(self) -> SymbolCoder:
        """How this model codes its latent in version 2 range payloads (:mod:`gzcodec.entropy`).

        ``face128``-style models have a factorized prior; v2 models code under
        their context model (:class:`~gzcodec.models.context_coding.ContextCoder`),
        enhanced models their two latents one after the other
        (:class:`~gzcodec.models.enhancement_coding.EnhancedCoder`).
        """
        if isinstance(self.config, EnhancedModelConfig):
            from ..models.enhancement_coding import EnhancedCoder

            return EnhancedCoder(self.network, self.pmf_tables["gaussian"],
                                 self.pmf_tables.get("hyper"), windows=self.pmf_tables.get("windows"))
        if self.is_context:
            from ..models.context_coding import ContextCoder

            return ContextCoder(self.network, self.pmf_tables["gaussian"],
                                self.pmf_tables.get("hyper"), windows=self.pmf_tables.get("windows"))
        return FactorizedTableCoder(self.pmf_tables, latent_shape=self.config.latent_shape)

    @property
    def family(self) -> str:
        """The name of the model's family (:attr:`ModelInfo.family`)."""
        return self.info.family

    @property
    def is_context(self) -> bool:
        """Whether this is a hyperprior-context model (continuous rate, context entropy model),
        an enhanced one included."""
        return isinstance(self.config, ContextModelConfig)

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def config(self) -> ModelConfig | ContextModelConfig:
        return self.network.config

    @property
    def model_config(self) -> ModelConfig | ContextModelConfig:
        """:attr:`config`, by the name :class:`ModelInfo` gives it (for code taking either)."""
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

