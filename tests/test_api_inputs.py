"""What the API takes (issue 11, items 6 and 14): paths, file objects and bytes alike,
float images in [0, 1], and one clear error for every argument out of range.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import gzcodec
from gzcodec.errors import ImageInputError, OutputExistsError

from .conftest import EXAMPLES


def test_decode_and_read_header_take_bytes_paths_and_file_objects(face_gzl, tmp_path):
    path = tmp_path / "face.gzl"
    path.write_bytes(face_gzl)
    expected = gzcodec.decode(face_gzl).tobytes()
    with open(path, "rb") as f:
        from_file = gzcodec.decode(f).tobytes()
    for data in (path, str(path), io.BytesIO(face_gzl), bytearray(face_gzl), memoryview(face_gzl)):
        assert gzcodec.decode(data).tobytes() == expected
        assert gzcodec.read_header(data if not isinstance(data, io.BytesIO)
                                   else io.BytesIO(face_gzl)).bits == 6
    assert from_file == expected


@pytest.mark.parametrize("data, message", [(123, "cannot decode a int"),
                                           (io.StringIO("GZL"), "binary mode")])
def test_decode_refuses_what_is_not_a_file_with_a_clear_type_error(data, message):
    with pytest.raises(TypeError, match=message):
        gzcodec.decode(data)


@pytest.mark.parametrize("read", [gzcodec.decode, gzcodec.read_header])
def test_a_gzl_opened_in_text_mode_is_the_binary_mode_type_error(face_gzl, tmp_path, read):
    # open("face.gzl") decodes the bytes as text while reading: UnicodeDecodeError before the check.
    path = tmp_path / "face.gzl"
    path.write_bytes(face_gzl)
    with open(path, encoding="utf-8") as f, pytest.raises(TypeError, match=r"binary mode \('rb'\)"):
        read(f)


def test_encode_takes_file_objects_like_paths(model):
    path = EXAMPLES / "face.png"
    by_path = gzcodec.encode(path, steps=0, model=model)
    assert gzcodec.encode(io.BytesIO(path.read_bytes()), steps=0, model=model) == by_path
    with open(path, "rb") as f:
        assert gzcodec.encode(f, steps=0, model=model) == by_path
    with pytest.raises(ImageInputError, match="BytesIO"):
        gzcodec.encode(path.read_bytes(), steps=0, model=model)


def test_a_float_image_in_0_1_encodes_like_its_uint8_original(model, face):
    pixels = np.asarray(face)
    as_float = pixels / 255.0
    assert gzcodec.encode(as_float, steps=0, model=model) == gzcodec.encode(pixels, steps=0,
                                                                            model=model)
    assert np.asarray(gzcodec.decode(gzcodec.encode(as_float.astype(np.float32), steps=0,
                                                    model=model))).mean() > 50  # not black


@pytest.mark.parametrize("options, message", [
    (dict(steps=-1), "steps"), (dict(steps=2.5), "steps"), (dict(target_ssim=1.5), "target_ssim"),
    (dict(target_ssim=0), "target_ssim"), (dict(max_bytes=0), "max_bytes"),
    (dict(bits=4.5), "bits"), (dict(bits=True), "bits"), (dict(rate_weight=float("nan")), "rate_weight"),
    (dict(rate_weight=-1), "rate_weight"), (dict(seed=1.5), "seed"), (dict(loss="l3"), "loss"),
    (dict(coding="gzip"), "coding"), (dict(max_bytes=500, target_ssim=0.8), "not both"),
])
def test_encode_arguments_out_of_range_are_one_clear_error(model, options, message):
    with pytest.raises(ValueError, match=message) as err:
        gzcodec.encode(np.zeros((8, 8, 3), np.uint8), model=model, **options)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("seed", [-1, 2**63, 2**64 - 1, 2**64, np.uint64(2**63)])
def test_seeds_outside_0_to_2_63_are_refused_before_any_work(seed):
    # torch takes -1 as 2**64 - 1 (the same file) and overflows past 2**64 after the model loads.
    with pytest.raises(ValueError, match=r"seed must be a whole number 0\.\.9223372036854775807"):
        gzcodec.EncodeOptions(seed=seed)
    assert gzcodec.EncodeOptions(seed=2**63 - 1).seed == 2**63 - 1


def test_cli_refuses_an_out_of_range_seed_before_loading_a_model(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gzcodec.cli import app

    def _load_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the seed was checked")

    monkeypatch.setattr(gzcodec.codec, "load_model", _load_model)
    face = tmp_path / "face.png"
    face.write_bytes((EXAMPLES / "face.png").read_bytes())
    result = CliRunner().invoke(app, ["encode", str(face), "--seed", str(2**64)])
    assert result.exit_code == 1 and result.output.startswith("error: --seed must be"), result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "face.gzl").exists()


@pytest.mark.parametrize("options", [
    dict(bits=np.int64(4)), dict(rate=np.uint8(100)), dict(max_bytes=np.int32(400)),
    dict(target_ssim=np.float32(0.5)), dict(target_ssim=np.float16(1)), dict(target_ssim=np.int8(1)),
    dict(rate_weight=np.float32(0.5)), dict(rate_weight=np.int64(2)), dict(steps=np.int16(2)),
    dict(seed=np.uint64(3)), dict(batch_size=np.int8(4)),
], ids=repr)
def test_numpy_scalars_are_taken_wherever_python_numbers_are(options):
    assert gzcodec.EncodeOptions(**options) == gzcodec.EncodeOptions(
        **{name: value.item() for name, value in options.items()})


@pytest.mark.parametrize("options", [dict(target_ssim=np.bool_(True)), dict(rate_weight=np.bool_(True)),
                                     dict(target_ssim=np.float32(1.5))], ids=repr)
def test_numpy_booleans_and_out_of_range_scalars_are_still_refused(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        gzcodec.EncodeOptions(**options)


def test_encode_takes_a_numpy_target_ssim(model, face):
    data = gzcodec.encode(face, model=model, target_ssim=np.float32(0.5))
    assert data == gzcodec.encode(face, model=model, target_ssim=0.5)


def test_encode_batch_refuses_a_bad_batch_size(model):
    with pytest.raises(ValueError, match="batch_size"):
        gzcodec.encode_batch([np.zeros((8, 8, 3), np.uint8)], model=model, batch_size=0)


@pytest.mark.parametrize("max_pixels", [0, -5, 2.5])
def test_decode_refuses_a_bad_max_pixels(face_gzl, max_pixels):
    with pytest.raises(ValueError, match="max_pixels"):
        gzcodec.decode(face_gzl, size="source", max_pixels=max_pixels)


# --------------------------------------------------------------------------- item 6


def test_save_checks_options_before_touching_the_target(face, tmp_path, model):
    keep = tmp_path / "keep.gzl"
    keep.write_bytes(b"precious")
    with pytest.raises(ValueError, match="bits"):
        gzcodec.save(face, keep, bits=99)
    assert keep.read_bytes() == b"precious"
    with pytest.raises(OutputExistsError):
        gzcodec.save(face, keep, force=False, steps=0)
    assert keep.read_bytes() == b"precious"
    keep.chmod(0o600)
    size = gzcodec.save(face, keep, bits=3, steps=0, model=model)
    assert size == keep.stat().st_size and gzcodec.read_header(keep).bits == 3
    assert keep.stat().st_mode & 0o777 == 0o600


def test_image_save_with_a_bad_option_leaves_no_new_file(face, tmp_path):
    # Pillow deletes a file its save created; an existing one it has already truncated
    # (documented in GzlImagePlugin: use gzcodec.save to replace files safely).
    with pytest.raises(ValueError, match="bits"):
        face.save(tmp_path / "new.gzl", bits=99)
    assert not (tmp_path / "new.gzl").exists()
    buffer = io.BytesIO()
    with pytest.raises(ValueError, match="steps"):
        face.save(buffer, "GZL", steps=-1)
    assert buffer.getvalue() == b""


def test_pillow_keeps_reading_gzl_from_paths(face_gzl, tmp_path):
    (tmp_path / "x.gzl").write_bytes(face_gzl)
    with Image.open(tmp_path / "x.gzl") as im:
        assert im.size == (128, 128)
