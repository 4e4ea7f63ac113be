"""Finding models: bundled, user cache, GZCODEC_MODEL_PATH, explicit path; ids from the weights."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil

import numpy as np
import pytest

import gzcodec
from gzcodec import zoo
from gzcodec.container import pack, unpack
from gzcodec.errors import ModelMismatchError, ModelNotFoundError
from gzcodec.zoo import BUNDLED_DIR, find_model, find_model_by_id, list_models, search_folders
from gzcodec.zoo.weights_file import load_weights, read_model_info, save_weights


def test_bundled_models_are_listed_and_the_default_is_face128_v2(isolated_models):
    bundled = {m.name for m in list_models() if m.path.parent == BUNDLED_DIR}
    assert bundled == {"face128", "face128-v2", "cat128"}
    assert zoo.DEFAULT_MODEL == "face128-v2" and find_model().name == "face128-v2"
    assert find_model("face128").name == "face128"  # still there, for its files and by name


def test_model_id_is_the_truncated_sha256_of_the_weights(model):
    digest = hashlib.sha256(model.path.read_bytes()).hexdigest()
    assert model.id == digest[:12]


def test_find_by_id_prefix_name_and_path(model):
    assert find_model(model.id).path == model.path
    assert find_model(model.id[:8]).path == model.path
    assert find_model(str(model.path)).id == model.id


def test_search_order_puts_the_environment_first(isolated_models, monkeypatch, tmp_path):
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(tmp_path / "a"))
    folders = search_folders()
    assert folders[0] == tmp_path / "a"
    assert folders[1] == tmp_path / "cache" / "gzcodec" / "models"
    assert folders[-1] == BUNDLED_DIR


def _retrained_copy(model, folder, name="face128-copy", nudge=0.01):
    """A second, different model: same network with one weight nudged, saved under a new name.

    Copies with the same ``model``, ``name`` and ``nudge`` are the same file (the same id).
    """
    import torch

    network, _ = load_weights(model.path)
    with torch.no_grad():
        network.generator[-1].bias.add_(nudge)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.safetensors"
    save_weights(network, path, name=name)
    return read_model_info(path)


def test_models_in_the_user_cache_and_env_path_are_found(isolated_models, model, monkeypatch):
    cache = isolated_models / "cache" / "gzcodec" / "models"
    info = _retrained_copy(model, cache)
    assert find_model(info.id).path == info.path
    env = isolated_models / "env"
    env_info = _retrained_copy(model, env, name="from-env")
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(env))
    assert [m.name for m in list_models()][0] == "from-env"
    assert find_model(env_info.id).path == env_info.path


def test_unknown_model_names_the_id_and_the_folders(isolated_models):
    with pytest.raises(ModelNotFoundError) as err:
        find_model("0123456789ab")
    message = str(err.value)
    assert "0123456789ab" in message and str(BUNDLED_DIR) in message


@pytest.mark.parametrize("version", [1, 2])
def test_file_from_an_unknown_model_fails_with_its_id(isolated_models, face_gzl, model, version):
    data = face_gzl if version == 2 else gzcodec.encode(
        np.zeros((32, 32, 3), np.uint8), bits=3, steps=0, model=model, format_version=1)
    header, payload = unpack(data)
    forged = bytes.fromhex("deadbeef0001")[:len(header.model_id)]
    with pytest.raises(ModelNotFoundError, match=forged.hex()):
        gzcodec.decode(pack(dataclasses.replace(header, model_id=forged), payload))


def test_decoding_with_the_wrong_model_is_refused(isolated_models, model, face_gzl):
    other = _retrained_copy(model, isolated_models / "other")
    assert other.id != model.id
    with pytest.raises(ModelMismatchError, match=model.id[:8]):
        gzcodec.decode(face_gzl, model=str(other.path))


def test_version_2_ids_name_a_model_by_its_first_4_bytes(model, monkeypatch):
    assert find_model_by_id(model.id[:8]).id == model.id
    assert find_model_by_id(model.id).id == model.id
    with pytest.raises(ModelNotFoundError):
        find_model_by_id(model.id[:6])  # neither a v1 nor a v2 id: matches nothing by length
    # Two installed models sharing a version 2 id: refused, never guessed between.
    twin = dataclasses.replace(read_model_info(model.path), id=model.id[:8] + "0000")
    monkeypatch.setattr(zoo, "list_models", lambda: [read_model_info(model.path), twin])
    with pytest.raises(ModelNotFoundError, match="ambiguous"):
        find_model_by_id(model.id[:8])
    assert find_model_by_id(model.id).id == model.id  # a version 1 file's full id still works


def test_copying_a_model_keeps_its_id(isolated_models, model):
    shutil.copy(model.path, isolated_models / "copy.safetensors")
    assert read_model_info(isolated_models / "copy.safetensors").id == model.id


def test_a_models_config_comes_typed_by_its_kind(model):
    from gzcodec.models.config import ContextModelConfig, ModelConfig
    from gzcodec.zoo import default_model

    assert default_model().model_config == gzcodec.load_model().config
    assert isinstance(default_model().model_config, ContextModelConfig)
    assert type(model.info.model_config) is ModelConfig and model.info.model_config == model.config
