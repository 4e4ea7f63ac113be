"""The model configs' own validation (gzcodec.models.config), which the weights file relies on."""

from __future__ import annotations

import re

import pytest

from gzcodec.models.config import ContextModelConfig, ModelConfig, config_from_dict, config_problem


@pytest.mark.parametrize("config", [ModelConfig(), ContextModelConfig(),
                                    ModelConfig(image_size=32, channels=8, latent_channels=4)])
def test_a_config_as_stored_has_no_problem(config):
    assert type(config).problem(config.to_dict()) is None
    assert config_problem(config.to_dict()) is None
    assert type(config).from_dict(config.to_dict()) == config
    assert config_from_dict(config.to_dict()) == config  # the class picked by the stored kind


@pytest.mark.parametrize(("data", "problem"), [
    ({"surprise": 1}, "unknown key 'surprise'"),
    ({"channels": True}, "channels = True"),
    ({"latent_range": float("nan")}, "latent_range = nan"),
    ({"level_bits": [8, 2]}, "level_bits = [8, 2]"),
    ({"level_bits": [2, 3]}, "level_bits and level_lambdas differ in length"),
    ({"kind": "context", "slices": [48, 40]},
     "slices do not add up to latent_channels (48 + 40 = 88, not 96)"),
    ({"kind": "context", "image_size": 32}, "a hyperprior needs images of at least 64 pixels"),
    ({"kind": "context", "level_bits": [2]}, "unknown key 'level_bits'"),
])
def test_a_stored_config_out_of_range_says_why(data, problem):
    assert config_problem(data) == problem


@pytest.mark.parametrize("image_size", [16, 48, 64, 128])
def test_the_default_hyper_channels_make_a_config_without_problem(image_size):
    hyper_channels = ContextModelConfig.default_hyper_channels(image_size)
    config = ContextModelConfig(image_size=image_size, hyper_channels=hyper_channels)
    assert ContextModelConfig.problem(config.to_dict()) is None
    # The class's default wherever a hyperprior can be; none below.
    assert hyper_channels == (ContextModelConfig().hyper_channels if image_size >= 64 else 0)


def test_missing_keys_take_the_defaults():
    assert config_problem({}) is None
    assert config_problem({"kind": "context", "latent_channels": 64, "slices": [32, 32]}) is None


@pytest.mark.parametrize(("config", "words"), [
    (ContextModelConfig(image_size=40), "image_size = 40 (must be a multiple of 16 from 16 to 4096)"),
    (ContextModelConfig(slices=(48, 40)),
     "slices do not add up to latent_channels (48 + 40 = 88, not 96)"),
    (ContextModelConfig(image_size=32), "a hyperprior needs images of at least 64 pixels"),
    (ModelConfig(level_bits=(2, 3)), "level_bits and level_lambdas differ in length"),
])
def test_a_config_built_in_python_is_validated_by_the_same_rules(config, words):
    assert type(config).problem(config.to_dict()) == words
    with pytest.raises(ValueError, match=re.escape(words)):
        config.validate()


def test_valid_configs_pass_validate():
    for config in (ModelConfig(), ContextModelConfig(), ContextModelConfig(image_size=32, hyper_channels=0)):
        config.validate()


def test_train_refuses_a_bad_config_before_reading_anything(tmp_path):
    pytest.importorskip("torch")
    from gzcodec.train import train

    with pytest.raises(ValueError, match="slices do not add up"):
        train(tmp_path / "no-data", tmp_path / "run", config=ContextModelConfig(slices=(48, 40)))
    assert not (tmp_path / "run").exists()
