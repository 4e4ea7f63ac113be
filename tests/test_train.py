"""gzcodec train: a tiny run end to end, resume, export, and use of the exported model."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app

runner = CliRunner()


def _images(folder, n=6, size=32):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")
    return folder


def test_train_resume_export_and_use(tmp_path, monkeypatch):
    data = _images(tmp_path / "data")
    run = tmp_path / "run"
    small = ["--image-size", "32", "--crop", "16", "--channels", "8", "--latent-channels", "4",
             "--batch-size", "2", "--threads", "1"]
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "2",
                                 "--val", str(data), *small])
    assert result.exit_code == 0, result.output
    assert (run / "checkpoint.safetensors").exists()
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 2

    weights = tmp_path / "models" / "tiny.safetensors"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "4",
                                 "--resume", "--export", str(weights), "--name", "tiny", *small])
    assert result.exit_code == 0, result.output
    assert "resuming from step 2" in result.output

    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(weights.parent))
    assert any(m.name == "tiny" for m in gzcodec.list_models())
    image = Image.open(data / "0.png")
    encoded = gzcodec.encode(image, bits=4, model="tiny", steps=2)
    header = gzcodec.read_header(encoded)
    assert (header.width, header.header_size) == (32, 14)  # a 32x32 model: size code 2
    assert gzcodec.codec._decode_symbols(encoded, None)[2].shape == (4, 2, 2)
    assert gzcodec.decode(encoded).size == (32, 32)


def test_resume_without_a_checkpoint_is_one_clear_line(tmp_path):
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "none"), "--resume"])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "nothing to resume" in result.output
