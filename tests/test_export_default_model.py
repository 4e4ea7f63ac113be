"""``scripts/export_default_model.py``: one command makes the bundled default and its card.

Run here on a tiny two-step training run, into a temporary folder (the bundled files are
never touched).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.zoo.weights_file import read_model_info

from .test_train import TINY, _images

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "export_default_model.py"
KEPT = "# `face128` (id `9089b660ca28`): the first model\n\nIts section, kept as it is.\n"
OPENING = "# Model cards\n\nThe card's opening, kept as it is.\n\n"
OLD_V2 = "# `face128-v2` (id `000000000000`): an older snapshot\n\nTo be replaced.\n\n"


@pytest.fixture
def script(tmp_path, monkeypatch):
    """The script's module, writing into ``tmp_path`` instead of the package."""
    spec = importlib.util.spec_from_file_location("export_default_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # as an import would (its dataclass needs it)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(module, "CARD", tmp_path / "weights" / "MODEL_CARD.md")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "MODEL_CARD.md").write_text(OPENING + OLD_V2 + KEPT)
    return module


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    data = _images(tmp_path / "data")
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(data), "--out", str(run), "--steps", "3",
                                      "--val", str(data), "--val-every", "2", *TINY])
    assert result.exit_code == 0, result.output
    return run / "checkpoint.safetensors"


def _main(script, monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["export_default_model.py", *map(str, args)])
    script.main()


def test_one_command_exports_the_model_and_writes_its_card(script, checkpoint, monkeypatch):
    _main(script, monkeypatch, checkpoint)
    info = read_model_info(script.WEIGHTS_DIR / "face128-v2.safetensors")
    assert info.name == info.config["name"] == "face128-v2"
    assert info.training["steps"] == 3 and "snapshot" in info.training
    card = script.CARD.read_text()
    assert card.startswith(OPENING) and card.endswith("\n\n" + KEPT) and "older snapshot" not in card
    assert f"# `face128-v2` (id `{info.id}`): the default" in card
    assert "| training | 3 steps, " in card
    # The run planned 3 steps and made them: the card says so, not "still training".
    assert "the whole run" in card and "The run is complete" in card
    assert "still" not in card and "end of the run" in info.training["snapshot"]
    assert "Validation at step 2 " in card  # the log's last record at or before step 3
    assert "{" not in card  # every field of the template filled

    # The same checkpoint again: refused without --force, the same bytes with it.
    weights = script.WEIGHTS_DIR / "face128-v2.safetensors"
    before = weights.read_bytes()
    with pytest.raises(SystemExit, match="--force"):
        _main(script, monkeypatch, checkpoint)
    _main(script, monkeypatch, checkpoint, "--force")
    assert weights.read_bytes() == before and script.CARD.read_text() == card


def test_a_log_without_a_record_before_the_checkpoint_is_refused(script, checkpoint, monkeypatch,
                                                                  tmp_path):
    (tmp_path / "log.jsonl").write_text('{"step": 1000, "val": []}\n')
    with pytest.raises(SystemExit, match="no validation record"):
        _main(script, monkeypatch, checkpoint, "--log", tmp_path / "log.jsonl")
    assert not (script.WEIGHTS_DIR / "face128-v2.safetensors").exists()  # checked before writing


def test_a_run_short_of_its_planned_steps_is_an_interim_snapshot(script):
    assert not script.run_complete({"steps": 200_372, "options": {"steps": 250_000}})
    assert script.run_complete({"steps": 250_000, "options": {"steps": 250_000}})
    interim = script.SNAPSHOT[False]
    assert "still" in interim["description"] and interim["PROGRESS_NOTE"] == "Training goes on"


@pytest.mark.slow
def test_the_v3_run_exports_as_face128_v3_with_a_wide_window_and_its_own_section(script,
                                                                               monkeypatch):
    # The training run in progress (results/training-face-v3/), as the ship will export it.
    checkpoint = SCRIPT.parent.parent / "results" / "training-face-v3" / "checkpoint.safetensors"
    _main(script, monkeypatch, checkpoint, "--model", "face128-v3")
    weights = script.WEIGHTS_DIR / "face128-v3.safetensors"
    info = read_model_info(weights)
    assert info.name == "face128-v3" and info.config["kind"] == "enhanced"
    assert gzcodec.load_model(weights).entropy.radius == 511
    card = script.CARD.read_text()
    # A model new to the card goes first; the opening and the other sections stay as they were.
    assert card.startswith(OPENING + f"# `face128-v3` (id `{info.id}`)")
    assert card.endswith("\n\n" + OLD_V2 + KEPT)
    assert "enhancement entropy model" in card and "at most ±511" in card
    assert "from scripts/model_card_v3.md" in card and "{" not in card
