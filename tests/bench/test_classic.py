"""The classic codecs (gzcodec.bench.classic)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gzcodec.bench.classic import (
    AvifCodec,
    JpegCodec,
    JxlCodec,
    KnnCodec,
    ScaledCodec,
    WebpCodec,
    classic_codecs,
)
from gzcodec.bench.interface import Codec
from gzcodec.bench.metrics import psnr


def test_knn_codec_is_a_four_colour_palette_png(face):
    codec = KnnCodec()
    data = codec.encode(face, param=4)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[24] == 2  # IHDR bit depth: 2-bit palette indices
    with Image.open(io.BytesIO(data)) as png:
        assert png.mode == "P"
    decoded = np.asarray(codec.decode(data))
    assert decoded.shape == (128, 128, 3)
    assert len(np.unique(decoded.reshape(-1, 3), axis=0)) <= 4
    assert codec.encode(face, param=4) == data  # seeded k-means: reproducible files


@pytest.mark.parametrize("codec", [JpegCodec(), WebpCodec(), AvifCodec(), JxlCodec(), KnnCodec()])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_classic_codecs_round_trip_at_full_size(face, codec, scale):
    variant: Codec = codec if scale == 1.0 else ScaledCodec(codec, scale)
    param = variant.param_values[len(variant.param_values) // 2]
    data = variant.encode(face, param=param)
    out = variant.decode(data)
    assert out.size == (128, 128) and out.mode == "RGB"
    assert psnr(np.asarray(face), np.asarray(out)) > 18


def test_classic_codecs_cover_every_family_and_scale():
    codecs = classic_codecs()
    assert {c.family for c in codecs} == {"jpeg", "webp", "avif", "jxl", "knn"}
    assert len({c.name for c in codecs}) == len(codecs) == 15
    assert all(isinstance(c, Codec) for c in codecs)
    assert ScaledCodec(WebpCodec(), 0.75).name == "webp@0.75"
