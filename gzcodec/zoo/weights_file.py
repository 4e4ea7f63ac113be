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

Version 2 files hold a v2 model (:class:`~gzcodec.models.context_model.ContextModel`,
``"kind": "context"`` in its config, or :class:`~gzcodec.models.enhancement.EnhancedModel`,
``"kind": "enhanced"``, whose enhancement codes under the same tables) and, instead of ``pmf.*``:

* ``gaussian_tables``: float32 ``(SCALE_LEVELS, MEAN_FRACTIONS, 2 * radius + 1)``,
  the coder's table of every snapped (scale, mean fraction) pair
  (:mod:`gzcodec.models.gaussian`);
* ``gaussian_windows``: int16 ``(SCALE_LEVELS,)``, only for windowed tables: each
  scale's coding window (``1..radius``; its rows are that wide each side, centred and
  zero-padded), :func:`gzcodec.models.gaussian.scale_windows` at export;
* ``hyper_pmf``: float32 ``(hyper_channels, 2**HYPER_BITS)``, only for models
  with a hyperprior.

The model id is the first 6 bytes of the SHA-256 of the whole file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..container import MODEL_ID_SIZE
from ..errors import ModelFileError
from ..fileio import write_atomic
from ..models.config import (
    ContextModelConfig,
    ModelConfig,
    config_class,
    config_from_dict,
    config_problem,
    family_name,
)

if TYPE_CHECKING:  # torch is imported only when weights are loaded or saved
    import numpy as np
    import torch

    from ..models.context_model import ContextModel
    from ..models.face_model import FaceModel

__all__ = ["MAX_ANS_BITS", "FileInfo", "FileKind", "MODEL_FILE", "ModelInfo", "model_id_of", "open_regular",
           "read_head", "read_file_head", "read_file_bytes", "read_model_info", "load_weights",
           "save_weights", "sorted_metadata"]

MAX_ANS_BITS = 10
_MAX_HEADER = 1 << 24


class FileKind(NamedTuple):
    """What a gzcodec safetensors file says it is: its metadata ``format`` and the versions read."""

    format: str
    versions: tuple[str, ...]
    what: str  # in messages: "not a <what>"
    noun: str  # in messages: "unsupported <noun> format version"


#: A model's weights file. ``"1"``: the v1 face model (factorized prior); ``"2"``: a context model.
MODEL_FILE = FileKind("gzcodec-model", ("1", "2"), "gzcodec model", "model")
_FORMAT = MODEL_FILE.format


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What a gzcodec safetensors file says of itself, read from its header (no torch).

    ``id`` is the first 6 bytes of the SHA-256 of the whole file (12 hex
    digits); ``config`` and ``training`` are its metadata's JSON, ``name`` and
    ``description`` its metadata's text. A model's (:class:`ModelInfo`) and a
    realism decoder's (:class:`~gzcodec.zoo.realism_file.RealismInfo`) add to it.
    """

    id: str
    name: str
    path: Path
    size_bytes: int
    config: dict[str, Any]
    description: str = ""
    training: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelInfo(FileInfo):
    """What the registry knows of a model without running it."""

    @property
    def model_config(self) -> ModelConfig | ContextModelConfig:
        """:attr:`config` typed: a :class:`ContextModelConfig` for a v2 model, else a
        :class:`ModelConfig` (checked when the file was read, so it always builds)."""
        return config_from_dict(self.config)

    @property
    def family(self) -> str:
        """The name of the model's family (``"factorized"``, ``"hyperprior-context"``), by its
        config's ``kind`` (:func:`~gzcodec.models.config.family_name`)."""
        return family_name(self.config)

    @property
    def is_context(self) -> bool:
        """Whether this is a hyperprior-context model (continuous rate, context entropy model),
        an enhanced one included."""
        return issubclass(config_class(self.config), ContextModelConfig)


def model_id_of(data: bytes) -> str:
    """Model id (hex) of a weights file's bytes."""
    return hashlib.sha256(data).digest()[:MODEL_ID_SIZE].hex()


def _declared_size(header: dict, n: int, path: Path) -> int:
    """Bytes a safetensors file with this header (of ``n`` bytes) must have."""
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
                and offsets[0] <= offsets[1]):
            raise ModelFileError(f"{path}: not a safetensors file (bad header)")
        end = max(end, offsets[1])
    return 8 + n + end


def _metadata(head: bytes, size: int, path: Path, kind: FileKind = MODEL_FILE
              ) -> tuple[dict[str, str], int]:
    """The metadata and declared size of a safetensors file of ``size`` bytes starting with ``head``.

    A file whose size is not the one its header declares is refused here, so
    that a truncated model is never listed and nothing past the declared end
    (a huge sparse file, appended junk) is ever read or hashed.
    """
    if size < 8 or len(head) < 8:
        raise ModelFileError(f"{path}: not a safetensors file (too short)")
    n = int.from_bytes(head[:8], "little")
    if n > min(_MAX_HEADER, size - 8) or len(head) < 8 + n:
        raise ModelFileError(f"{path}: not a safetensors file (bad header length)")
    try:
        header = json.loads(head[8:8 + n])
        meta = header.get("__metadata__") or {}
    except (ValueError, AttributeError, RecursionError):
        raise ModelFileError(f"{path}: not a safetensors file (bad header)") from None
    if not isinstance(meta, dict) or meta.get("format") != kind.format:
        raise ModelFileError(f"{path}: not a {kind.what} (metadata format is not {kind.format!r})")
    if meta.get("format_version") not in kind.versions:
        raise ModelFileError(f"{path}: unsupported {kind.noun} format version "
                             f"{meta.get('format_version')}")
    declared = _declared_size(header, n, path)
    if size < declared:
        raise ModelFileError(f"{path}: truncated ({size} of {declared} bytes)")
    if size > declared:
        raise ModelFileError(f"{path}: {size - declared} unexpected bytes after the weights")
    return meta, declared


def _parse_model_info(head: bytes, size: int, model_id: str, path: Path) -> ModelInfo:
    meta, _ = _metadata(head, size, path)
    try:
        config = json.loads(meta["config"])
        training = json.loads(meta.get("training", "{}"))
    except (KeyError, ValueError, TypeError, RecursionError):
        raise ModelFileError(f"{path}: model metadata has no valid config") from None
    name, description = meta.get("name", path.stem), meta.get("description", "")
    if not (isinstance(config, dict) and isinstance(training, dict) and isinstance(name, str)
            and isinstance(description, str)):
        raise ModelFileError(f"{path}: model metadata has no valid config")
    problem = config_problem(config)
    if problem is not None:
        raise ModelFileError(f"{path}: model config is out of range ({problem})")
    return ModelInfo(
        id=model_id, name=name, path=path, size_bytes=size, config=config,
        description=description, training=training,
    )


def open_regular(path: Path):
    """Open ``path`` for reading, refusing anything but a regular file.

    Opening a FIFO (or a device) for reading blocks until a writer comes, so a
    FIFO named ``*.safetensors`` in a model folder would hang every command:
    open without blocking, then check what was opened (no race with a swap).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelFileError(f"{path}: not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_head(f, path: Path, kind: FileKind = MODEL_FILE) -> tuple[int, bytes, int, dict[str, str]]:
    """``(file size, safetensors header bytes, declared size, metadata)`` of an open gzcodec file.

    Raises :class:`ModelFileError` unless the file is a complete one of ``kind``.
    """
    size = os.fstat(f.fileno()).st_size
    head = f.read(8)
    if len(head) == 8:
        head += f.read(min(int.from_bytes(head, "little"), _MAX_HEADER))
    meta, declared = _metadata(head, size, path, kind)
    return size, head, declared, meta


def read_file_head(path: Path, kind: FileKind = MODEL_FILE, *, hashed: bool = True
                   ) -> tuple[int, bytes, dict[str, str], str]:
    """``(file size, safetensors header bytes, metadata, id)`` of the gzcodec file of ``kind`` at ``path``.

    Reads only the header until the file is known to be a complete one of
    ``kind``, so that a folder of large unrelated weights is cheap to scan;
    then hashes the file, a chunk at a time, for its id if ``hashed`` (else
    the id is ``""``). Raises :class:`ModelFileError`, in one line, for a file
    that cannot be read or is not a complete one of ``kind``.
    """
    try:
        with open_regular(path) as f:
            size, head, declared, meta = read_head(f, path, kind)
            file_id = ""
            if hashed:
                f.seek(0)
                digest, left = hashlib.sha256(), declared
                while left and (chunk := f.read(min(left, 1 << 20))):
                    digest.update(chunk)
                    left -= len(chunk)
                file_id = digest.digest()[:MODEL_ID_SIZE].hex()
    except ModelFileError:
        raise  # also an OSError: do not wrap it in itself
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read {kind.noun} ({exc.strerror or exc})") from None
    return size, head, meta, file_id


def read_file_bytes(path: Path, kind: FileKind = MODEL_FILE) -> tuple[bytes, bytes, dict[str, str]]:
    """``(bytes, safetensors header bytes, metadata)`` of the whole gzcodec file of ``kind`` at ``path``.

    The declared size is checked from the header before the body is read, so
    that an explicit path to a huge file with a small header is refused at
    once. Raises :class:`ModelFileError` as :func:`read_file_head` does.
    """
    try:
        with open_regular(path) as f:
            _, head, declared, meta = read_head(f, path, kind)
            f.seek(0)
            data = f.read(declared)
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read {kind.noun} ({exc.strerror or exc})") from None
    return data, head, meta


def read_model_info(path: str | os.PathLike[str], *, model_id: str | None = None) -> ModelInfo:
    """Id, name and config of the weights file at ``path`` (no torch needed).

    Reads only the safetensors header until the file is known to be a
    complete gzcodec model, so that a folder of large unrelated weights is
    cheap to scan; then hashes the file for its id, unless ``model_id`` is
    given (the registry's cache of ids; :func:`load_weights` checks it).
    """
    path = Path(path)
    size, head, _, file_id = read_file_head(path, hashed=model_id is None)
    return _parse_model_info(head, size, file_id if model_id is None else model_id, path)


def load_weights(path: str | os.PathLike[str], *, expected_id: str | None = None
                 ) -> tuple[FaceModel | ContextModel, dict[int | str, np.ndarray]]:
    """Build the network and probability tables stored at ``path``.

    Returns ``(network, {bits: pmf_table})`` with the network in eval mode.
    Raises :class:`ModelFileError` for anything but a complete, matching file.
    Nothing is allocated beyond the file's own tensors: their shapes are
    checked against the config on torch's ``meta`` device first.
    """
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    from ..models import FaceModel

    path = Path(path)
    data, _, _ = read_file_bytes(path)
    info = _parse_model_info(data, len(data), model_id_of(data), path)
    if expected_id is not None and info.id != expected_id:
        raise ModelFileError(f"{path}: changed on disk (id {info.id}, expected {expected_id})")
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError, OverflowError) as exc:
        raise ModelFileError(f"{path}: corrupt weights ({exc})") from None
    if issubclass(config_class(info.config), ContextModelConfig):
        return _load_context_model(info, tensors, path)
    try:  # the config's range was checked by _parse_model_info (config_problem)
        config = ModelConfig.from_dict(info.config)
        network = _network_from(FaceModel, config, tensors, path)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: weights do not fit the model config ({exc})") from None
    tables: dict[int | str, np.ndarray] = {}
    c = network.config.latent_channels
    for key, value in tensors.items():
        if key.startswith("pmf."):
            digits = key[4:]
            bits = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 2 else 0
            if not 2 <= bits <= MAX_ANS_BITS or not value.is_floating_point():
                raise ModelFileError(f"{path}: unexpected tensor {key}")
            table = value.float().numpy().astype(np.float32)
            if (table.shape != (c, 1 << bits) or not np.isfinite(table).all()
                    or (table < 0).any() or not (table.sum(axis=1) > 0).all()):
                raise ModelFileError(f"{path}: probability table {key} is malformed")
            tables[bits] = table
    return network, tables


def _network_from(cls: type[FaceModel] | type[ContextModel], config: ModelConfig | ContextModelConfig,
                  tensors: dict[str, torch.Tensor], path: Path) -> FaceModel | ContextModel:
    """Build ``cls(config)`` from the ``net.*`` tensors, checking shapes on ``meta`` first."""
    import torch

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in cls(config).state_dict().items()}
    state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found != expected:
        wrong = sorted(set(found) ^ set(expected)) or sorted(
            k for k in found if found[k] != expected[k])
        raise ValueError(f"missing, unexpected or misshapen tensors: {', '.join(wrong[:5])}")
    if not all(v.is_floating_point() for v in state.values()):
        raise ValueError("parameters must be floating point")
    network = cls(config)
    network.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    if not all(torch.isfinite(p).all() for p in network.parameters()):
        raise ValueError("parameters must be finite")
    return network.eval().requires_grad_(False)


def _table(tensors: dict[str, torch.Tensor], key: str, shape: tuple[int, ...], path: Path
           ) -> np.ndarray:
    """A stored probability table, refused unless finite, non-negative and of ``shape``."""
    import numpy as np

    value = tensors.get(key)
    if value is None or not value.is_floating_point():
        raise ModelFileError(f"{path}: probability table {key} is missing")
    table = value.float().numpy().astype(np.float32)
    if (table.shape != shape or not np.isfinite(table).all() or (table < 0).any()
            or not (table.sum(axis=-1) > 0).all()):
        raise ModelFileError(f"{path}: probability table {key} is malformed")
    return table


def _load_context_model(info: ModelInfo, tensors: dict[str, torch.Tensor], path: Path
                        ) -> tuple[ContextModel, dict[int | str, np.ndarray]]:
    """``(network, tables)`` of a v2 file; ``tables`` has ``"gaussian"`` (and ``"hyper"``)."""
    from ..models import gaussian, network_class
    from ..models.context_prior import HYPER_BITS

    try:
        config = config_from_dict(info.config)
        network = _network_from(network_class(config), config, tensors, path)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: weights do not fit the model config ({exc})") from None
    known = {"gaussian_tables", "gaussian_windows", "hyper_pmf"}
    extra = [k for k in tensors if not k.startswith("net.") and k not in known]
    if extra:
        raise ModelFileError(f"{path}: unexpected tensor {extra[0]}")
    stored = tensors.get("gaussian_tables")
    try:  # the coding window is the stored table's (the first snapshots used radius 40)
        radius = gaussian.table_radius(stored) if stored is not None else 0
    except ValueError as exc:
        raise ModelFileError(f"{path}: probability table gaussian_tables is malformed ({exc})") from None
    tables = {"gaussian": _table(tensors, "gaussian_tables",
                                 (gaussian.SCALE_LEVELS, gaussian.MEAN_FRACTIONS, 2 * radius + 1), path)}
    windows = tensors.get("gaussian_windows")
    if windows is not None:
        try:
            tables["windows"] = gaussian.checked_windows(windows.numpy(), radius)
        except ValueError as exc:
            raise ModelFileError(f"{path}: coding windows gaussian_windows are malformed ({exc})") from None
    if config.hyper_channels:
        tables["hyper"] = _table(tensors, "hyper_pmf",
                                 (config.hyper_channels, 1 << HYPER_BITS), path)
    return network, tables


def _context_tensors(network: ContextModel, table_radius: int) -> dict[str, torch.Tensor]:
    """Tables of a v2 model's weights file, computed from the float16-rounded network."""
    import torch

    from ..models import gaussian
    from ..models.context_prior import HYPER_BITS

    windows = gaussian.scale_windows(table_radius)
    tensors = {"gaussian_tables": torch.from_numpy(gaussian.build_tables(table_radius, windows))}
    if windows is not None:
        tensors["gaussian_windows"] = torch.from_numpy(windows.astype("int16"))
    if network.config.hyper_channels:
        table = network.prior.hyper_prior.pmf_table(level=0, bits=HYPER_BITS)
        tensors["hyper_pmf"] = table.float().contiguous()
    return tensors


def save_weights(network: FaceModel | ContextModel, path: str | os.PathLike[str], *, name: str,
                 description: str = "", training: dict[str, Any] | None = None,
                 force: bool = False, table_radius: int | None = None) -> str:
    """Write ``network`` as a gzcodec weights file; return its model id.

    The parameters are rounded to float16 first and the probability tables are
    computed from the rounded prior, so the file describes exactly the model
    that will be loaded from it.

    ``table_radius`` (context models only; default
    :data:`~gzcodec.models.gaussian.TABLE_RADIUS`) is the widest coding
    window: a latent element further than its window from its predicted mean
    is clamped to the window's edge when encoded, at the cost of its accuracy.
    Above the default the tables are windowed
    (:func:`~gzcodec.models.gaussian.scale_windows`): only the large scales'
    rows widen, which a model whose top rates spread wider than
    ``face128-v2``'s needs (``benchmarks/table_radius.py`` measures it).
    """
    import torch
    from safetensors.torch import save as save_tensors

    from ..models import gaussian

    network = network.to(torch.float16).float().eval()
    tensors = {f"net.{k}": v.detach().to(torch.float16).contiguous()
               for k, v in network.state_dict().items()}
    cfg = network.config
    context = isinstance(cfg, ContextModelConfig)
    if table_radius is not None and not context:
        raise ValueError("table_radius is a context model's; factorized models have no Gaussian tables")
    if context:
        tensors.update(_context_tensors(network, table_radius or gaussian.TABLE_RADIUS))
    else:
        for bits in range(2, MAX_ANS_BITS + 1):
            table = network.prior.pmf_table(level=cfg.level(bits), bits=bits)
            tensors[f"pmf.{bits}"] = table.float().contiguous()
    meta = {
        "format": _FORMAT,
        "format_version": "2" if context else "1",
        "name": name,
        "description": description,
        "config": json.dumps(cfg.to_dict()),
        "training": json.dumps(training or {}),
    }
    data = sorted_metadata(save_tensors(tensors, metadata=meta))
    write_atomic(path, data, force=force)
    return model_id_of(data)


def sorted_metadata(data: bytes) -> bytes:
    """A safetensors file with its metadata keys in sorted order, so that its bytes are reproducible.

    safetensors writes the metadata from a hash map, in an order that changes from one
    process to the next: without this, every export of the same model got another id.
    """
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header with spaces to 8 bytes
    return len(text).to_bytes(8, "little") + text + data[8 + size:]
