"""Hard limits, checked before anything is allocated.

* latent elements: :data:`gzcodec.container.MAX_LATENT_ELEMENTS`;
* image pixels: Pillow's decompression-bomb rule (warn above
  ``PIL.Image.MAX_IMAGE_PIXELS``, refuse above twice that), for the header's
  image size and for ``decode(size="source")``;
* payload bytes: at most 65,535 (a 16-bit length in version 1, the rest of
  the file in version 2), and no reader ever reads more than
  :data:`gzcodec.container.MAX_FILE_BYTES`;
* version 2 varints: at most 4 bytes, so sizes stay below 2**28 and a
  varint that never ends is refused after 4 bytes;
* zstd is always told the maximum output size, and a frame that declares a
  larger one is refused before zstd allocates it.

Peak memory is measured with :mod:`tracemalloc`, which sees numpy's and
python-zstandard's buffers.
"""

from __future__ import annotations

import dataclasses
import io
import tracemalloc
import types
import warnings

import numpy as np
import pytest
import zstandard
from PIL import Image, UnidentifiedImageError

import gzcodec
from gzcodec import payload as payload_module
from gzcodec.container import (
    HEADER_SIZE,
    MAX_FILE_BYTES,
    MAX_LATENT_ELEMENTS,
    MAX_PAYLOAD_BYTES,
    Coding,
    Header,
    HeaderV2,
    check_pixels,
    pack,
    parse_header,
    read_file,
    unpack,
)
from gzcodec.errors import FormatError, LimitError
from gzcodec.payload import decode_payload, encode_payload

from .hostile import fix_crc, set_field

MB = 1 << 20
SMALL = Header(model_id=bytes(6), width=128, height=128, source_width=300, source_height=200,
               latent_shape=(32, 8, 8), bits=6, step=0.5, coding=Coding.ZSTD)


def _peak(fn, *args, **kwargs) -> tuple[int, object]:
    """Peak traced bytes while ``fn`` runs, and its result (or the exception it raised)."""
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:  # returned for the caller to check
        result = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, result


def _zstd_frame(n_bytes: int, *, content_size: bool) -> bytes:
    compressor = zstandard.ZstdCompressor(level=3, write_content_size=content_size)
    return compressor.compress(b"\0" * n_bytes)


# --------------------------------------------------------------------------- latent elements


def test_latent_over_the_limit_is_refused_from_the_header_alone():
    data = fix_crc(set_field(set_field(set_field(pack(SMALL, b"x"), "latent_channels", 255),
                                       "latent_height", 255), "latent_width", 255))
    assert MAX_LATENT_ELEMENTS < 255**3
    peak, result = _peak(unpack, data)
    assert isinstance(result, LimitError) and "elements" in str(result)
    assert peak < MB


def test_largest_latent_allowed_decodes_within_a_bounded_budget():
    shape = (16, 255, 255)
    assert np.prod(shape) <= MAX_LATENT_ELEMENTS
    symbols = np.zeros(shape, np.int64)
    data = pack(dataclasses.replace(SMALL, latent_shape=shape, bits=2),
                encode_payload(symbols, bits=2, coding=Coding.ZSTD))
    header, payload = unpack(data)
    peak, result = _peak(decode_payload, payload, bits=2, shape=shape, coding=Coding.ZSTD)
    assert isinstance(result, np.ndarray) and result.shape == shape
    # int64 symbols plus one temporary copy and the 1-byte zstd output: about 17 bytes each.
    assert peak < 24 * MAX_LATENT_ELEMENTS


# --------------------------------------------------------------------------- zstd


@pytest.mark.parametrize("content_size", [False, True])
def test_zstd_bomb_is_refused_without_allocating_its_output(content_size):
    bomb = _zstd_frame(256 * MB, content_size=content_size)
    assert len(bomb) <= MAX_PAYLOAD_BYTES
    data = pack(SMALL, bomb)  # a perfectly valid container around it
    _, payload = unpack(data)
    peak, result = _peak(decode_payload, payload, bits=6, shape=(32, 8, 8), coding=Coding.ZSTD)
    assert isinstance(result, FormatError), result
    assert peak < MB, f"{peak} bytes allocated for a 2 KB latent"


def test_declared_content_size_that_is_too_large_is_refused_before_decompression():
    frame = _zstd_frame(3 * 2048, content_size=True)
    with pytest.raises(FormatError, match="declares 6144 bytes, expected 2048"):
        decode_payload(frame, bits=6, shape=(32, 8, 8), coding=Coding.ZSTD)


def test_an_honest_content_size_is_accepted():
    frame = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(range(32)) * 64)
    assert decode_payload(frame, bits=6, shape=(32, 8, 8), coding=Coding.ZSTD).shape == (32, 8, 8)


def test_zstd_is_always_told_the_maximum_output_size(monkeypatch):
    calls = []

    class Recorder:
        def __init__(self, *args, **kwargs):
            self._inner = zstandard.ZstdDecompressor(*args, **kwargs)

        def decompress(self, data, *args, **kwargs):
            calls.append(kwargs.get("max_output_size", args[0] if args else None))
            return self._inner.decompress(data, *args, **kwargs)

        def __getattr__(self, name):
            raise AssertionError(f"payload decoding used ZstdDecompressor.{name}")

    fake = types.SimpleNamespace(**{k: getattr(zstandard, k) for k in dir(zstandard)
                                    if not k.startswith("__")})
    fake.ZstdDecompressor = Recorder
    monkeypatch.setattr(payload_module, "zstandard", fake)
    for bits, shape in [(6, (32, 8, 8)), (12, (3, 5, 7))]:
        symbols = np.ones(shape, np.int64)
        coded = encode_payload(symbols, bits=bits, coding=Coding.ZSTD)
        decode_payload(coded, bits=bits, shape=shape, coding=Coding.ZSTD)
    assert calls == [32 * 8 * 8, 3 * 5 * 7 * 2]


# --------------------------------------------------------------------------- image pixels


def test_header_image_size_follows_pillows_decompression_bomb_rule(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    ok = pack(dataclasses.replace(SMALL, width=100, height=100), b"x")
    assert parse_header(ok).width == 100
    # Between the limit and twice it Pillow warns when it opens the file (and the model refuses it).
    warned = pack(dataclasses.replace(SMALL, width=150, height=100), b"x")
    with pytest.warns(Image.DecompressionBombWarning), Image.open(io.BytesIO(warned)) as im:
        assert im.size == (150, 100)
    with pytest.raises(LimitError, match="20000"):
        pack(dataclasses.replace(SMALL, width=201, height=100), b"x")
    bomb = fix_crc(set_field(ok, "width", 201))
    with pytest.raises(LimitError):
        parse_header(bomb)
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(bomb))


def test_maximal_header_size_is_refused_at_default_limits():
    data = fix_crc(set_field(set_field(pack(SMALL, b"x"), "width", 0xFFFF), "height", 0xFFFF))
    with pytest.raises(LimitError):
        unpack(data)
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))


def test_pixel_limit_can_be_disabled_like_pillows(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    check_pixels(0xFFFF, 0xFFFF)


def test_source_size_decode_is_bounded(valid_files, monkeypatch):
    header, payload = unpack(valid_files["raw4"])
    huge = pack(dataclasses.replace(header, source_width=0xFFFF, source_height=0xFFFF), payload)
    with pytest.raises(LimitError, match="source-size image"):
        gzcodec.decode(huge, size="source")
    assert gzcodec.decode(huge).size == (header.width, header.height)  # the model size is fine

    # Issue 11 item 17: a source size over Pillow's warning threshold is refused outright
    # (no warn-only band): the caller must ask for it with max_pixels.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150 * 150)
    within = pack(dataclasses.replace(header, source_width=200, source_height=150), payload)
    assert gzcodec.decode(within, size="source").size == (150, 150)
    near = pack(dataclasses.replace(header, source_width=200, source_height=180), payload)
    with pytest.raises(LimitError, match="max_pixels"):
        gzcodec.decode(near, size="source")
    assert gzcodec.decode(near, size="source", max_pixels=180 * 180).size == (180, 180)
    with pytest.raises(LimitError, match="max_pixels"):
        gzcodec.decode(near, size="source", max_pixels=179 * 180)


# --------------------------------------------------------------------------- payload and file bytes


def test_payload_longer_than_the_length_field_is_refused():
    with pytest.raises(LimitError):
        pack(SMALL, bytes(MAX_PAYLOAD_BYTES + 1))
    data = pack(SMALL, bytes(MAX_PAYLOAD_BYTES))
    assert len(data) == MAX_FILE_BYTES


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.largest_read = 0

    def read(self, size=-1):
        out = super().read(size)
        self.largest_read = max(self.largest_read, len(out))
        return out


@pytest.mark.parametrize(("name", "message"), [("v1-ans6", "unexpected bytes"),
                                               ("range6", r"payload of \d+ bytes exceeds 65535")])
def test_pillow_never_reads_more_than_a_gzl_can_hold(valid_files, name, message):
    f = CountingReader(valid_files[name] + bytes(8 * MB))
    with Image.open(f) as im, pytest.raises(FormatError, match=message):
        im.load()
    assert f.largest_read <= MAX_FILE_BYTES + 1


def test_v2_payload_longer_than_the_limit_is_refused():
    header = HeaderV2(model_id=bytes(4), width=128, height=128, source_width=128,
                      source_height=128, rate=6, coding=Coding.ZSTD)
    with pytest.raises(LimitError):
        pack(header, bytes(MAX_PAYLOAD_BYTES + 1))
    data = pack(header, bytes(MAX_PAYLOAD_BYTES))
    assert unpack(data)[0].payload_length == MAX_PAYLOAD_BYTES
    with pytest.raises(LimitError, match="exceeds 65535"):
        unpack(fix_crc(data + b"\0"))


def test_v2_image_size_follows_pillows_decompression_bomb_rule(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    header = HeaderV2(model_id=bytes(4), width=150, height=100, source_width=150,
                      source_height=100, rate=6, coding=Coding.ZSTD)
    with pytest.warns(Image.DecompressionBombWarning), Image.open(io.BytesIO(pack(header, b"x"))) as im:
        assert im.size == (150, 100)
    with pytest.raises(LimitError):
        pack(dataclasses.replace(header, width=201), b"x")
    # Varint sizes near 2**28: refused from the header alone, before anything is allocated.
    forged = fix_crc(b"GZL\x02\x01" + bytes(4) + b"\x06" + b"\xff\xff\xff\x7f" * 2 + bytes(4) + b"x")
    peak, result = _peak(unpack, forged)
    assert isinstance(result, LimitError) and peak < MB
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(forged))


def test_read_file_refuses_oversized_files(tmp_path, valid_files):
    path = tmp_path / "x.gzl"
    path.write_bytes(valid_files["range6"])
    assert read_file(path) == valid_files["range6"]
    path.write_bytes(valid_files["range6"] + bytes(MAX_FILE_BYTES))
    with pytest.raises(LimitError, match="longer than"):
        read_file(path)
    path.write_bytes(b"\x89PNG\r\n" + bytes(100))
    with pytest.raises(FormatError, match="not a .gzl file"):
        read_file(path)


def test_every_limit_error_is_also_a_format_error_and_an_oserror():
    assert issubclass(LimitError, FormatError) and issubclass(LimitError, OSError)


def test_header_needs_only_header_bytes():
    data = pack(SMALL, b"x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_header(data[:HEADER_SIZE]).payload_length == 1


# --------------------------------------------------------------------------- issue 11, item 13


@pytest.mark.parametrize("extra", ["second-frame", "junk", "zeros", "skippable-frame"])
@pytest.mark.parametrize("checksum", [False, True])
def test_zstd_payload_is_exactly_one_frame(extra, checksum):
    shape = (32, 8, 8)
    symbols = np.random.default_rng(3).integers(-8, 8, shape)
    frame = zstandard.ZstdCompressor(level=19, write_content_size=False,
                                     write_checksum=checksum).compress(
        (symbols + 128).astype(np.uint8).tobytes())
    assert (decode_payload(frame, bits=8, shape=shape, coding=Coding.ZSTD) == symbols).all()
    tail = {"second-frame": frame, "junk": b"junk", "zeros": bytes(60_000),
            "skippable-frame": (0x184D2A50).to_bytes(4, "little") + (4).to_bytes(4, "little") + b"abcd",
            }[extra]
    with pytest.raises(FormatError, match=f"{len(tail)} unexpected bytes after the zstd frame"):
        decode_payload(frame + tail, bits=8, shape=shape, coding=Coding.ZSTD)


def test_a_file_with_two_zstd_frames_is_refused(valid_files):
    header, payload = unpack(valid_files["zstd8"])
    doubled = pack(header, payload + payload)
    with pytest.raises(FormatError, match="unexpected bytes after the zstd frame"):
        gzcodec.decode(doubled)
