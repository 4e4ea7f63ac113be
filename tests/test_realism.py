"""Realism decoders end to end: train a few steps, export, decode both ways (issue 22).

The base model is the committed tiny v2 model of the golden files
(``tests/golden/context/tiny-v2.safetensors``, 64 pixels), trained for a few
steps on crops of scikit-image's sample photos: no ../shared data, seconds of CPU.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec import GzlImagePlugin
from gzcodec.cli import app
from gzcodec.errors import ModelFileError, ModelMismatchError, ModelNotFoundError
from gzcodec.zoo import clear_model_info_cache, list_models

from .golden.context.make_golden import write_sample_crops

CONTEXT = Path(__file__).resolve().parent / "golden" / "context"
TINY = CONTEXT / "tiny-v2.safetensors"
FILES = [CONTEXT / f"{name}.gzl" for name in ("tiny-r0", "tiny-r128", "tiny-r255-source")]
runner = CliRunner()


def _options(**changes):
    from gzcodec.train_options import RealismOptions

    base = dict(realism_from=str(TINY), steps=6, batch_size=4, lr=2e-3, disc_lr=2e-3, warmup=1,
                threads=1, log_every=2, val_every=3, checkpoint_minutes=60)
    return RealismOptions(**{**base, **changes})


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A tiny realism run: its folder, its images and its exported realism file."""
    from gzcodec.train import export_realism, train_realism

    root = tmp_path_factory.mktemp("realism")
    images = write_sample_crops(root / "images")
    lines: list[str] = []
    ckpt = train_realism(images, root / "run", options=_options(), val_dir=images, log=lines.append)
    weights = root / "tiny-v2.realism.safetensors"
    realism_id = export_realism(ckpt, weights, name="tiny-realism")
    return {"root": root, "images": images, "ckpt": ckpt, "weights": weights, "id": realism_id,
            "log": lines}


@pytest.fixture
def installed(trained, isolated_models, monkeypatch) -> Path:
    """A model folder holding the tiny model and its realism file, on ``GZCODEC_MODEL_PATH``."""
    folder = isolated_models / "models"
    folder.mkdir()
    shutil.copy(TINY, folder / TINY.name)
    shutil.copy(trained["weights"], folder / "tiny-v2.realism.safetensors")
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(folder))
    clear_model_info_cache()
    return folder


@pytest.fixture
def bare_model(isolated_models, monkeypatch) -> Path:
    """The tiny model installed without a realism decoder."""
    folder = isolated_models / "models"
    folder.mkdir()
    shutil.copy(TINY, folder / TINY.name)
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(folder))
    clear_model_info_cache()
    return folder


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def test_the_run_logs_validation_and_checkpoints(trained):
    from gzcodec.train.realism_checkpoints import load_realism_checkpoint

    assert load_realism_checkpoint(trained["ckpt"]).step == 6
    assert any(line.startswith("val r40:") and "dB sharp" in line for line in trained["log"])
    assert any(line.startswith("step 6/6") and "steps/s" in line for line in trained["log"])
    assert (trained["ckpt"].parent / "samples.png").is_file()
    with Image.open(trained["ckpt"].parent / "val.png") as curve:  # the curve, drawn at each validation
        assert curve.format == "PNG" and curve.width > 400


def test_realism_zero_is_the_fidelity_decode_bit_for_bit(installed, trained):
    for path in FILES:
        fidelity = _pixels(gzcodec.decode(path))
        assert np.array_equal(_pixels(gzcodec.decode(path, realism=0)), fidelity)
        assert np.array_equal(_pixels(gzcodec.decode(path, realism=None)), fidelity)
        assert np.array_equal(_pixels(gzcodec.decode(path, realism=0.0)), fidelity)


def test_realism_decodes_are_deterministic_and_differ_from_the_fidelity_decode(installed, trained):
    from gzcodec.threads import set_threads

    data = FILES[1].read_bytes()
    realistic = _pixels(gzcodec.decode(data, realism=1))
    assert realistic.shape == (64, 64, 3)
    assert not np.array_equal(realistic, _pixels(gzcodec.decode(data)))
    assert not np.array_equal(realistic, _pixels(gzcodec.decode(data, realism=0.3)))
    try:
        set_threads(2)
        assert np.array_equal(_pixels(gzcodec.decode(data, realism=1)), realistic)
    finally:
        set_threads(None)
    assert np.array_equal(_pixels(gzcodec.decode(data, realism=1)), realistic)


def test_a_new_realism_decoder_is_its_base_generator(isolated_models):
    import torch

    from gzcodec.models.config import RealismConfig
    from gzcodec.models.realism import RealismGenerator

    lm = gzcodec.load_model(TINY)
    decoder = RealismGenerator.from_generator(RealismConfig.for_base(lm.config), lm.network.generator)
    latent = torch.randn(2, lm.config.latent_channels, 4, 4)
    with torch.no_grad():
        expected = lm.network.generator(latent) * 0.5 + 0.5
        for beta in (0.0, 0.5, 1.0):
            got = decoder(latent, torch.full((2,), beta), noise_seeds=[1, 2])
            assert torch.equal(got, expected)


def test_without_a_realism_decoder_realism_is_one_error(bare_model, tmp_path):
    with pytest.raises(ModelNotFoundError, match="no realism decoder installed.*--realism-from"):
        gzcodec.decode(FILES[0], realism=1)
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["decode", str(FILES[0]), "--realism", "0.8", "-o", str(out)])
    assert result.exit_code == 1 and result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "no realism decoder" in result.output and not out.exists()
    assert runner.invoke(app, ["decode", str(FILES[0]), "-o", str(out)]).exit_code == 0


def test_a_factorized_model_has_no_realism_decoder(face_gzl):
    with pytest.raises(ModelNotFoundError, match="factorized models"):
        gzcodec.decode(face_gzl, realism=0.5)


@pytest.mark.parametrize("value", [-0.1, 1.01, float("nan"), "1", True])
def test_realism_out_of_range_is_refused(value):
    with pytest.raises(ValueError, match="realism must be a number from 0 to 1"):
        gzcodec.decode(FILES[0], realism=value)


def test_a_realism_file_of_another_model_is_refused(trained, bare_model, tmp_path):
    from gzcodec.train.realism_checkpoints import load_realism_checkpoint
    from gzcodec.zoo.realism_file import save_realism

    other = gzcodec.load_model()  # face128-v2: another id
    decoder = load_realism_checkpoint(trained["ckpt"]).decoder
    wrong = tmp_path / "wrong.realism.safetensors"
    save_realism(decoder, wrong, base=other.info, name="wrong")
    with pytest.raises(ModelMismatchError, match=f"for model {other.id}.*not for 536c49141fd2"):
        gzcodec.decode(FILES[0], realism=1, realism_weights=wrong)
    # Under the model's own name beside it: the same error, not a silent fidelity decode.
    shutil.copy(wrong, bare_model / "tiny-v2.realism.safetensors")
    with pytest.raises(ModelMismatchError):
        gzcodec.decode(FILES[0], realism=1)
    result = runner.invoke(app, ["decode", str(FILES[0]), "--realism", "1", "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 1 and "not for 536c49141fd2" in result.output
    assert not (tmp_path / "o.png").exists()


def test_a_damaged_or_missing_realism_file_is_refused(trained, bare_model, tmp_path):
    damaged = tmp_path / "damaged.realism.safetensors"
    data = bytearray(trained["weights"].read_bytes())
    data[-3] ^= 0x40  # a weight's bits: the tensors' hash no longer matches
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="hash"):
        gzcodec.decode(FILES[0], realism=1, realism_weights=damaged)
    with pytest.raises(ModelNotFoundError, match="not found"):
        gzcodec.decode(FILES[0], realism=1, realism_weights=tmp_path / "nothing.safetensors")
    with pytest.raises(ModelFileError, match="not a gzcodec realism decoder"):
        gzcodec.decode(FILES[0], realism=1, realism_weights=TINY)


def test_the_realism_file_is_found_by_path_beside_the_model_and_in_the_folders(trained, bare_model):
    by_path = _pixels(gzcodec.decode(FILES[1], realism=1, realism_weights=trained["weights"]))
    shutil.copy(trained["weights"], bare_model / "any-name.realism.safetensors")
    assert np.array_equal(_pixels(gzcodec.decode(FILES[1], realism=1)), by_path)


def test_adding_a_realism_file_changes_no_model_id(trained, bare_model):
    before = {m.id: m.name for m in list_models()}
    shutil.copy(trained["weights"], bare_model / "tiny-v2.realism.safetensors")
    clear_model_info_cache()
    assert {m.id: m.name for m in list_models()} == before  # and it is not listed as a model
    assert gzcodec.load_model("tiny-v2").id == "536c49141fd2"


def test_info_and_models_report_the_realism_decoder(installed, trained):
    result = runner.invoke(app, ["info", str(FILES[0])])
    assert result.exit_code == 0
    line = next(row for row in result.output.splitlines() if row.startswith("realism"))
    assert "available" in line and trained["id"] in line
    listing = runner.invoke(app, ["models"]).output
    assert "+ realism decoder" in next(row for row in listing.splitlines() if "tiny-v2" in row)


def test_info_says_when_none_is_installed(bare_model):
    result = runner.invoke(app, ["info", str(FILES[0]), "--json"])
    assert "none installed" in result.output and "--realism-from tiny-v2" in result.output


def test_the_command_line_decodes_with_realism(installed, tmp_path):
    out = tmp_path / "face.png"
    result = runner.invoke(app, ["decode", str(FILES[1]), "--realism", "0.8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(out)), _pixels(gzcodec.decode(FILES[1], realism=0.8)))
    text = gzcodec.to_text(FILES[1].read_bytes())
    result = runner.invoke(app, ["decode", text, "--realism", "0.8", "-o", str(tmp_path / "t.png")])
    assert result.exit_code == 0 and np.array_equal(np.asarray(Image.open(tmp_path / "t.png")),
                                                    np.asarray(Image.open(out)))


def test_pillow_decodes_with_realism_set_before_load(installed, monkeypatch):
    expected = _pixels(gzcodec.decode(FILES[1], realism=1))
    with Image.open(FILES[1]) as im:
        assert im.realism == 0.0
        im.realism = 1
        assert np.array_equal(np.asarray(im), expected)
        with pytest.raises(ValueError, match="before load"):
            im.realism = 0.5
    with Image.open(FILES[1]) as im:
        assert np.array_equal(np.asarray(im), _pixels(gzcodec.decode(FILES[1])))
        with pytest.raises(ValueError):
            im.realism = 2
    monkeypatch.setattr(GzlImagePlugin, "DEFAULT_REALISM", 1.0)
    with Image.open(FILES[1]) as im:
        assert im.realism == 1.0 and np.array_equal(np.asarray(im), expected)


def test_pillow_without_a_realism_decoder_raises_oserror(bare_model):
    with Image.open(FILES[1]) as im:
        im.realism = 0.5
        with pytest.raises(OSError, match="no realism decoder"):
            im.load()


def test_a_run_resumes_and_stops_cleanly_on_sigterm(trained, tmp_path):
    from gzcodec.train import train_realism
    from gzcodec.train.realism_checkpoints import load_realism_checkpoint

    out = tmp_path / "run"
    lines: list[str] = []

    def stop_at_two(step, last):
        if step == 2:
            signal.raise_signal(signal.SIGTERM)  # the StopFlag's handler: a flag, not a kill

    ckpt = train_realism(trained["images"], out, options=_options(), log=lines.append,
                         on_step=stop_at_two)
    assert load_realism_checkpoint(ckpt).step == 2
    assert lines[-1] == "interrupted: checkpoint at step 2 saved; continue with --resume"
    with pytest.raises(FileExistsError, match="--resume"):
        train_realism(trained["images"], out, options=_options(), log=lines.append)
    ckpt = train_realism(trained["images"], out, options=_options(steps=4), resume=True,
                         log=lines.append)
    assert load_realism_checkpoint(ckpt).step == 4
    assert any(line.startswith("resuming from step 2") for line in lines)
    ckpt = train_realism(trained["images"], out, options=_options(steps=9), resume=True,
                         max_minutes=0, log=lines.append)
    assert load_realism_checkpoint(ckpt).step == 4  # out of time at once: nothing lost


def test_the_train_command_trains_resumes_and_exports(trained, tmp_path, isolated_models):
    out, weights = tmp_path / "run", tmp_path / "tiny-v2.realism.safetensors"
    common = [str(trained["images"]), "--out", str(out), "--batch-size", "4", "--threads", "1", "-q"]
    result = runner.invoke(app, ["train", *common, "--realism-from", str(TINY), "--steps", "2",
                                 "--lr", "1e-3", "--adversarial-weight", "0.3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["train", *common, "--resume", "--steps", "3", "--export", str(weights)])
    assert result.exit_code == 0, result.output
    assert "resuming from step 2" in result.output and "realism decoder id" in result.output
    from gzcodec.zoo.realism_file import read_realism_info

    info = read_realism_info(weights)
    assert info.base_model_id == "536c49141fd2" and info.training["steps"] == 3
    assert info.training["options"]["adversarial_weight"] == 0.3
    assert gzcodec.decode(FILES[0], model=TINY, realism=1, realism_weights=weights).size == (64, 64)


@pytest.mark.parametrize("args, words", [
    (["--nproc", "2"], "one process"),
    (["--init-from", "face128-v2"], "--init-from"),
    (["--channels", "8"], "architecture"),
])
def test_the_train_command_refuses_what_a_realism_run_cannot_take(tmp_path, args, words):
    result = runner.invoke(app, ["train", str(tmp_path), "--realism-from", str(TINY), *args])
    assert result.exit_code == 1 and words in result.output, result.output


def test_realism_options_go_with_realism_from(tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path), "--feature-weight", "2"])
    assert result.exit_code == 1 and "--feature-weight goes with --realism-from" in result.output


def test_a_factorized_model_cannot_have_a_realism_decoder(tmp_path):
    from gzcodec.train import train_realism

    with pytest.raises(ValueError, match="hyperprior-context"):
        train_realism(tmp_path, tmp_path / "run", options=_options(realism_from="face128"))
