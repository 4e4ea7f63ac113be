"""``gzcodec decode -o NAME``: the output's format, refused up front when it cannot be written (issue 26)."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec.codec
from gzcodec.cli import app
from gzcodec.errors import GzcodecError
from gzcodec.imageio import image_bytes

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


@pytest.mark.parametrize("suffix", [".psd", ".fits", ".cur", ".fli", ".xpm", ".iim", ".blp", ".xbm",
                                    ".wmf"])
def test_a_format_pillow_cannot_write_is_one_line_before_any_work(gzl, tmp_path, no_decoding,
                                                                  suffix):
    out = tmp_path / f"out{suffix}"
    assert "cannot write" in _one_error_line(_run("decode", gzl, "-o", out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.gzl"]


def test_writable_formats_are_written(gzl, tmp_path):
    for suffix, fmt in ((".webp", "WEBP"), (".bmp", "BMP"), (".unknown", "PNG")):
        out = tmp_path / f"out{suffix}"
        assert _run("decode", gzl, "-o", out).exit_code == 0
        with Image.open(out) as im:
            assert im.format == fmt


def test_a_save_pillow_refuses_is_a_gzcodec_error():
    # What the trial save up front cannot foresee (a size a format refuses) still fails in one line.
    with pytest.raises(GzcodecError, match="cannot write"):
        image_bytes(Image.new("RGB", (8, 8)), "XBM")
