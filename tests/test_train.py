"""gzcodec train: a tiny v2 run end to end, resume, export, and use of the exported model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app

runner = CliRunner()

TINY = ["--image-size", "32", "--channels", "8", "--latent-channels", "8", "--slices", "4,4",
        "--batch-size", "2", "--threads", "1", "--no-compile", "-q"]


def _images(folder, n=6, size=32):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")
    return folder


@pytest.mark.slow
def test_train_resume_export_and_use(tmp_path, monkeypatch):
    data = _images(tmp_path / "data")
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "2",
                                 "--val", str(data), "--val-every", "2", *TINY])
    assert result.exit_code == 0, result.output
    assert (run / "checkpoint.safetensors").exists()
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 2

    weights = tmp_path / "models" / "tiny.safetensors"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "4",
                                 "--resume", "--export", str(weights), "--name", "tiny", *TINY])
    assert result.exit_code == 0, result.output
    assert "resuming from step 2" in result.output

    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(weights.parent))
    assert any(m.name == "tiny" for m in gzcodec.list_models())
    image = Image.open(data / "0.png")
    encoded = gzcodec.encode(image, bits=4, model="tiny", steps=2)
    header = gzcodec.read_header(encoded)
    # A v2 file of a 32x32 model: size code 2, the rate index of --bits 4.
    assert header.version == 2 and header.size_code == 2 and header.rate == 85
    assert gzcodec.decode(encoded).size == (32, 32)
    # The file's information content under the model: the range coder adds under 2 bytes.
    info = gzcodec.codec.information_bits(encoded)
    assert -1 < header.payload_length - info / 8 < 2

    # Exported again, the checkpoint gives the same bytes (the same id), and the stored
    # config takes the name it is exported under.
    from gzcodec.train import export_model

    ids = {export_model(run / "checkpoint.safetensors", tmp_path / f"again{i}.safetensors",
                        name="tiny2") for i in range(3)}
    assert len(ids) == 1
    assert gzcodec.load_model(tmp_path / "again0.safetensors").config.name == "tiny2"

    # --table-radius: the exported tables' coding window (a wider one is another model id).
    wide = tmp_path / "wide.safetensors"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "4", "--resume",
                                 "--export", str(wide), "--name", "tiny2", "--table-radius", "100",
                                 *TINY])
    assert result.exit_code == 0, result.output
    lm = gzcodec.load_model(wide)
    assert lm.entropy.radius == 100 and lm.id[:12] not in ids
    assert gzcodec.decode(gzcodec.encode(image, bits=8, model=lm, steps=0), model=lm).size == (32, 32)


@pytest.mark.parametrize(("extra", "message"), [
    (["--table-radius", "100"], "give --export too"),
    (["--table-radius", "0", "--export", "m.safetensors"], "must be 1..1023, not 0"),
    (["--table-radius", "5000", "--export", "m.safetensors"], "must be 1..1023, not 5000"),
])
def test_a_table_radius_goes_with_an_export_in_range(tmp_path, extra, message):
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--steps", "1",
                                 *extra, *TINY])
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_an_existing_run_is_not_replaced_without_force(tmp_path):
    data = _images(tmp_path / "data", n=2)
    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), "--steps", "1", *TINY]
    assert runner.invoke(app, args).exit_code == 0
    before = (run / "checkpoint.safetensors").read_bytes()
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "--resume" in result.output and "--force" in result.output
    assert (run / "checkpoint.safetensors").read_bytes() == before
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_an_existing_export_is_not_replaced_without_force(tmp_path):
    data = _images(tmp_path / "data", n=2)
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(b"old model")
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--steps", "1",
                                 "--export", str(weights), *TINY])
    assert result.exit_code == 1 and "exists" in result.output
    assert weights.read_bytes() == b"old model"


def test_a_time_limit_stops_with_a_checkpoint_that_resumes(tmp_path):
    data = _images(tmp_path / "data", n=2)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "50",
                                 "--max-minutes", "0", *TINY])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "2",
                                 "--resume", *TINY])
    assert result.exit_code == 0 and "resuming from step 0" in result.output


def test_an_interrupt_saves_a_checkpoint(tmp_path):
    import signal

    from gzcodec.models.context_model import ContextModelConfig
    from gzcodec.train import TrainOptions, load_checkpoint, train

    data = _images(tmp_path / "data", n=2)
    config = ContextModelConfig(image_size=32, channels=8, latent_channels=8, slices=(4, 4),
                                context_hidden=8, position_channels=2, hyper_channels=0)

    def on_step(step: int, last: int) -> None:
        if step == 3:
            signal.raise_signal(signal.SIGINT)

    lines: list[str] = []
    train(data, tmp_path / "run", config=config, on_step=on_step, log=lines.append,
          options=TrainOptions(steps=100, batch_size=2, threads=1, compile=False))
    _, _, meta = load_checkpoint(tmp_path / "run" / "checkpoint.safetensors")
    assert meta["step"] == "3"
    assert any("interrupted" in line for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    ([], "no images found"),
    (["--lr", "-1"], "learning rate"),
    (["--lr", "nan"], "learning rate"),
    (["--slices", "3,3"], "add up"),
])
def test_bad_training_input_is_one_clear_line(tmp_path, args, message):
    data = tmp_path / "data"
    if args:
        _images(data, n=2)
    else:
        data.mkdir()
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--steps",
                                 "1", *TINY, *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error:") and message in result.output
    assert "Traceback" not in result.output


def test_an_out_folder_that_is_a_file_is_not_a_directory(tmp_path):
    # It said "File exists" (issue 26, item 13).
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(data / "0.png"), "--steps",
                                 "1", *TINY])
    assert result.exit_code == 1, result.output
    assert result.output == f"error: {data / '0.png'}: not a directory\n"


def test_an_unreadable_training_image_is_skipped(tmp_path):
    data = _images(tmp_path / "data", n=2)
    (data / "broken.png").write_bytes(b"not a png")
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--steps",
                                 "1", *TINY[:-1]])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.png" in result.output


def test_resume_without_a_checkpoint_is_one_clear_line(tmp_path):
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "none"), "--resume"])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "nothing to resume" in result.output


def test_a_resume_without_steps_keeps_the_runs_own_plan(tmp_path):
    # Not the default 400,000: the schedule (its warm-up, its decay) is the run's own.
    data = _images(tmp_path / "data", n=2)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "2", *TINY])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--resume", *TINY])
    assert result.exit_code == 0, result.output
    assert "the run is complete at step 2" in result.output


@pytest.mark.slow
def test_a_level_added_mid_run_keeps_the_others_and_trains(tmp_path):
    import torch

    from gzcodec.train import add_rate_level, load_checkpoint

    data = _images(tmp_path / "data")
    run = tmp_path / "run"
    ckpt = run / "checkpoint.safetensors"
    args = ["train", str(data), "--out", str(run), "--val", str(data), "--val-every", "2", *TINY]
    assert runner.invoke(app, [*args, "--steps", "2"]).exit_code == 0
    before, _, _ = load_checkpoint(ckpt)
    levels = before.config.levels

    with pytest.raises(ValueError, match="above the top"):
        add_rate_level(ckpt, tmp_path / "x.safetensors", lam=before.config.level_lambdas[-1])
    with pytest.raises(FileExistsError):
        add_rate_level(ckpt, ckpt)
    config = add_rate_level(ckpt, ckpt, force=True)
    assert config.level_lambdas[:-1] == before.config.level_lambdas
    after, tensors, _ = load_checkpoint(ckpt)
    assert after.config == config and after.log_gain_enc.shape[0] == levels + 1
    assert torch.equal(after.log_gain_enc[:-1], before.log_gain_enc)
    assert torch.equal(after.log_gain_dec[:-1], before.log_gain_dec)
    # The new level's gains continue the top two's trend (lambda x the same ratio).
    trend = 2 * before.log_gain_enc[-1] - before.log_gain_enc[-2]
    assert torch.allclose(after.log_gain_enc[-1], trend, atol=1e-6)
    assert not tensors["adam.exp_avg.log_gain_enc"][-1].any()

    result = runner.invoke(app, [*args, "--steps", "4", "--resume"])
    assert result.exit_code == 0, result.output
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 4 and last["val"][-1]["position"] == levels  # the new top level
    assert (run / "val.png").exists()  # the curve, with the new level's shorter line


def _same_values(a, b) -> bool:
    import torch

    return bool(torch.equal(a.float(), b.float()))


def _model_tensors(path):
    from gzcodec.train import load_checkpoint

    model, _, meta = load_checkpoint(path)
    return model.state_dict(), meta


def test_a_run_started_from_another_model_begins_with_its_weights(tmp_path):
    from gzcodec.models.context_model import ContextModelConfig
    from gzcodec.train import TrainOptions, export_model, train

    data = _images(tmp_path / "data", n=2)
    config = ContextModelConfig(image_size=32, channels=8, latent_channels=8, slices=(4, 4),
                                context_hidden=8, position_channels=2, hyper_channels=0)
    quick = dict(batch_size=2, threads=1, compile=False)
    parent = train(data, tmp_path / "parent", config=config, log=lambda line: None,
                   options=TrainOptions(steps=3, **quick))
    weights = tmp_path / "parent.safetensors"
    export_model(parent, weights, name="parent")

    for source in (parent, weights):
        lines: list[str] = []
        child = train(data, tmp_path / f"from-{source.suffix}-{source.stem}", stop_at=0,
                      log=lines.append,
                      options=TrainOptions(steps=5, init_from=str(source), distortion="ssim",
                                           **quick))
        tensors, meta = _model_tensors(child)
        expected = (_model_tensors(parent)[0] if source == parent
                    else gzcodec.load_model(weights).network.state_dict())
        assert meta["step"] == "0" and tensors.keys() == expected.keys()
        assert all(_same_values(tensors[k], expected[k]) for k in tensors)
        assert json.loads(meta["options"])["distortion"] == "ssim"
        assert any("starting from" in line for line in lines)

    # The fine-tune trains on under the distortion it was given, and resumes as usual.
    run = tmp_path / "from-.safetensors-parent"
    train(data, run, resume=True, log=lambda line: None, options=TrainOptions(steps=2, **quick))
    tensors, meta = _model_tensors(run / "checkpoint.safetensors")
    assert meta["step"] == "2" and json.loads(meta["options"])["distortion"] == "ssim"


def test_validation_reports_the_bench_ssim_of_the_encoders_guess():
    import torch

    from gzcodec.metrics import ssim
    from gzcodec.models.context_model import ContextModel, ContextModelConfig
    from gzcodec.train import evaluate

    torch.manual_seed(0)
    model = ContextModel(ContextModelConfig(image_size=32, channels=8, latent_channels=8,
                                            slices=(4, 4), context_hidden=8,
                                            position_channels=2, hyper_channels=0)).eval()
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    [row] = evaluate(model, images, positions=(2.0,))
    with torch.no_grad():
        enc_gain, dec_gain = model.gains(torch.full((2,), 2.0))
        q = torch.round(model.analyse(images.float() / 255) * enc_gain)
        decoded = (model.synthesise(q, dec_gain).clamp(0, 1) * 255).round().to(torch.uint8)
    expected = np.mean([ssim(a.permute(1, 2, 0).numpy(), b.permute(1, 2, 0).numpy())
                        for a, b in zip(images, decoded, strict=True)])
    assert row.ssim == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("args", "message"), [
    (["--init-from", "face128-v2", "--channels", "16"], "drop --channels"),
    (["--init-from", "face128-v2", "--resume"], "use one"),
    (["--init-from", "face128"], "version 1 model"),
    (["--init-from", "no-such-model"], "no-such-model"),
    (["--distortion", "psnr"], "psnr"),
])
def test_a_run_from_a_model_that_cannot_start_one_is_one_clear_line(tmp_path, args, message):
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--steps",
                                 "1", "--batch-size", "2", "--threads", "1", "--no-compile", "-q",
                                 *args])
    assert result.exit_code in (1, 2), result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_an_unknown_distortion_is_refused():
    from gzcodec.train_options import TrainOptions

    with pytest.raises(ValueError, match="unknown distortion 'psnr'"):
        TrainOptions(distortion="psnr").validate()


def test_a_lambda_cap_weighs_only_the_images_above_it():
    # Each image's loss is multiplied by min(1, cap / lambda): the ones below the cap are
    # untouched, the ones above weigh as if at it (issue 20's drift of face-v3-e's low rates).
    import torch

    from gzcodec.models.context_model import ContextModel, ContextModelConfig
    from gzcodec.reversal import LOSSES, rate_distortion
    from gzcodec.train import train_step
    from gzcodec.train_options import TrainOptions

    torch.manual_seed(0)
    config = ContextModelConfig(image_size=32, channels=8, latent_channels=8, slices=(4, 4),
                                hyper_channels=0)
    x = torch.rand(2, 3, 32, 32)
    position = torch.tensor([0.0, float(config.levels - 1)])
    lam = ContextModel(config).lam(position)
    cap = float(lam[0] + lam[1]) / 2
    losses = {}
    for lambda_cap in (0.0, cap):
        torch.manual_seed(1)
        model = ContextModel(config)
        opts = TrainOptions(lambda_cap=lambda_cap, compile=False, autocast=False, lr=1e-9)
        optim = torch.optim.Adam([{"params": model.parameters(), "lr_scale": 1.0}])
        torch.manual_seed(2)
        losses[lambda_cap], _ = train_step(model, model, optim, x, position, opts, step=1000)
        torch.manual_seed(2)
        with torch.no_grad():
            x_hat, rate = model(x, position)
        per_image = rate_distortion(rate, x_hat, x, lam=lam, distortion=LOSSES["mse"])
    assert float(losses[0.0]) == pytest.approx(float(per_image.mean()), rel=1e-4)
    expected = (per_image[0] + per_image[1] * cap / lam[1]) / 2
    assert float(losses[cap]) == pytest.approx(float(expected), rel=1e-4)
    assert float(losses[cap]) < float(losses[0.0])


def test_a_lambda_cap_is_kept_on_resume_and_may_change_there(tmp_path):
    from gzcodec.train.checkpoints import checkpoint_options, read_meta

    data = _images(tmp_path / "data", n=2)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "1", *TINY])
    assert result.exit_code == 0, result.output
    assert checkpoint_options(read_meta(run / "checkpoint.safetensors")).lambda_cap == 0
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--resume", "--steps", "2",
                                 "--lambda-cap", "0.01", *TINY])
    assert result.exit_code == 0, result.output
    assert "lambda cap 0 -> 0.01 from step 1" in result.output
    # A later resume without the option keeps the run's cap, and says nothing of it.
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--resume", "--steps", "3",
                                 *TINY])
    assert result.exit_code == 0, result.output
    assert "lambda cap" not in result.output
    assert checkpoint_options(read_meta(run / "checkpoint.safetensors")).lambda_cap == 0.01


def test_a_lambda_cap_is_refused_for_a_realism_decoder_and_below_zero(tmp_path):
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "r"), "--realism-from",
                                 "face128-v2", "--lambda-cap", "0.01", "-q"])
    assert result.exit_code == 1 and "--max-rate" in result.output
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "r"), "--lambda-cap",
                                 "-1", *TINY])
    assert result.exit_code == 1 and "--lambda-cap" in result.output
    assert not (tmp_path / "r").exists()
