"""The Pillow plugin: lazy open, load, save, paths and file objects, Pillow-style errors."""

from __future__ import annotations

import io

import pytest
from PIL import Image, UnidentifiedImageError

import gzcodec
from gzcodec import codec

from .conftest import FACE128


def test_open_reads_only_the_header(face_gzl, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("decoded at open time")

    monkeypatch.setattr(codec, "decode", must_not_run)
    with Image.open(io.BytesIO(face_gzl)) as im:
        assert (im.format, im.size, im.mode) == ("GZL", (128, 128), "RGB")
        assert im.info["bits"] == im.info["rate"] == 6
        assert im.info["format_version"] == 2
        assert im.info["model_id"] == gzcodec.read_header(face_gzl).model_id_hex


def test_open_reads_version_1_files_too():
    from pathlib import Path

    golden = Path(__file__).resolve().parent / "golden" / "astronaut-b6.gzl"
    with Image.open(golden) as im:
        assert (im.size, im.info["format_version"], im.info["bits"]) == ((128, 128), 1, 6)
        assert len(im.info["model_id"]) == 12
        im.load()


def test_load_decodes_like_the_api(face_gzl, tmp_path):
    path = tmp_path / "face.gzl"
    path.write_bytes(face_gzl)
    expected = gzcodec.decode(face_gzl).tobytes()
    with Image.open(path) as im:
        assert im.tobytes() == expected
    with open(path, "rb") as f, Image.open(f) as im:
        assert im.tobytes() == expected


def test_save_to_a_file_object_with_options(face):
    buffer = io.BytesIO()
    face.save(buffer, "GZL", bits=3, steps=2, model=FACE128, format_version=1)
    data = buffer.getvalue()
    header = gzcodec.read_header(data)
    assert (header.bits, header.version) == (3, 1)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.size == (128, 128)


def test_save_by_extension(face, tmp_path, default_model):
    from gzcodec.rate import bits_to_rate

    face.save(tmp_path / "x.gzl", steps=1)
    header = gzcodec.read_header((tmp_path / "x.gzl").read_bytes())
    assert default_model.id.startswith(header.model_id_hex)
    assert header.rate == bits_to_rate(gzcodec.DEFAULT_BITS)


#: A value other than the default for every field of EncodeOptions.
_NOT_DEFAULT = dict(bits=3, rate=3, max_bytes=400, target_ssim=0.9, effort="none", steps=2,
                    loss="l1", seed=5, rate_weight=0.5, coding=gzcodec.Coding.ZSTD,
                    format_version=1, batch_size=2)


def test_save_takes_every_keyword_of_encode(face, monkeypatch):
    import dataclasses
    import inspect

    fields = [field.name for field in dataclasses.fields(gzcodec.EncodeOptions)]
    assert sorted(_NOT_DEFAULT) == sorted(fields)  # a new field needs a value here
    keywords = [p.name for p in inspect.signature(gzcodec.encode).parameters.values()
                if p.kind == p.KEYWORD_ONLY]
    # align: not an encode option but a different input (a photo's face), passed as given.
    assert set(keywords) <= {"model", "options", "align", *fields}
    passed = []

    def encode(image, **keywords):
        passed.append(keywords)
        return b""

    monkeypatch.setattr(codec, "encode", encode)
    model = object()
    for name, value in _NOT_DEFAULT.items():
        face.save(io.BytesIO(), "GZL", model=model, **{name: value}, not_an_encode_option=1)
        assert passed.pop() == dict(model=model, options=gzcodec.EncodeOptions(**{name: value}))
    options = gzcodec.EncodeOptions(rate=3, effort="none")
    face.save(io.BytesIO(), "GZL", options=options)
    assert passed.pop()["options"] is options
    with pytest.raises(TypeError, match="not both"):
        face.save(io.BytesIO(), "GZL", options=options, seed=3)
    face.save(io.BytesIO(), "GZL", align=True)
    assert passed.pop() == dict(model=None, options=gzcodec.EncodeOptions(), align=True)


def test_save_refuses_bits_beside_rate_and_writes_nothing(face, tmp_path):
    # bits was silently ignored beside rate (issue 26, item 7).
    target = tmp_path / "face.gzl"
    for pair in (dict(bits=4, rate=3), dict(bits=4, max_bytes=500)):
        with pytest.raises(ValueError, match="not two of them"):
            face.save(target, **pair)
        with pytest.raises(ValueError, match="not two of them"):
            gzcodec.save(face, target, **pair)
    assert not target.exists() or target.stat().st_size == 0


def test_save_passes_the_options_of_v2_models(face):
    buffer = io.BytesIO()
    face.save(buffer, "GZL", rate=100, effort="none")
    assert gzcodec.read_header(buffer.getvalue()).rate == 100
    with pytest.raises(ValueError, match="effort"):
        face.save(io.BytesIO(), "GZL", effort="nope")


def test_extension_and_mime_are_registered():
    assert Image.registered_extensions()[".gzl"] == "GZL"
    assert Image.MIME["GZL"] == "image/x-gzl"


def test_not_a_gzl_file_is_unidentified():
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"GZL\x09 this is not a real file"))


def test_truncated_payload_fails_on_load_with_a_clear_error(face_gzl):
    with Image.open(io.BytesIO(face_gzl[:-5])) as im, pytest.raises(OSError, match="truncated"):
        im.load()


def test_the_header_in_info_counts_the_whole_payload_and_rate_has_bits_as_alias(face):
    # Image.open parses a partial read: its header once said 17 bytes for a 399-byte payload.
    from gzcodec.container import unpack

    data = gzcodec.encode(face, effort="none")
    header, payload = unpack(data)
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["gzl_header"].payload_length == len(payload) == header.payload_length
        assert im.info["rate"] == im.info["bits"] == header.rate
