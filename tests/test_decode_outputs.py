"""``gzcodec decode -o NAME``: the output's format, refused up front when it cannot be written (issue 26)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import gzcodec.codec
from gzcodec.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def gzl(tmp_path, face_gzl):
    path = tmp_path / "face.gzl"
    path.write_bytes(face_gzl)
    return path


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail if anything is decoded: refusals come before any work."""
    def _decode(*args, **kwargs):
        raise AssertionError("decoded before refusing the output")

    monkeypatch.setattr(gzcodec.codec, "decode", _decode)


def test_a_gzl_output_is_refused_not_re_encoded(gzl, tmp_path, no_decoding):
    out = tmp_path / "again.GZL"
    assert "gzcodec encode" in _one_error_line(_run("decode", gzl, "-o", out))
    assert not out.exists()
