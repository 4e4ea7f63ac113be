"""The registry under hostile or careless model folders (issue 11, items 9-12).

* a FIFO (or any non-regular file) named ``*.safetensors`` is skipped, never opened;
* model ids are cached on disk, and nothing past a weights file's declared size is read;
* the bundled model is the default whatever the other folders hold, and a name or id
  that matches several models is an error;
* truncated files and absurd configs are refused when listed, with one clean message.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import gzcodec
from gzcodec import zoo
from gzcodec.errors import ModelFileError, ModelNotFoundError
from gzcodec.zoo import BUNDLED_DIR, find_model, list_models, load_model
from gzcodec.zoo import weights_file as wf

from .conftest import hard_timeout
from .test_registry import _retrained_copy


@pytest.fixture
def cache(isolated_models):
    folder = isolated_models / "cache" / "gzcodec" / "models"
    folder.mkdir(parents=True)
    zoo.clear_model_info_cache()  # as a fresh process
    return folder


@pytest.fixture
def bundled(cache) -> list:
    """The bundled models, as :func:`list_models` lists them when no other folder has any."""
    return list_models()


# --------------------------------------------------------------------------- item 9


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_a_model_folder_is_skipped_not_opened(cache, bundled, face_gzl, default_model):
    os.mkfifo(cache / "stuck.safetensors")
    with hard_timeout(20):
        assert list_models() == bundled
        assert find_model().id == default_model.id
        assert gzcodec.decode(face_gzl).size == (128, 128)
        with pytest.raises(ModelFileError, match="not a regular file"):
            find_model(cache / "stuck.safetensors")


# --------------------------------------------------------------------------- item 10


def test_ids_are_cached_so_a_new_process_hashes_nothing(cache, model, monkeypatch):
    _retrained_copy(model, cache, name="other")
    zoo.clear_model_info_cache()
    first = {m.id for m in list_models()}
    assert (cache.parent / "model-ids.json").is_file()

    class NoHashing:
        def sha256(self, *args):
            raise AssertionError("a model was hashed again")

    zoo.clear_model_info_cache()  # a new process: only the disk cache is left
    monkeypatch.setattr(wf, "hashlib", NoHashing())
    assert {m.id for m in list_models()} == first


def test_a_changed_file_is_hashed_again(cache, model):
    info = _retrained_copy(model, cache, name="other")
    list_models()
    data = bytearray(info.path.read_bytes())
    data[-1] ^= 1  # same size; a new mtime and ctime
    time.sleep(0.01)
    info.path.write_bytes(bytes(data))
    zoo.clear_model_info_cache()
    ids = {m.id for m in list_models()}
    assert info.id not in ids and wf.model_id_of(bytes(data)) in ids


def test_a_corrupt_id_cache_is_ignored(cache, bundled, model):
    (cache.parent / "model-ids.json").write_text("{not json")
    zoo.clear_model_info_cache()
    assert list_models() == bundled
    (cache.parent / "model-ids.json").write_text(json.dumps({"x": 1, str(model.path): "zz"}))
    zoo.clear_model_info_cache()
    assert list_models() == bundled


def test_nothing_past_the_declared_size_is_read(cache, bundled, model):
    path = cache / "padded.safetensors"
    path.write_bytes(model.path.read_bytes())
    with open(path, "r+b") as f:
        f.truncate(1 << 30)  # 1 GiB, sparse: it used to be hashed in full, every process
    with hard_timeout(10):
        with pytest.raises(ModelFileError, match="unexpected bytes after the weights"):
            wf.read_model_info(path)
        with pytest.raises(ModelFileError, match="unexpected bytes after the weights"):
            wf.load_weights(path)  # an explicit path is checked before its body is read
        assert list_models() == bundled


# --------------------------------------------------------------------------- item 11


def test_a_model_named_like_the_default_never_becomes_the_default(cache, default_model, monkeypatch):
    name = zoo.DEFAULT_MODEL
    impostor = _retrained_copy(default_model, cache, name=name)
    env = cache.parent.parent.parent / "env"
    _retrained_copy(default_model, env, name=name, nudge=0.02)
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(env))
    from gzcodec.zoo import default_model as bundled_default

    assert bundled_default().id == default_model.id and bundled_default().path.parent == BUNDLED_DIR
    assert load_model().id == default_model.id
    assert gzcodec.read_header(gzcodec.encode(
        __import__("numpy").zeros((8, 8, 3), "uint8"), steps=0)).model_id_hex == default_model.id[:8]
    with pytest.raises(ModelNotFoundError, match="ambiguous"):
        find_model(name)
    assert find_model(impostor.id).path == impostor.path  # an id is still unambiguous


def test_a_hex_looking_name_is_not_silently_taken_for_an_id(cache, model):
    other = _retrained_copy(model, cache, name=model.id[:6])
    with pytest.raises(ModelNotFoundError, match="ambiguous") as err:
        find_model(model.id[:6])
    assert model.id in str(err.value) and other.id in str(err.value)
    assert find_model(model.id).id == model.id


def test_a_bare_word_is_a_name_not_a_file_in_the_current_folder(cache, model, monkeypatch):
    monkeypatch.chdir(cache)
    (cache / "face128").write_bytes(b"not a model")
    assert find_model("face128").id == model.id


# --------------------------------------------------------------------------- item 12


def test_a_truncated_weights_file_is_not_listed(cache, bundled, model):
    (cache / "cut.safetensors").write_bytes(model.path.read_bytes()[:-100])
    assert list_models() == bundled
    with pytest.raises(ModelFileError, match=r"truncated \(\d+ of \d+ bytes\)"):
        load_model(cache / "cut.safetensors")


@pytest.mark.parametrize("change", [{"latent_range": 1e308}, {"latent_range": 1e5},
                                    {"level_lambdas": [1e308] * 7}, {"channels": True}])
def test_absurd_configs_are_refused_when_listed_and_loaded(cache, bundled, model, change):
    from .test_models_hostile import _parts, _write

    tensors, meta = _parts(model.path)
    meta = {**meta, "config": json.dumps({**json.loads(meta["config"]), **change})}
    path = _write(cache / "absurd.safetensors", tensors, meta)
    assert list_models() == bundled
    with pytest.raises(ModelFileError, match="out of range") as err:
        load_model(path)
    assert "\n" not in str(err.value)


def test_a_model_error_is_not_wrapped_in_itself(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"abc")
    with pytest.raises(ModelFileError) as err:
        wf.read_model_info(path)
    message = str(err.value)
    assert message == f"{path}: not a safetensors file (too short)"
    assert message.count(str(path)) == 1 and "cannot read" not in message
