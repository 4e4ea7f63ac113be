"""Golden files of a v2 (context) model: bit-exact symbols at any thread count, stable pixels.

The files and the tiny model that made them are in ``tests/golden/context/``
(``make_golden.py`` there regenerates them). A context model's decoder feeds
each decoded slice back into a network to get the next slice's tables, so a
decoder that differs in one table index from the encoder decodes garbage
from there on: this pins the decoded symbols bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import gzcodec
from gzcodec.codec import decode_symbols
from gzcodec.errors import GzcodecError
from gzcodec.testing import with_valid_crc
from gzcodec.threads import torch_threads

from .conftest import hard_timeout

GOLDEN = Path(__file__).resolve().parent / "golden" / "context"
RECORD = json.loads((GOLDEN / "golden.json").read_text())
NAMES = sorted(RECORD["files"])


@pytest.fixture(scope="module")
def tiny():
    model = gzcodec.load_model(GOLDEN / RECORD["model"])
    assert model.id == RECORD["model_id"], "tiny-v2.safetensors changed: regenerate the goldens"
    return model


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_symbols_are_decoded_bit_for_bit(tiny, name, threads):
    data = (GOLDEN / f"{name}.gzl").read_bytes()
    with torch_threads(threads):
        symbols = decode_symbols(data, tiny).symbols
    digest = hashlib.sha256(symbols.astype("<i8").tobytes()).hexdigest()
    assert digest == RECORD["files"][name]["symbols_sha256"]


@pytest.mark.parametrize("name", NAMES)
def test_pixels_are_within_one_level(tiny, name):
    data = (GOLDEN / f"{name}.gzl").read_bytes()
    decoded = np.asarray(gzcodec.decode(data, model=tiny), np.int16)
    expected = np.asarray(Image.open(GOLDEN / f"{name}.png"), np.int16)
    assert np.abs(decoded - expected).max() <= 1


def test_the_files_name_the_rate_and_source_they_were_made_with(tiny):
    for name, entry in RECORD["files"].items():
        header = gzcodec.read_header((GOLDEN / f"{name}.gzl").read_bytes())
        assert header.version == 2 and header.rate == entry["rate"]
        assert header.has_source_size == ("source" in name)


def test_the_golden_files_are_re_encoded_identically(tiny):
    from skimage import data as samples

    face = Image.fromarray(np.ascontiguousarray(samples.astronaut()[20:220, 150:350]))
    small = face.resize((64, 64), Image.Resampling.LANCZOS)
    again = gzcodec.encode(small, model=tiny, rate=128, steps=4)
    assert again == (GOLDEN / "tiny-r128.gzl").read_bytes()


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_damaged_payloads_behind_a_valid_crc_decode_or_fail_cleanly(tiny, data):
    """The context decoder reads garbage: it must stop with a FormatError or give an image."""
    name = data.draw(st.sampled_from(NAMES), label="file")
    base = (GOLDEN / f"{name}.gzl").read_bytes()
    start = gzcodec.read_header(base).header_size
    payload = bytearray(base[start:])
    for _ in range(data.draw(st.integers(1, 6))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans(), label="truncate"):
        payload = payload[:data.draw(st.integers(0, len(payload)))]
    damaged = with_valid_crc(base[:start] + bytes(payload))
    with hard_timeout(20):
        try:
            image = gzcodec.decode(damaged, model=tiny)
        except GzcodecError:
            return
    assert image.size == (64, 64) and image.mode == "RGB"
