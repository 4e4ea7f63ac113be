"""The command line behaves the same way everywhere (issue 11, items 16 and 17).

Usage errors are one ``error: ...`` line and exit 1 like every other error;
``decode`` has ``-q`` and skips existing outputs in folders; ``info`` takes
several files; ``-o`` is a folder exactly when it must be; ``bench`` is always
listed and says what to install; ``--version``; and nothing heavy is imported
to print a header or the help.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.container import pack, unpack

from .conftest import EXAMPLES

runner = CliRunner()
ROOT = Path(gzcodec.__file__).resolve().parents[1]


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output and "╭" not in result.output
    return result.output


@pytest.fixture
def work(tmp_path):
    shutil.copy(EXAMPLES / "face.png", tmp_path / "face.png")
    return tmp_path


@pytest.mark.parametrize("args, words", [
    (["encode", "face.png", "--bits", "99"], "--bits"),
    (["encode"], "Missing argument"),
    (["encode", "face.png", "--bitz", "3"], "--bitz"),
    (["decode", "x.gzl", "--size", "huge"], "--size"),
    (["frobnicate"], "frobnicate"),
    (["encode", "face.png", "--target-ssim", "0"], "--target-ssim"),
    (["bench", "nowhere"], "not a folder"),
])
def test_usage_errors_are_one_line_and_exit_1(work, monkeypatch, args, words):
    monkeypatch.chdir(work)
    assert words in _one_error_line(_run(*args))


def test_no_arguments_prints_the_help(work):
    result = _run()
    assert result.exit_code == 0 and "encode" in result.output and "decode" in result.output


@pytest.mark.parametrize("command", [[], ["encode"], ["decode"], ["info"], ["models"], ["train"],
                                     ["bench"]], ids=str)
def test_help_shows_no_value_beside_a_flag(command):
    # Flags take no value: typer's rich help put "<bool>" beside them (--force -f <bool>).
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.output and "<bool>" not in result.output, result.output
    if command == ["encode"]:  # the options that take a value keep their type
        assert "<int range>" in result.output and "<str>" in result.output


def test_version():
    result = _run("--version")
    assert result.exit_code == 0 and result.output == f"gzcodec {gzcodec.__version__}\n"


def test_decode_has_quiet_and_skips_existing_outputs_in_folders(work, face_gzl):
    src = work / "gzl"
    src.mkdir()
    (src / "a.gzl").write_bytes(face_gzl)
    (src / "b.gzl").write_bytes(face_gzl)
    out = work / "png"
    out.mkdir()
    (out / "a.png").write_bytes(b"keep")
    result = _run("decode", src, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert "decoded 1, skipped 1 existing, failed 0" in result.output
    assert (out / "a.png").read_bytes() == b"keep" and Image.open(out / "b.png").size == (128, 128)


def test_info_takes_several_files(work, face_gzl):
    (work / "a.gzl").write_bytes(face_gzl)
    (work / "b.gzl").write_bytes(face_gzl)
    result = _run("info", work / "a.gzl", work / "b.gzl", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["file"] for r in rows] == [str(work / "a.gzl"), str(work / "b.gzl")]
    assert json.loads(_run("info", work / "a.gzl", "--json").output)["bits"] == 6  # one: an object
    (work / "bad.gzl").write_bytes(b"GZL")
    result = _run("info", work / "a.gzl", work / "bad.gzl")
    assert result.exit_code == 1 and "file" in result.output
    assert f"error: {work / 'bad.gzl'}:" in result.output


def test_o_with_several_inputs_must_be_a_folder(work):
    shutil.copy(work / "face.png", work / "face2.png")
    _one_error_line(_run("encode", work / "face.png", work / "face2.png", "-o", work / "single.gzl"))
    assert not (work / "single.gzl").exists()
    (work / "exists.bin").write_bytes(b"x")
    _one_error_line(_run("encode", work, "-o", work / "exists.bin", "--steps", 0))


def test_o_ending_in_a_slash_makes_a_folder(work):
    result = _run("encode", work / "face.png", "-o", f"{work / 'newdir'}/", "--steps", 0, "-q")
    assert result.exit_code == 0, result.output
    assert (work / "newdir").is_dir() and (work / "newdir" / "face.gzl").is_file()
    result = _run("decode", work / "newdir" / "face.gzl", "-o", f"{work / 'pngs'}/")
    assert result.exit_code == 0 and (work / "pngs" / "face.png").is_file()


def test_bench_without_its_extra_says_what_to_install(work, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    output = _one_error_line(_run("bench", work, "-o", work / "out"))
    assert "matplotlib" in output and "pip install 'gzcodec[bench]'" in output


@pytest.mark.parametrize("bits", ["9", "0", "1", "-3", "99"])
def test_bench_bits_out_of_range_is_a_usage_error_before_any_work(work, monkeypatch, bits):
    pytest.importorskip("matplotlib")
    pytest.importorskip("imagecodecs")

    def _run_bench(*args, **kwargs):
        raise AssertionError("the bench started with --bits out of range")

    monkeypatch.setattr("gzcodec.bench.runner.run_bench", _run_bench)
    output = _one_error_line(_run("bench", work, "-o", work / "out", "--bits", "4", "--bits", bits))
    assert "--bits" in output and not (work / "out").exists()


_IMPORTS = textwrap.dedent("""
    import sys
    heavy = ("torch", "matplotlib", "imagecodecs", "skimage", "ray", "pyarrow")
    args = sys.argv[1:]
    if args:
        from gzcodec.cli import main
        sys.argv = ["gzcodec", *args]
        try:
            main()
        except SystemExit as exc:
            print("exit", exc.code)
    else:
        import gzcodec.cli
    print("HEAVY", sorted(m for m in heavy if m in sys.modules))
""")


@pytest.mark.parametrize("args", [[], ["--help"], ["encode", "--help"], ["info", "{gzl}"],
                                  ["models"], ["--version"]], ids=str)
def test_light_commands_import_nothing_heavy(tmp_path, face_gzl, args):
    (tmp_path / "face.gzl").write_bytes(face_gzl)
    args = [a.format(gzl=tmp_path / "face.gzl") for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", _IMPORTS, *args], capture_output=True, text=True,
                         env=env, timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_loss_choices_are_the_reversal_losses_named_without_torch():
    from gzcodec.cli import Loss
    from gzcodec.losses import LOSS_NAMES
    from gzcodec.reversal import LOSSES

    assert [loss.value for loss in Loss] == list(LOSS_NAMES) == list(LOSSES)


def _options(command: str) -> dict:
    """The click parameters of ``gzcodec <command>``, by name."""
    import typer.main

    return {p.name: p for p in typer.main.get_command(app).commands[command].params}


def _bounds(option) -> tuple:
    """An integer option's ``(min, max)``: on the option (this typer) or on its click type."""
    holder = option if hasattr(option, "min") else option.type
    return holder.min, holder.max


def test_encode_options_follow_the_library_constants():
    from gzcodec import reversal
    from gzcodec.codec import BITS_LADDER
    from gzcodec.models.config import RATE_INDEX_MAX
    from gzcodec.refinement import DEFAULT_EFFORT, DEFAULT_STEPS, EFFORTS

    options = _options("encode")
    assert _bounds(options["bits"]) == (BITS_LADDER[0], BITS_LADDER[-1])
    assert f"{BITS_LADDER[0]}..{BITS_LADDER[-1]}" in options["bits"].help
    assert _bounds(options["rate"]) == (0, RATE_INDEX_MAX)
    assert f"0..{RATE_INDEX_MAX}" in options["rate"].help
    effort_help = options["effort"].help
    assert all(name in effort_help for name in EFFORTS) and f"{DEFAULT_EFFORT} (default)" in effort_help
    assert f"{DEFAULT_STEPS} for face128" in options["steps"].help
    # The torch module that runs the refinement re-exports the torch-free numbers.
    assert (reversal.EFFORTS, reversal.DEFAULT_EFFORT, reversal.DEFAULT_STEPS) == (
        EFFORTS, DEFAULT_EFFORT, DEFAULT_STEPS)


def test_train_options_follow_the_library_constants():
    from gzcodec import train
    from gzcodec.models.config import MIN_HYPERPRIOR_IMAGE_SIZE, ContextModelConfig
    from gzcodec.train_options import VAL_IMAGES, TrainOptions

    options = _options("train")
    assert f"first {VAL_IMAGES} images" in options["val"].help and train.VAL_IMAGES == VAL_IMAGES
    assert options["threads"].default == TrainOptions().threads
    assert options["batch_size"].default == TrainOptions().batch_size
    hyper_help = options["hyper_channels"].help
    assert f"default {ContextModelConfig.default_hyper_channels(MIN_HYPERPRIOR_IMAGE_SIZE)}" in hyper_help
    assert f"0 below {MIN_HYPERPRIOR_IMAGE_SIZE} pixels" in hyper_help


# --------------------------------------------------------------------------- item 17


def test_size_source_needs_an_explicit_limit(work, face_gzl, monkeypatch):
    header, payload = unpack(face_gzl)
    big = work / "big.gzl"
    big.write_bytes(pack(dataclasses.replace(header, source_width=13000, source_height=13000),
                         payload))
    output = _one_error_line(_run("decode", big, "--size", "source"))
    assert "--max-pixels" in output and not (work / "big.png").exists()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150 * 150)
    near = work / "near.gzl"
    near.write_bytes(pack(dataclasses.replace(header, source_width=200, source_height=180), payload))
    _one_error_line(_run("decode", near, "--size", "source"))
    result = _run("decode", near, "--size", "source", "--max-pixels", 180 * 180)
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # our own check of the output
    assert Image.open(work / "near.png").size == (180, 180)


def test_redirected_stdout_holds_the_results_alone(work):
    (work / "in").mkdir()
    shutil.copy(work / "face.png", work / "in" / "face.png")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(work / "cache")}
    out = subprocess.run([sys.executable, "-m", "gzcodec.cli", "encode", str(work / "in"), "-o",
                          str(work / "out"), "--steps", "0"], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "encoded 1, skipped 0 existing, failed 0\n"  # no progress-bar residue
