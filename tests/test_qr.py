"""QR codes of .gzl files (``gzcodec.qr``), decode's other inputs, and the command line's
``--qr``/``--text``: the face read from a code is the face of the file, bit for bit, after the
distortions a print and a phone's snapshot cause; every bad input is one clear error.

Needs the ``qr`` extra (the README's test command installs it). Faces: ``examples/face.png``
and scikit-image's astronaut, encoded with the bundled default model.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec import encode_qr
from gzcodec.cli import app
from gzcodec.errors import BarcodeError, FormatError, LimitError, MissingDependencyError
from gzcodec.qr import LEVELS, capacity, fit_options, make_qr, read_qr, smallest_version
from gzcodec.textform import to_text

from .conftest import EXAMPLES

segno = pytest.importorskip("segno")
pytest.importorskip("zxingcpp")


def _load_benchmark():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "qr_robustness.py"
    spec = importlib.util.spec_from_file_location("qr_robustness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The distortions the issue names, one definition shared with the benchmark that reports them.
robustness = _load_benchmark()
runner = CliRunner()


@pytest.fixture(scope="module")
def face_file() -> bytes:
    """``examples/face.png`` at the default model's default quality (~400 bytes)."""
    return gzcodec.encode(EXAMPLES / "face.png")


@pytest.fixture(scope="module")
def face_pixels(face_file) -> bytes:
    return gzcodec.decode(face_file).tobytes()


@pytest.fixture(scope="module")
def face_code(face_file):
    return make_qr(face_file)  # level M, 8 px a module, 4-module quiet zone


# --------------------------------------------------------------------------- capacity


def test_capacity_is_the_standards_byte_mode_table():
    # ISO/IEC 18004 Table 7, byte mode (and the 213 bytes at 10-M).
    assert [capacity(1, level) for level in LEVELS] == [17, 14, 11, 7]
    assert [capacity(10, level) for level in LEVELS] == [271, 213, 151, 119]
    assert [capacity(40, level) for level in LEVELS] == [2953, 2331, 1663, 1273]
    assert smallest_version(213, "M") == 10 and smallest_version(214, "M") == 11
    with pytest.raises(LimitError, match="fit in no QR code at level H"):
        smallest_version(1274, "H")
    for bad in (0, 41, 1.5, True):
        with pytest.raises(ValueError, match="QR version must be"):
            capacity(bad, "M")
    with pytest.raises(ValueError, match="QR level must be"):
        capacity(10, "X")


@pytest.mark.slow
def test_capacity_is_what_segno_fits_at_every_version_and_level():
    for version in range(1, 41):
        for level in LEVELS:
            n = capacity(version, level)
            assert segno.make_qr(b"\xa5" * n, version=version, error=level, mode="byte",
                                 boost_error=False).version == version
            with pytest.raises(segno.DataOverflowError):
                segno.make_qr(b"\xa5" * (n + 1), version=version, error=level, mode="byte",
                              boost_error=False)


# --------------------------------------------------------------------------- codes


def test_every_byte_value_round_trips_in_byte_mode():
    data = b"GZL" + bytes(range(256)) + b"0123456789"
    for level in LEVELS:
        code = make_qr(data, level=level)
        assert code.level == level and code.nbytes == len(data)
        assert code.version == smallest_version(len(data), level)
        assert code.modules == 17 + 4 * code.version
        assert read_qr(code.png) == data
    with Image.open(io.BytesIO(code.png)) as im:
        assert im.format == "PNG" and im.width == (code.modules + 2 * 4) * 8


def test_make_qr_keeps_the_level_and_version_asked_for():
    code = make_qr(b"GZL\x02", level="L", version=7, scale=2, border=1)
    assert (code.version, code.level, code.capacity) == (7, "L", capacity(7, "L"))
    with pytest.raises(LimitError, match="do not fit a QR code of version 1 at level H"):
        make_qr(b"GZL" + bytes(8), level="H", version=1)
    with pytest.raises(ValueError, match="scale must be"):
        make_qr(b"GZL", scale=0)


def test_the_face_from_the_code_is_the_face_of_the_file(face_file, face_pixels, face_code):
    assert read_qr(face_code.png) == face_file
    assert face_code.version == smallest_version(len(face_file), "M")
    assert gzcodec.decode(face_code.png).tobytes() == face_pixels


@pytest.mark.parametrize("name", list(robustness.DISTORTIONS))
def test_a_distorted_picture_of_the_code_gives_the_same_pixels(name, face_file, face_pixels,
                                                               face_code):
    with Image.open(io.BytesIO(face_code.png)) as im:
        picture = robustness.DISTORTIONS[name](im)
        picture.load()
    assert read_qr(picture) == face_file
    assert gzcodec.decode(picture).tobytes() == face_pixels


def test_a_skimage_face_through_a_version_10_code(astronaut):
    data, code = encode_qr(astronaut, version=10, level="M")
    assert len(data) <= 213 == code.capacity and code.version == 10
    picture = robustness.DISTORTIONS["perspective tilt"](Image.open(io.BytesIO(code.png)))
    assert np.array_equal(np.asarray(gzcodec.decode(picture)), np.asarray(gzcodec.decode(data)))


def test_fit_options_fills_the_code_or_the_smaller_budget():
    options = gzcodec.EncodeOptions()
    assert fit_options(options) is options
    assert fit_options(options, version=10).max_bytes == 213
    assert fit_options(gzcodec.EncodeOptions(max_bytes=100), version=10).max_bytes == 100
    with pytest.raises(ValueError, match="drop rate"):
        fit_options(gzcodec.EncodeOptions(rate=10), version=10)
    with pytest.raises(ValueError, match="drop target_ssim"):
        fit_options(gzcodec.EncodeOptions(target_ssim=0.5), version=10)


# --------------------------------------------------------------------------- decode's inputs


def test_decode_takes_every_form_of_the_file(tmp_path, face_file, face_pixels, face_code):
    picture = tmp_path / "face-qr.png"
    picture.write_bytes(face_code.png)
    text = to_text(face_file)
    for given in (text, text.encode(), io.BytesIO(text.encode()), io.StringIO(text + "\n"),
                  face_code.png, str(picture), picture, open(picture, "rb"),  # noqa: SIM115
                  Image.open(picture)):
        assert gzcodec.decode(given).tobytes() == face_pixels, type(given)
    assert gzcodec.read_header(text) == gzcodec.read_header(face_file)
    assert gzcodec.read_header(face_code.png) == gzcodec.read_header(face_file)


def test_a_code_holding_the_text_form_is_read_too(face_file, face_pixels):
    code = segno.make_qr(to_text(face_file), error="L")  # what a text-only QR app would make
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=4)
    assert read_qr(buffer.getvalue()) == face_file


def _png(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()


def _stained(png: bytes, fraction: float) -> bytes:
    with Image.open(io.BytesIO(png)) as im:
        return _png(robustness.stain(fraction)(im))


def _two_codes() -> bytes:
    a, b = (Image.open(io.BytesIO(make_qr(b"GZL" + bytes([i]) * 20).png)) for i in (1, 2))
    both = Image.new("L", (a.width + b.width, a.height), 255)
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    return _png(both)


@pytest.mark.parametrize("make, error, message", [
    (lambda code: (EXAMPLES / "face.png").read_bytes(), BarcodeError, "no QR code found"),
    (lambda code: _png(Image.new("RGB", (300, 200), "white")), BarcodeError, "no QR code found"),
    (lambda code: _stained(code.png, 0.3), BarcodeError, "damaged beyond its error correction"),
    (lambda code: _two_codes(), BarcodeError, "2 different QR codes"),
    (lambda code: make_qr(b"https://example.org/").png, FormatError,
     "holds 20 bytes that are not a .gzl file"),
    (lambda code: code.png[:200], FormatError, "cannot read the picture"),
    (lambda code: b"\x89PNG\r\n\x1a\n" + bytes(40), FormatError, "cannot read the picture"),
])
def test_pictures_without_a_gzl_are_one_clear_error(make, error, message, face_code):
    with pytest.raises(error, match=message) as caught:
        gzcodec.decode(make(face_code))
    assert "\n" not in str(caught.value) and isinstance(caught.value, OSError)


def test_the_levels_differ_where_a_stain_covers_the_code(face_file):
    # What the levels buy, as benchmarks/qr_robustness.py reports it: 15 % is lost at M, not at H.
    assert read_qr(_stained(make_qr(face_file, level="H").png, 0.15)) == face_file
    with pytest.raises(BarcodeError, match="damaged"):
        read_qr(_stained(make_qr(face_file, level="M").png, 0.15))


def test_without_the_extra_the_error_says_what_to_install(monkeypatch, tmp_path, face_code):
    monkeypatch.setitem(sys.modules, "segno", None)  # import segno raises ImportError
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "gzcodec\[qr\]"'):
        make_qr(b"GZL")
    with pytest.raises(MissingDependencyError, match="zxing-cpp"):
        gzcodec.decode(face_code.png)
    shutil.copy(EXAMPLES / "face.png", tmp_path / "face.png")
    for args in (["encode", tmp_path / "face.png", "--qr", tmp_path / "q.png"],
                 ["decode", tmp_path / "q.png", "-o", tmp_path / "out.png"]):
        (tmp_path / "q.png").write_bytes(face_code.png) if args[0] == "decode" else None
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert result.output.startswith("error: ") and "gzcodec[qr]" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.png", "q.png"]


# --------------------------------------------------------------------------- command line


@pytest.fixture
def work(tmp_path):
    shutil.copy(EXAMPLES / "face.png", tmp_path / "face.png")
    return tmp_path


def _run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def test_encode_qr_writes_the_file_and_the_code(work, face_file, face_pixels):
    result = _run("encode", work / "face.png", "--qr", work / "face-qr.png")
    assert result.exit_code == 0, result.output
    assert (work / "face.gzl").read_bytes() == face_file  # what a plain encode makes
    version = smallest_version(len(face_file), "M")
    assert result.output.splitlines() == [
        f"{work / 'face.gzl'}: {len(face_file)} bytes",
        f"{work / 'face-qr.png'}: QR code version {version}, level M, {17 + 4 * version}x"
        f"{17 + 4 * version} modules, {len(face_file)} of {capacity(version, 'M')} bytes"]
    result = _run("decode", work / "face-qr.png", "-o", work / "out.png")
    assert result.exit_code == 0, result.output
    assert Image.open(work / "out.png").tobytes() == face_pixels
    # Without -o the usual output (face-qr.png) would be the input itself.
    result = _run("decode", work / "face-qr.png")
    assert result.exit_code == 0, result.output
    assert Image.open(work / "face-qr.decoded.png").tobytes() == face_pixels


def test_encode_qr_version_and_level_fill_that_code(work):
    result = _run("encode", work / "face.png", "--qr", work / "q.png", "--qr-version", 10,
                  "--qr-level", "h", "-o", work / "f.gzl")
    assert result.exit_code == 0, result.output
    data = (work / "f.gzl").read_bytes()
    assert len(data) <= capacity(10, "H") == 119
    assert read_qr(work / "q.png") == data
    assert "QR code version 10, level H" in result.output


def test_text_prints_one_line_and_writes_nothing(work, face_file, face_pixels):
    result = _run("encode", work / "face.png", "--text")
    assert result.exit_code == 0, result.output
    assert result.output == to_text(face_file) + "\n"
    assert sorted(p.name for p in work.iterdir()) == ["face.png"]
    text = result.output.strip()
    assert _run("decode", text, "-o", work / "a.png").exit_code == 0
    assert _run("decode", "-", "-o", work / "b.png", input=result.output).exit_code == 0
    assert _run("decode", "-", "-o", work / "c.png", input=face_file).exit_code == 0
    for name in ("a.png", "b.png", "c.png"):
        assert Image.open(work / name).tobytes() == face_pixels
    # A format Pillow cannot write: one line, nothing written, as for a .gzl's decode.
    result = _run("decode", text, "-o", work / "a.psd")
    assert result.exit_code == 1 and result.output.startswith("error: "), result.output
    assert not (work / "a.psd").exists()


@pytest.mark.parametrize("args, message", [
    (["decode", "{work}/face.png", "-o", "{work}/x.png"], "face.png: no QR code found"),
    (["decode", "{work}/url.png", "-o", "{work}/x.png"], "url.png: the QR code holds 20 bytes "
                                                          "that are not a .gzl file"),
    (["decode", "{work}/damaged.png", "-o", "{work}/x.png"], "damaged beyond its error correction"),
    (["decode", "gzl:R1pM!", "-o", "{work}/x.png"], "'!' at character 9 is not base64url"),
    (["decode", "gzl:R1pMA", "-o", "{work}/x.png"], "no base64 text is 5 characters long"),
    (["decode", "gzl:R1pMAg"], "a text form has no file name to write beside: give -o"),
    (["decode", "gzl:R1pMAg", "{work}/face.png", "-o", "{work}/x/"], "is decoded alone"),
    (["decode", "-", "-o", "{work}/x.png"], "standard input is empty"),
    (["encode", "{work}/face.png", "--qr", "{work}/q.png", "--qr-version", "41"],
     "Invalid value for '--qr-version'"),
    (["encode", "{work}/face.png", "--qr", "{work}/q.png", "--qr-version", "0"],
     "Invalid value for '--qr-version'"),
    (["encode", "{work}/face.png", "--qr", "{work}/q.png", "--qr-level", "X"],
     "Invalid value for '--qr-level'"),
    (["encode", "{work}/face.png", "{work}/copy.png", "--qr", "{work}/q.png"],
     "--qr takes one image, not 2"),
    (["encode", "{work}", "--qr", "{work}/q.png"], "--qr takes one image, not a folder"),
    (["encode", "{work}/face.png", "{work}/copy.png", "--text"], "--text takes one image, not 2"),
    (["encode", "{work}/face.png", "--qr-level", "H"], "--qr-level goes with --qr"),
    (["encode", "{work}/face.png", "--qr-version", "3"], "--qr-version goes with --qr"),
    (["encode", "{work}/face.png", "--text", "--qr", "{work}/q.png"], "give one"),
    (["encode", "{work}/face.png", "--text", "-o", "{work}/x.gzl"], "drop -o"),
    (["encode", "{work}/face.png", "--qr", "{work}/q.png", "--ray", "-o", "{work}/out/"],
     "--qr takes one image, not --ray"),
    (["encode", "{work}/face.png", "--qr", "{work}/q.png", "--qr-version", "1"],
     "cannot fit the image in 14 bytes"),
    (["encode", "{work}/face.png", "--qr", "{work}/q.png", "--qr-version", "5", "--rate", "3"],
     "drop --rate"),
    (["encode", "{work}/face.png", "--qr", "{work}/face.png"], "is also the input"),
    (["encode", "{work}/face.png", "--qr", "{work}/face.gzl"], "is also the .gzl output"),
    (["encode", "{work}/face.png", "--qr", "{work}/url.png"], "url.png exists (use --force"),
])
def test_every_bad_input_is_one_line_and_writes_nothing(work, face_code, args, message):
    (work / "url.png").write_bytes(make_qr(b"https://example.org/").png)
    (work / "damaged.png").write_bytes(_stained(face_code.png, 0.3))
    shutil.copy(work / "face.png", work / "copy.png")
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    result = _run(*[a.format(work=work) for a in args], input="")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert message in result.output, result.output
    assert {p.name: p.read_bytes() for p in work.iterdir()} == before



def test_codes_and_text_forms_import_no_torch():
    import os
    import subprocess
    import textwrap

    script = textwrap.dedent("""
        import sys
        from gzcodec.carriers import unwrap
        from gzcodec.qr import make_qr
        from gzcodec.textform import to_text
        data = b"GZL\\x02 any file"
        assert unwrap(make_qr(data).png) == data and unwrap(to_text(data)) == data
        print("torch" in sys.modules)
    """)
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
