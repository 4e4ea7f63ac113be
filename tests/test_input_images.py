"""Input images: each kind is converted as documented (``gzcodec.imageio``) or refused in one line.

Rules under test: EXIF orientation applied first; any mode to RGB; alpha
composited over white with a :class:`UserWarning` (palette images only warn
when they have transparency); 16-bit scaled to 8 bits over the full range;
the largest centred square cropped and resized; Pillow's decompression-bomb
rule for very large files; unreadable, truncated or non-image files raise
:class:`gzcodec.ImageInputError` whose message is one line naming the file.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.errors import ImageInputError
from gzcodec.imageio import as_image, load_image, read_model_input, to_model_input

SIZE = 16


def _png(width: int, height: int, depth: int, color_type: int, rows: bytes | None) -> bytes:
    """A PNG written by hand (Pillow cannot write 16-bit RGB or lie about its size)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows or b""))
            + chunk(b"IEND", b""))


def _convert(path_or_image, size: int = SIZE) -> tuple[np.ndarray, tuple[int, int]]:
    im = load_image(path_or_image) if isinstance(path_or_image, Path) else path_or_image
    return to_model_input(im, size)


def _one_line_refusal(path: Path, *words: str) -> None:
    with pytest.raises(ImageInputError) as err:
        _convert(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message


# --------------------------------------------------------------------------- modes


def test_grayscale_becomes_equal_rgb_channels(tmp_path):
    path = tmp_path / "gray.png"
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), "L").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arr, source = _convert(path)
    assert source == (16, 16)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    assert (arr[..., 0] == np.arange(256).reshape(16, 16)).all()


def test_rgba_alpha_is_dropped_over_white_with_a_warning(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:8, :, 3] = 255  # top opaque red, bottom fully transparent
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    with pytest.warns(UserWarning, match="alpha is dropped"):
        arr, _ = _convert(path)
    assert (arr[:8] == [255, 0, 0]).all() and (arr[8:] == [255, 255, 255]).all()


def test_gray_with_alpha_warns_too():
    with pytest.warns(UserWarning, match="alpha"):
        _convert(Image.new("LA", (4, 4)))


def test_palette_without_transparency_converts_silently(tmp_path):
    im = Image.fromarray(np.full((16, 16, 3), (10, 200, 30), np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE)
    path = tmp_path / "palette.png"
    im.save(path)
    assert Image.open(path).mode == "P"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arr, _ = _convert(path)
    assert (arr == [10, 200, 30]).all()


def test_palette_with_transparency_warns(tmp_path):
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0, 255, 0, 0])
    path = tmp_path / "transparent.gif"
    im.save(path, transparency=0)
    with pytest.warns(UserWarning, match="alpha"):
        arr, _ = _convert(path)
    assert (arr == 255).all()  # the transparent colour became white


def test_16_bit_grayscale_uses_the_full_range(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    path = tmp_path / "gray16.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    arr, _ = to_model_input(load_image(path).resize((4, 4), Image.Resampling.NEAREST), 4)
    assert arr[0, :, 0].tolist() == [0, 1, 127, 255]


@pytest.mark.parametrize("values", [[0, 70000], [-5, 200], [0, 2**31 - 1]])
def test_32_bit_integer_values_outside_16_bits_are_refused_not_saturated(tmp_path, values):
    # A mode-I TIFF over 65535 used to turn white (and below 0 black) without a word.
    path = tmp_path / "int32.tif"
    Image.fromarray(np.array([values], np.int32), "I").save(path)
    assert Image.open(path).mode == "I"
    with pytest.raises(ImageInputError, match=r"mode I.*0\.\.65535") as err:
        read_model_input(path, 4)
    assert "\n" not in str(err.value)


def test_32_bit_integer_values_within_16_bits_are_scaled_as_16_bit(tmp_path):
    path = tmp_path / "int32.tif"
    Image.fromarray(np.array([[0, 257, 32768, 65535]], np.int32), "I").save(path)
    arr, _ = to_model_input(load_image(path).resize((4, 4), Image.Resampling.NEAREST), 4)
    assert arr[0, :, 0].tolist() == [0, 1, 127, 255]


def test_16_bit_rgb_keeps_its_colours(tmp_path):
    pixel = struct.pack(">HHH", 65535, 32896, 0)
    rows = b"".join(b"\0" + pixel * 4 for _ in range(4))
    path = tmp_path / "rgb16.png"
    path.write_bytes(_png(4, 4, 16, 2, rows))
    arr, _ = _convert(path, 4)
    assert (arr == [255, 128, 0]).all()


def test_a_float_tiff_in_0_1_is_scaled_like_a_float_array(tmp_path):
    # A mode-F image (float TIFF) holds what a float array does: values in [0, 1].
    values = np.array([[0.0, 0.25, 0.5, 1.0]] * 4, np.float32)
    path = tmp_path / "float.tif"
    Image.fromarray(values, "F").save(path)
    assert Image.open(path).mode == "F"
    arr, _ = to_model_input(load_image(path), 4)
    assert arr[0, :, 0].tolist() == [0, 64, 128, 255]
    assert (arr == to_model_input(as_image(values), 4)[0]).all()


@pytest.mark.parametrize("values", [[0.0, 255.0], [-0.5, 0.5], [np.nan, 0.5]])
def test_a_float_tiff_outside_0_1_is_refused_like_a_float_array(tmp_path, values):
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([values], np.float32), "F").save(path)
    with pytest.raises(ImageInputError, match=r"mode F.* must hold values in \[0, 1\]") as err:
        read_model_input(path, 4)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_is_converted_like_pillow(tmp_path, suffix):
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    path = tmp_path / f"cmyk{suffix}"
    cmyk.save(path)
    arr, _ = _convert(path)
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.abs(arr.astype(int) - expected).max() <= 1
    assert arr[..., 0].mean() > 200 and arr[..., 1:].mean() < 60


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I",
                                  "F", "LA", "La", "PA", "RGBX", "RGBa", "I;16", "I;16L", "I;16B",
                                  "I;16N"])
def test_every_pillow_mode_is_converted_or_refused_in_one_line(mode):
    try:
        im = Image.new(mode, (5, 3))
    except (ValueError, OSError):
        pytest.skip(f"this Pillow cannot make {mode} images")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            arr, source = to_model_input(im, SIZE)
    except ImageInputError as exc:
        assert "\n" not in str(exc) and mode in str(exc)
        return
    assert arr.shape == (SIZE, SIZE, 3) and arr.dtype == np.uint8 and source == (5, 3)


# --------------------------------------------------------------------------- geometry


def _half_red(width: int, height: int) -> Image.Image:
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = [255, 0, 0]
    arr[:, width // 2:] = [0, 0, 255]
    return Image.fromarray(arr)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_exif_orientation_is_applied_first(tmp_path, suffix):
    path = tmp_path / f"rotated{suffix}"
    im = _half_red(64, 32)  # left half red, stored sideways
    if suffix == ".tif":
        im.save(path, tiffinfo={0x0112: 6})
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
        im.save(path, exif=exif.tobytes(), quality=95)
    arr, source = _convert(path)
    assert source == (32, 64)  # upright: taller than wide
    top, bottom = arr[: SIZE // 2].astype(int), arr[SIZE // 2:].astype(int)
    assert top[..., 0].mean() > 200 and top[..., 2].mean() < 60  # the left half is now on top
    assert bottom[..., 2].mean() > 200 and bottom[..., 0].mean() < 60


def test_non_square_images_are_centre_cropped():
    arr, source = to_model_input(_half_red(64, 16), SIZE)
    assert source == (64, 16)
    assert np.abs(arr[:, : SIZE // 2].astype(int) - [255, 0, 0]).max() <= 2
    assert np.abs(arr[:, SIZE // 2:].astype(int) - [0, 0, 255]).max() <= 2


def test_one_pixel_image_fills_the_model_input(tmp_path):
    path = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (12, 34, 56)).save(path)
    arr, source = _convert(path, 128)
    assert source == (1, 1) and arr.shape == (128, 128, 3) and (arr == [12, 34, 56]).all()


def test_empty_image_is_refused():
    with pytest.raises(ImageInputError, match="no pixels"):
        to_model_input(Image.new("RGB", (0, 5)), SIZE)


def test_very_large_file_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png(100_000, 100_000, 8, 2, b"\0"))
    _one_line_refusal(path, "too large")


def test_large_files_follow_pillows_decompression_bomb_rule(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for side in (40, 50):
        Image.new("RGB", (side, side)).save(tmp_path / f"{side}.png")
    with pytest.warns(Image.DecompressionBombWarning):
        assert _convert(tmp_path / "40.png")[1] == (40, 40)
    _one_line_refusal(tmp_path / "50.png", "too large")


# --------------------------------------------------------------------------- unreadable input


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    _half_red(64, 64).save(buffer, "JPEG")
    return buffer.getvalue()


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name,data", [
    ("junk.png", b"this is not an image"),
    ("empty.png", b""),
    ("truncated.png", _png_bytes()[:300]),
    ("truncated.jpg", _jpeg_bytes()[:200]),
    ("headeronly.jpg", _jpeg_bytes()[:20]),
    ("lying.png", _png(64, 64, 8, 2, b"\0" * 10)),
])
def test_unreadable_files_are_refused_in_one_line(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    _one_line_refusal(path, "cannot read image")


def test_missing_file_is_refused(tmp_path):
    _one_line_refusal(tmp_path / "missing.png", "cannot read image")


@pytest.mark.parametrize("array", [
    np.full((8, 8, 3), 2.0), np.full((8, 8, 3), -0.5), np.full((8, 8), np.nan, np.float32),
    np.zeros((8, 8, 7), np.uint8), np.zeros((2, 2, 2, 2), np.uint8), np.zeros((8, 8, 7), np.float64),
    np.array(["a", "b"]),
])
def test_arrays_that_are_not_images_are_refused(array):
    with pytest.raises(ImageInputError):
        to_model_input(as_image(array), SIZE)


def test_image_arrays_of_any_layout_are_converted():
    with pytest.warns(UserWarning):
        assert to_model_input(as_image(np.zeros((8, 8, 4), np.uint8)), SIZE)[0].shape == (16, 16, 3)
    for array in (np.zeros((8, 8), np.uint8), np.zeros((8, 8), bool), np.zeros((8, 8, 3), np.uint8)):
        assert to_model_input(as_image(array), SIZE)[0].shape == (16, 16, 3)


@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_arrays_are_scaled_like_16_bit_gray(channels):
    # As a 2-D uint16 array (an I;16 image): 65535 -> 255, so v * 257 -> v.
    rng = np.random.default_rng(0)
    rgb8 = rng.integers(0, 256, (8, 8, channels), dtype=np.uint8)
    rgb8[..., 3:] = 255  # opaque: the alpha warning aside, the colours must match
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        got = to_model_input(as_image(rgb8.astype(np.uint16) * 257), SIZE)[0]
        want = to_model_input(as_image(rgb8), SIZE)[0]
    assert (got == want).all()
    big_endian = (rgb8.astype(np.uint16) * 257).astype(">u2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert (to_model_input(as_image(big_endian), SIZE)[0] == want).all()


def test_cli_reports_a_truncated_jpeg_in_one_line(tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(_jpeg_bytes()[:200])
    result = CliRunner().invoke(app, ["encode", str(path), "-q", "--steps", "0"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error:")
    assert str(path) in result.output and not (tmp_path / "cut.gzl").exists()


def test_encode_refuses_unconvertible_images_with_an_image_input_error(model):
    with pytest.raises(ImageInputError):
        gzcodec.encode(np.zeros((4, 4, 7), np.uint8), model=model, steps=0)


def test_model_input_takes_every_kind_encode_takes(tmp_path):
    from gzcodec.imageio import ModelInput, model_input

    photo = Image.new("RGB", (40, 30), (200, 100, 50))
    photo.save(tmp_path / "p.png")
    expected = model_input(photo, SIZE)
    assert isinstance(expected, ModelInput) and expected.source == (40, 30)
    for given in (tmp_path / "p.png", str(tmp_path / "p.png"), io.BytesIO((tmp_path / "p.png").read_bytes()),
                  np.asarray(photo)):
        got = model_input(given, SIZE)
        assert got.source == (40, 30) and np.array_equal(got.pixels, expected.pixels)
    assert model_input(expected, SIZE) is expected
    with pytest.raises(ValueError, match="the model takes"):
        model_input(expected, 2 * SIZE)
    with pytest.raises(ImageInputError, match="cannot encode a bytes"):
        model_input(b"\x89PNG", SIZE)


def test_tensor_pixels_round_half_up_as_the_decoder_always_has():
    torch = pytest.importorskip("torch")
    from gzcodec.imageio import tensor_to_pixels, unit_to_uint8

    x = torch.rand((2, 3, 8, 5), generator=torch.Generator().manual_seed(0))
    expected = (x.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(tensor_to_pixels(x), expected)
    assert np.array_equal(tensor_to_pixels(x[0]), expected[0])  # one image: (H, W, 3)
    assert tensor_to_pixels(torch.tensor([-1.0, 2.0]).view(1, 2, 1).expand(3, 2, 1)).tolist() == [
        [[0, 0, 0]], [[255, 255, 255]]]  # clamped, not wrapped
    assert unit_to_uint8(np.array([0.5 / 255, 1.5 / 255])).tolist() == [1, 2]  # halves go up
