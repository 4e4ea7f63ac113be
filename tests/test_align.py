"""``--align``: faces found in photos, aligned, encoded with their place, pasted back.

Uses scikit-image's astronaut (a real photo scikit-image ships) and images made
from it; never CelebA. Needs the ``align`` extra (the test command installs it).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.metrics import psnr

pytest.importorskip("dlib")
skimage_data = pytest.importorskip("skimage.data")

runner = CliRunner()
FAST = dict(effort="none")  # the guess alone: these tests check placement, not quality


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


@pytest.fixture
def photo(tmp_path, astronaut):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_detect_faces_finds_the_astronaut_aligned(astronaut):
    from gzcodec.align.template import load_template

    faces = gzcodec.detect_faces(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.crop.shape == (128, 128, 3) and face.crop.dtype == np.uint8
    left, top, right, bottom = face.box
    assert 150 < left < right < 300 and 60 < top < bottom < 200
    # The transform takes the template's eyes to the eyes found in the photo.
    in_crop = face.transform.inverse(face.eyes)
    assert np.abs(in_crop - load_template().eye_centres).max() < 2


def test_astronaut_encodes_with_align_and_pastes_back(astronaut):
    data = gzcodec.encode(astronaut, align=True, max_bytes=441, **FAST)
    assert len(data) <= 441
    header = gzcodec.read_header(data)
    assert (header.source_width, header.source_height) == (512, 512)
    x, y = header.placement.centre
    assert 180 < x < 270 and 70 < y < 160 and 120 < header.placement.side_pixels < 260
    pasted = np.asarray(gzcodec.paste_back(data, astronaut))
    assert pasted.shape == astronaut.shape
    # Far from the face the photo is untouched; on it the decoded face is close to the original.
    assert np.array_equal(pasted[350:], astronaut[350:])
    assert np.array_equal(pasted[:, :100], astronaut[:, :100])
    assert psnr(pasted[90:170, 190:260], astronaut[90:170, 190:260]) > 22
    # size="source": the crop at its side in the photo, not the photo's centre square.
    assert gzcodec.decode(data, size="source").width == round(header.placement.side_pixels)


def test_cli_align_then_decode_into(photo, tmp_path, astronaut):
    result = _run("encode", photo, "--align", "--effort", "none", "-q")
    assert result.exit_code == 0, result.output
    gzl = tmp_path / "astronaut.gzl"
    assert gzl.exists() and not list(tmp_path.glob("*.face-*.gzl"))
    info = _run("info", gzl)
    assert "placement" in info.output and "source size        512x512" in info.output
    result = _run("decode", gzl, "--into", photo, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == astronaut.shape and np.array_equal(out[400:], astronaut[400:])
    # Into a photo of another size: one line, nothing written.
    Image.fromarray(astronaut[:500]).save(tmp_path / "other.png")
    result = _run("decode", gzl, "--into", tmp_path / "other.png", "-o", tmp_path / "x.png")
    assert result.exit_code == 1 and result.output.startswith("error: the face was found in a 512x512")
    assert not (tmp_path / "x.png").exists()
    # A format Pillow cannot write: one line before any work, as for a plain decode.
    result = _run("decode", gzl, "--into", photo, "-o", tmp_path / "out.psd")
    assert result.exit_code == 1 and result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.psd").exists()


def test_two_faces_are_numbered_in_reading_order(tmp_path, astronaut):
    # The astronaut twice, the right one a little higher: still one row, left to right.
    pair = np.zeros((560, 1024, 3), np.uint8)
    pair[40:552, :512] = astronaut
    pair[:512, 512:] = astronaut[:, ::-1]
    Image.fromarray(pair).save(tmp_path / "pair.png")
    result = _run("encode", tmp_path / "pair.png", "--align", "--effort", "none")
    assert result.exit_code == 0, result.output
    files = [tmp_path / "pair.face-1.gzl", tmp_path / "pair.face-2.gzl"]
    assert sorted(tmp_path.glob("*.gzl")) == files
    xs = [gzcodec.read_header(f.read_bytes()).placement.centre[0] for f in files]
    assert xs[0] < 512 < xs[1]
    result = _run("decode", *files, "--into", tmp_path / "pair.png")
    assert result.exit_code == 0 and (tmp_path / "pair.decoded.png").exists()
    # --max-faces 1: one file, the plain name.
    result = _run("encode", tmp_path / "pair.png", "--align", "--max-faces", "1", "--effort", "none")
    assert result.exit_code == 0 and (tmp_path / "pair.gzl").exists()
    # encode(align=True) is for one face: it says how many and what to use.
    with pytest.raises(gzcodec.ImageInputError, match="2 faces found; gzcodec.encode_faces"):
        gzcodec.encode(pair, align=True, **FAST)
    assert len(gzcodec.encode_faces(pair, **FAST)) == 2


def test_no_face_is_one_line_and_nothing_written(tmp_path):
    Image.fromarray(np.full((300, 400, 3), 128, np.uint8)).save(tmp_path / "wall.png")
    result = _run("encode", tmp_path / "wall.png", "--align")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: {tmp_path / 'wall.png'}: no face found"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.png"]


def test_pillow_save_with_align(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.gzl", align=True, **FAST)
    with Image.open(tmp_path / "a.gzl") as im:
        assert im.size == (128, 128) and im.info["placement"] is not None


def test_without_the_extra_align_says_what_to_install(tmp_path, photo, monkeypatch):
    from gzcodec.align import backend

    backend.hog_detector.cache_clear()
    backend.landmark_predictor.cache_clear()
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now fails
    try:
        with pytest.raises(gzcodec.MissingDependencyError, match=r'pip install "gzcodec\[align\]"'):
            gzcodec.detect_faces(np.zeros((64, 64, 3), np.uint8))
        result = _run("encode", photo, "--align")
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [
            'error: face alignment needs dlib: pip install "gzcodec[align]" '
            "(dlib-bin and face_recognition_models)"]
        assert not (tmp_path / "astronaut.gzl").exists()
    finally:
        backend.hog_detector.cache_clear()
        backend.landmark_predictor.cache_clear()


def test_max_bytes_counts_the_placement(astronaut):
    for budget in (200, 300):
        assert len(gzcodec.encode(astronaut, align=True, max_bytes=budget, **FAST)) <= budget


def test_reading_order_and_max_faces_option_errors():
    from gzcodec.align.detect import reading_order

    assert reading_order([(0, 200, 50, 250), (100, 0, 150, 50), (0, 0, 50, 50)]) == [2, 1, 0]
    result = _run("encode", "x.png", "--max-faces", "2")
    assert result.exit_code == 1 and "--max-faces goes with --align" in result.output
