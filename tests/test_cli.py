"""The command line through typer's test runner: one clear line for every user error."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from gzcodec.cli import app

from .conftest import EXAMPLES, FACE128

runner = CliRunner()


@pytest.fixture
def work(tmp_path):
    shutil.copy(EXAMPLES / "face.png", tmp_path / "face.png")
    return tmp_path


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_encode_info_decode(work):
    # face128: its files show bits in `info` (the default's round trip: test_default_model.py).
    result = _run("encode", work / "face.png", "--bits", 5, "--steps", 3, "--model", FACE128, "-q")
    assert result.exit_code == 0, result.output
    gzl = work / "face.gzl"
    assert 50 < gzl.stat().st_size < 1500

    info = _run("info", gzl, "--json")
    assert info.exit_code == 0
    fields = json.loads(info.output)
    assert fields["bits"] == 5 and fields["bytes"] == gzl.stat().st_size
    assert fields["model"].startswith("available")

    result = _run("decode", gzl, "-o", work / "out.png")
    assert result.exit_code == 0, result.output
    assert (work / "out.png").stat().st_size > 0


def test_existing_output_is_kept_without_force(work):
    (work / "face.gzl").write_bytes(b"keep me")
    result = _run("encode", work / "face.png", "--steps", 0, "-q")
    assert result.exit_code == 1
    assert "exists" in result.output and "Traceback" not in result.output
    assert (work / "face.gzl").read_bytes() == b"keep me"
    assert _run("encode", work / "face.png", "--steps", 0, "-q", "--force").exit_code == 0
    assert (work / "face.gzl").read_bytes() != b"keep me"


_QUALITY_PAIR = "give --bits, --rate, --max-bytes or --target-ssim, not two of them"


@pytest.mark.parametrize("options, message", [
    (["--effort", "bogus"], "unknown --effort 'bogus'"),
    (["--effort", "fast", "--steps", "3"], "give --steps or --effort, not both"),
    (["--model", FACE128, "--effort", "fast"], "--effort is an option of hyperprior-context models"),
    (["--model", FACE128, "--rate", "3"], "takes --bits and --steps"),
    (["--max-bytes", "10", "--effort", "none"], "cannot fit the image in 10 bytes"),
    # --bits was silently ignored beside these (issue 26, item 7).
    (["--bits", "4", "--rate", "3"], _QUALITY_PAIR),
    (["--bits", "4", "--max-bytes", "500"], _QUALITY_PAIR),
    (["--bits", "4", "--target-ssim", "0.5"], _QUALITY_PAIR),
    (["--rate", "4", "--max-bytes", "500"], _QUALITY_PAIR),
    (["--max-bytes", "500", "--target-ssim", "0.5"], "give --max-bytes or --target-ssim, not both"),
    (["--bits", "4", "--qr", "face-qr.png", "--qr-version", "15"], "drop --bits"),
])
def test_options_the_encoder_refuses_are_one_clear_line(work, options, message):
    # These are refused by the library (ValueError): one line, no traceback, no file; the
    # options named as the command line names them (--max-bytes, not max_bytes).
    result = _run("encode", work / "face.png", "-q", *options)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error:") and result.output.count("\n") == 1, result.output
    assert message in result.output
    assert not any(name in result.output for name in ("max_bytes", "target_ssim", "$"))
    assert not (work / "face.gzl").exists()


def test_decode_force_does_not_write_through_a_dangling_symlink(work, face_gzl):
    # `decode f.gzl -o dang.png --force`, dang.png -> missing/dir/x.png: fail as cp does,
    # creating no folder (issue 26, item 12).
    (work / "f.gzl").write_bytes(face_gzl)
    (work / "dang.png").symlink_to(work / "missing" / "dir" / "x.png")
    result = _run("decode", work / "f.gzl", "-o", work / "dang.png", "--force")
    assert result.exit_code == 1, result.output
    assert result.output == (f"error: {work / 'dang.png'}: not writing through a dangling "
                             f"symbolic link (to {work / 'missing' / 'dir' / 'x.png'})\n")
    assert not (work / "missing").exists() and (work / "dang.png").is_symlink()


def test_an_output_below_a_file_is_not_a_directory(work):
    # `encode in/face.png -o in/face.png/x.gzl` said "File exists" (issue 26, item 13).
    result = _run("encode", work / "face.png", "-o", work / "face.png" / "x.gzl", "--effort",
                  "none", "-q")
    assert result.exit_code == 1, result.output
    assert result.output == f"error: {work / 'face.png'}: not a directory\n"


def test_truncated_file_is_one_clear_line(work, face_gzl):
    (work / "bad.gzl").write_bytes(face_gzl[:-3])
    for command in (["decode", work / "bad.gzl"], ["info", work / "bad.gzl"]):
        result = _run(*command)
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and result.output.startswith("error:")
        assert "truncated" in result.output
    assert not (work / "bad.png").exists()


@pytest.mark.parametrize("version", [1, 2])
def test_missing_model_is_one_clear_line(work, face_gzl, isolated_models, version, model):
    import dataclasses

    import gzcodec
    from gzcodec.container import pack, unpack

    data = face_gzl if version == 2 else gzcodec.encode(work / "face.png", bits=4, model=model,
                                                        steps=0, format_version=1)
    header, payload = unpack(data)
    other = bytes.fromhex("feedfacecafe")[:len(header.model_id)]
    (work / "other.gzl").write_bytes(pack(dataclasses.replace(header, model_id=other), payload))
    result = _run("decode", work / "other.gzl")
    assert result.exit_code == 1
    assert other.hex() in result.output and "Traceback" not in result.output
    info = _run("info", work / "other.gzl")
    assert info.exit_code == 0 and "NOT FOUND" in info.output
    fields = json.loads(_run("info", work / "other.gzl", "--json").output)
    if version == 2:  # the byte's meaning is the model's: no "bits 128" for a rate index
        assert "bits" not in fields and fields["rate"].startswith(f"{header.rate} (a rate index")
    else:
        assert fields["bits"] == header.bits


def test_info_shows_the_byte_breakdown(work):
    assert _run("encode", work / "face.png", "--steps", 0, "-q").exit_code == 0
    fields = json.loads(_run("info", work / "face.gzl", "--json", "--entropy").output)
    assert fields["format_version"] == 2 and fields["header_bytes"] == 14
    assert fields["header_bytes"] + fields["payload_bytes"] == fields["bytes"]
    assert fields["coding"] == "range"
    assert -1 <= fields["overhead_bytes"] <= 2
    assert fields["payload_bytes"] - fields["information_bytes"] == pytest.approx(
        fields["overhead_bytes"], abs=0.01)


def test_folder_encode_and_decode(work):
    shutil.copy(work / "face.png", work / "face2.png")
    out = work / "out"
    result = _run("encode", work, "-o", out, "--bits", 3, "--steps", 0, "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["face.gzl", "face2.gzl"]
    result = _run("decode", out, "-o", work / "png")
    assert result.exit_code == 0, result.output
    assert len(list((work / "png").iterdir())) == 2


def test_models_lists_the_default(isolated_models):
    result = _run("models")
    assert result.exit_code == 0
    assert "  face128-v2 (default)  " in result.output and "  face128  " in result.output


def test_unreadable_image_is_one_clear_line(work):
    (work / "junk.png").write_bytes(b"not an image at all")
    result = _run("encode", work / "junk.png", "-q")
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "cannot read image" in result.output
