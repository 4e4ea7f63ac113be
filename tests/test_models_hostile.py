"""Hostile or broken model files: every one fails cleanly, and nothing is ever unpickled.

A wrong id names the id and the folders searched; corrupt, truncated or
misshapen weights raise :class:`gzcodec.ModelFileError` (one line) and are
skipped when models are listed; a pickle renamed ``.safetensors`` is refused
without running it; no source file can unpickle.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

import gzcodec
from gzcodec.errors import ModelFileError, ModelNotFoundError
from gzcodec.zoo import BUNDLED_DIR, find_model, list_models, load_model, search_folders
from gzcodec.zoo.weights_file import read_model_info

from .hostile import fix_crc

PACKAGE = Path(gzcodec.__file__).resolve().parent


def _parts(path: Path) -> tuple[dict, dict]:
    """Tensors and metadata of a weights file."""
    from safetensors.torch import load

    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return dict(load(data)), json.loads(data[8:8 + n])["__metadata__"]


def _write(path: Path, tensors: dict, meta: dict) -> Path:
    from safetensors.torch import save

    path.write_bytes(save({k: v.contiguous() for k, v in tensors.items()}, metadata=meta))
    return path


def _raw_safetensors(path: Path, header: object, body: bytes = b"") -> Path:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path.write_bytes(len(text).to_bytes(8, "little") + text + body)
    return path


def _refused(path: Path) -> ModelFileError:
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return err.value


@pytest.fixture
def parts(model):
    return _parts(model.path)


# --------------------------------------------------------------------------- finding models


def test_unknown_model_id_names_the_id_and_every_folder(isolated_models, monkeypatch, valid_files):
    env = isolated_models / "env"
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(env))
    forged = bytearray(valid_files["v1-raw4"])
    forged[5:11] = bytes.fromhex("0badc0ffee00")
    with pytest.raises(ModelNotFoundError) as err:
        gzcodec.decode(fix_crc(forged))
    message = str(err.value)
    assert "0badc0ffee00" in message and "\n" not in message
    for folder in search_folders():
        assert str(folder) in message
    assert str(env) in message and str(BUNDLED_DIR) in message


def test_a_file_named_like_the_model_id_does_not_hijack_decoding(isolated_models, monkeypatch,
                                                                 valid_files, model):
    monkeypatch.chdir(isolated_models)
    (isolated_models / model.id).write_bytes(b"not a model")
    side = model.config.image_size
    assert gzcodec.decode(valid_files["raw4"]).size == (side, side)


def test_an_explicit_missing_path_is_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        find_model(tmp_path / "nope.safetensors")


# --------------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize("keep", [0, 4, 8, 9, 100, 4000, 0.5, -1])
def test_truncated_weights_are_refused(model, tmp_path, keep):
    data = model.path.read_bytes()
    end = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    err = _refused(_raw_path(tmp_path, data[:end]))
    assert "safetensors" in str(err) or "corrupt" in str(err)


def _raw_path(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("header", [
    b"{not json", b"[1, 2, 3]", b'"a string"', b"[" * 100_000 + b"]" * 100_000,
    {"__metadata__": "not a dict"},
    {"__metadata__": {"format": "something-else", "format_version": "1"}},
    {"__metadata__": {"format": "gzcodec-model", "format_version": "2"}},
    {"__metadata__": {"format": "gzcodec-model", "format_version": "1"}},
    {"__metadata__": {"format": "gzcodec-model", "format_version": "1", "config": 5}},
    {"__metadata__": {"format": "gzcodec-model", "format_version": "1", "config": "[1]"}},
    {"__metadata__": {"format": "gzcodec-model", "format_version": "1", "config": "{}",
                      "training": ["x"]}},
], ids=lambda h: str(h)[:40])
def test_corrupt_headers_are_refused_and_skipped_when_listing(tmp_path, monkeypatch, header):
    path = _raw_safetensors(tmp_path / "bad.safetensors", header)
    with pytest.raises(ModelFileError):
        read_model_info(path)
    _refused(path)
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(tmp_path))
    assert all(m.path != path for m in list_models())


def test_header_length_beyond_the_file_is_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes((1 << 40).to_bytes(8, "little") + b"{}")
    _refused(path)


def test_flipped_weight_bytes_make_a_different_model_not_a_crash(model, tmp_path):
    data = bytearray(model.path.read_bytes())
    data[-100] ^= 0xFF  # inside the last tensor
    path = _raw_path(tmp_path, bytes(data))
    assert load_model(path).id != model.id


# --------------------------------------------------------------------------- wrong shapes and configs


def test_a_misshapen_tensor_is_named(parts, tmp_path):
    tensors, meta = parts
    name = next(k for k in tensors if k.startswith("net.generator"))
    tensors[name] = tensors[name].reshape(-1)[:-1]
    err = _refused(_write(tmp_path / "m.safetensors", tensors, meta))
    assert name[4:] in str(err)


def test_a_missing_tensor_is_named(parts, tmp_path):
    tensors, meta = parts
    name = sorted(k for k in tensors if k.startswith("net."))[0]
    del tensors[name]
    assert name[4:] in str(_refused(_write(tmp_path / "m.safetensors", tensors, meta)))


def test_an_unexpected_tensor_is_refused(parts, tmp_path):
    import torch

    tensors, meta = parts
    tensors["net.extra.weight"] = torch.zeros(3)
    _refused(_write(tmp_path / "m.safetensors", tensors, meta))


@pytest.mark.parametrize("change", [
    {"channels": 10**6}, {"channels": 4096}, {"latent_channels": 300}, {"image_size": 100},
    {"image_size": 0}, {"latent_range": float("nan")}, {"latent_range": -1.0},
    {"level_bits": [8, 2]}, {"level_bits": []}, {"mixture_components": 0},
    {"surprise": 1}, {"channels": "96"},
])
def test_out_of_range_configs_are_refused_before_allocating(parts, tmp_path, change):
    tensors, meta = parts
    config = {**json.loads(meta["config"]), **change}
    meta = {**meta, "config": json.dumps(config)}
    _refused(_write(tmp_path / "m.safetensors", tensors, meta))


@pytest.mark.parametrize("case", ["negative", "shape", "zero-row", "bits-99", "not-a-number",
                                  "integer"])
def test_malformed_probability_tables_are_refused(parts, tmp_path, case):
    import torch

    tensors, meta = parts
    table = tensors["pmf.6"].clone()
    if case == "negative":
        table[0, 0] = -1.0
    elif case == "shape":
        table = table[:, :-1]
    elif case == "zero-row":
        table[3] = 0.0
    elif case == "bits-99":
        tensors["pmf.99"] = table.clone()
    elif case == "not-a-number":
        tensors["pmf.x"] = table.clone()
    elif case == "integer":
        table = table.to(torch.int32)
    tensors["pmf.6"] = table
    _refused(_write(tmp_path / "m.safetensors", tensors, meta))


def test_tables_in_bfloat16_are_converted_not_crashed_on(parts, tmp_path, model):
    import torch

    tensors, meta = parts
    tensors["pmf.6"] = tensors["pmf.6"].to(torch.bfloat16)
    loaded = load_model(_write(tmp_path / "m.safetensors", tensors, meta))
    assert loaded.pmf_tables[6].dtype.name == "float32"


# --------------------------------------------------------------------------- code smuggling


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_renamed_safetensors_is_refused_without_running_it(tmp_path, monkeypatch):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=2))
    _refused(path)
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(tmp_path))
    assert all(m.path != path for m in list_models())
    with pytest.raises(ModelNotFoundError):
        find_model("evil")
    assert not marker.exists()


def test_a_torch_checkpoint_renamed_safetensors_is_refused(tmp_path, model):
    import torch

    path = tmp_path / "ckpt.safetensors"
    torch.save({"net.x": torch.zeros(2)}, path)
    _refused(path)


def test_no_source_file_can_unpickle():
    banned = re.compile(
        r"\btorch\.load\s*\(|\bpickle\.loads?\s*\(|\bcPickle\b|\bdill\b|\bjoblib\.load\b"
        r"|\btorch\.jit\.load\b|allow_pickle\s*=\s*True|^\s*(?:import|from)\s+pickle\b"
        r"|\bload\s*\([^)]*weights_only\s*=\s*False",
        re.MULTILINE,
    )
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if banned.search(line):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not offenders, "unpickling is banned (use safetensors):\n" + "\n".join(offenders)
