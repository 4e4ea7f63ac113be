"""The bench's gzcodec codec with a v2 (continuous-rate) model: rate indices as its setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import gzcodec
from gzcodec.bench.neural import GzcodecCodec

TINY = Path(__file__).resolve().parents[1] / "golden" / "context" / "tiny-v2.safetensors"


def test_a_v2_model_is_measured_on_rate_indices():
    codec = GzcodecCodec(TINY)
    assert codec.param_name == "rate"
    assert codec.param_values[0] == 0 and codec.param_values[-1] == 255
    assert len(codec.param_values) == 33
    image = Image.fromarray(np.full((64, 64, 3), 120, np.uint8))
    low, high = (codec.encode(image, param=r) for r in (0, 255))
    assert gzcodec.read_header(low).rate == 0 and gzcodec.read_header(high).rate == 255
    assert codec.decode(high).size == (64, 64)
    assert codec.info().to_json()["rate_ladder"] == list(codec.param_values)


def test_bits_given_to_a_v2_model_become_rate_indices():
    assert GzcodecCodec(TINY, bits=[2, 5, 8]).param_values == (0, 128, 255)


def test_several_models_are_keyed_by_name_or_by_id_when_names_clash():
    from gzcodec.bench.neural import gzcodec_codecs

    keys = [codec.name for codec in gzcodec_codecs(["face128", str(TINY)])]
    assert keys == ["gzcodec[face128]", f"gzcodec[{gzcodec.load_model(TINY).info.name}]"]
    same = gzcodec_codecs([str(TINY), str(TINY)])
    assert [codec.name for codec in same] == [f"gzcodec[{gzcodec.load_model(TINY).id[:8]}]"] * 2
