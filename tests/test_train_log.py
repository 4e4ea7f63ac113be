"""``gzcodec train``'s log when it is not on a terminal: whole lines, never wrapped (issue 26)."""

from __future__ import annotations

from typer.testing import CliRunner

import gzcodec.train
from gzcodec.cli import app


def test_a_redirected_training_log_keeps_its_lines_whole(tmp_path, monkeypatch):
    # No training: the run is replaced by one that logs a long line, as a real one does.
    line = "step 1200/250000 " + " ".join(f"field{i}=0.{i:04d}" for i in range(20))
    assert len(line) > 200

    def _train(*args, log, **kwargs):
        log(line)
        return tmp_path / "checkpoint.pt"

    monkeypatch.setattr(gzcodec.train, "train", _train)
    monkeypatch.setattr(gzcodec.train, "process_rank", lambda: 0)
    result = CliRunner().invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert line + "\n" in result.output
