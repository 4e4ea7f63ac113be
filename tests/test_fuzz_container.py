"""Fuzzing the container: every input ends in a decoded image or one documented error.

"Documented" means a :class:`gzcodec.GzcodecError` subclass (``spec/errors.md``);
through ``Image.open`` Pillow may also say :class:`PIL.UnidentifiedImageError`
for bytes without a valid header, which is its convention for plugins. Time
is bounded by Hypothesis's deadline and :func:`hard_timeout` (which interrupts
a hang), memory by the limits checked in ``test_limits.py``.

The first half needs no model (container and payload codings only); the
second runs mutated valid files through :func:`gzcodec.decode` and Pillow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image, UnidentifiedImageError

import gzcodec
from gzcodec.container import HEADER_SIZE, MAGIC, Coding, Header, pack, parse_header, unpack
from gzcodec.errors import FormatError, IntegrityError, TruncatedFileError
from gzcodec.payload import decode_payload, encode_payload

from .conftest import hard_timeout, scaled
from .hostile import (
    FIELDS,
    container_outcome,
    decode_outcome,
    fix_crc,
    get_field,
    gzl_like_bytes,
    mutations,
    pillow_outcome,
    set_field,
    synthetic_pmf,
)

# --------------------------------------------------------------------------- without a model


@st.composite
def valid_containers(draw) -> bytes:
    """Small but arbitrary valid files: any geometry, bits and coding, random symbols."""
    shape = tuple(draw(st.integers(1, 6)) for _ in range(3))
    bits = draw(st.integers(2, 16))
    coding = draw(st.sampled_from([Coding.RAW, Coding.ZSTD] + ([Coding.ANS] if bits <= 10 else [])))
    half = 1 << (bits - 1)
    symbols = np.array(draw(st.lists(st.integers(-half, half - 1), min_size=int(np.prod(shape)),
                                     max_size=int(np.prod(shape))))).reshape(shape)
    header = Header(model_id=draw(st.binary(min_size=6, max_size=6)),
                    width=draw(st.integers(1, 512)), height=draw(st.integers(1, 512)),
                    source_width=draw(st.integers(1, 0xFFFF)),
                    source_height=draw(st.integers(1, 0xFFFF)), latent_shape=shape, bits=bits,
                    step=draw(st.sampled_from([0.5, 0.25, 2.0, 1 / 64])), coding=coding)
    pmf = synthetic_pmf(header)
    return pack(header, encode_payload(symbols, bits=bits, coding=coding, pmf=pmf))


@settings(max_examples=scaled(400))
@given(gzl_like_bytes())
@example(b"")
@example(MAGIC)
@example(MAGIC + b"\x01")
@example(fix_crc(MAGIC + b"\x01" + bytes(HEADER_SIZE - 4)))
def test_random_bytes_parse_or_fail_with_a_format_error(data):
    with hard_timeout(5):
        assert container_outcome(data) in ("ok", "error")
        with contextlib.suppress(FormatError):
            parse_header(data)


@settings(max_examples=scaled(300))
@given(valid_containers())
# Found by this test: ANS coded a (1, 1, 1) latent to zero words, which the reader refused.
@example(b"GZL\x01\x02" + bytes(6) + b"\x00\x01\x00\x01\x00\x01\x00\x01\x01\x01\x01\x048\x00"
         b"\x00\x00\x97\xc9v<")
def test_valid_containers_round_trip(data):
    header, payload = unpack(data)
    assert pack(header, payload) == data
    assert container_outcome(data) == "ok"


@settings(max_examples=scaled(400))
@given(st.data())
def test_mutated_containers_decode_or_fail_with_a_format_error(data):
    base = data.draw(valid_containers(), label="base")
    mutated = data.draw(mutations(base), label="mutated")
    with hard_timeout(5):
        outcome = container_outcome(mutated)
    if mutated != base and outcome == "ok":
        # Without a recomputed CRC, damage must not go unnoticed.
        assert fix_crc(mutated) == mutated


def _sample(bits=6, coding=Coding.ZSTD, shape=(32, 8, 8)) -> bytes:
    rng = np.random.default_rng(bits)
    half = 1 << (bits - 1)
    symbols = rng.integers(-half, half, size=shape)
    header = Header(model_id=bytes(6), width=128, height=128, source_width=300, source_height=200,
                    latent_shape=shape, bits=bits, step=0.5, coding=coding)
    return pack(header, encode_payload(symbols, bits=bits, coding=coding,
                                       pmf=synthetic_pmf(header)))


@pytest.mark.parametrize("coding", list(Coding))
def test_truncation_at_every_offset_is_a_truncated_file_error(coding):
    data = _sample(coding=coding)
    for end in range(len(data)):
        with pytest.raises(FormatError) as err:
            unpack(data[:end])
        # Below the magic it is not recognisably ours; past it, it is truncated.
        assert isinstance(err.value, TruncatedFileError) == (end >= len(MAGIC)), end


@pytest.mark.parametrize("coding", list(Coding))
def test_every_single_bit_flip_is_detected(coding):
    data = _sample(bits=4, coding=coding)
    for pos in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            with pytest.raises(FormatError) as err:
                unpack(bytes(damaged))
            model_id = range(*FIELDS["model_id"][0:1], sum(FIELDS["model_id"]))
            if pos >= FIELDS["crc32"][0] or pos in model_id:
                # Fields without a range of their own: only the checksum can tell.
                assert isinstance(err.value, IntegrityError), (pos, bit, err.value)


@settings(max_examples=scaled(300))
@given(fields=st.binary(min_size=HEADER_SIZE - 8, max_size=HEADER_SIZE - 8),
       payload=st.binary(max_size=3000), honest_length=st.booleans())
def test_any_header_with_a_valid_crc_is_validated_not_trusted(fields, payload, honest_length):
    """Arbitrary field values that pass the CRC: the validation, not the checksum, must hold."""
    data = MAGIC + b"\x01" + fields + bytes(4) + payload
    if honest_length:
        data = set_field(data, "payload_length", len(payload))
    with hard_timeout(5):
        assert container_outcome(fix_crc(data)) in ("ok", "error")


def test_ans_payload_of_garbage_words_is_refused_or_decoded():
    header = Header(model_id=bytes(6), width=128, height=128, source_width=1, source_height=1,
                    latent_shape=(4, 8, 8), bits=6, step=0.5, coding=Coding.ANS)
    pmf = synthetic_pmf(header)
    rng = np.random.default_rng(0)
    for n in range(0, 64, 3):
        payload = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        try:
            symbols = decode_payload(payload, bits=6, shape=(4, 8, 8), coding=Coding.ANS, pmf=pmf)
        except FormatError:
            continue
        assert symbols.shape == (4, 8, 8)


# --------------------------------------------------------------------------- through the model


@pytest.fixture(scope="module")
def bases(valid_files):
    return list(valid_files.values())


@pytest.fixture(scope="module")
def size(model):
    return (model.config.image_size, model.config.image_size)


def _check_agreement(data: bytes, size) -> None:
    with hard_timeout(20):
        api = decode_outcome(data, size)
        pil = pillow_outcome(data, size)
    if pil[0] == "unidentified":
        assert api[0] == "error"
    else:
        # Pillow's load() and gzcodec.decode() agree on every input.
        assert pil == api


@settings(max_examples=scaled(40), deadline=None)
@given(st.data())
def test_mutated_files_decode_or_fail_with_a_documented_error(bases, size, data):
    base = data.draw(st.sampled_from(bases), label="base")
    _check_agreement(data.draw(mutations(base), label="mutated"), size)


@settings(max_examples=scaled(20), deadline=None)
@given(st.data())
def test_mutated_payloads_with_a_valid_crc_reach_the_generator(bases, size, data):
    """Damage behind a recomputed CRC: the payload decoders and the generator must cope."""
    base = data.draw(st.sampled_from(bases), label="base")
    payload = bytearray(base[HEADER_SIZE:])
    for _ in range(data.draw(st.integers(1, 8))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    _check_agreement(fix_crc(base[:HEADER_SIZE] + bytes(payload)), size)


@settings(max_examples=scaled(30), deadline=None)
@given(gzl_like_bytes())
def test_random_gzl_like_bytes_through_pillow(size, data):
    _check_agreement(data, size)


def test_truncated_valid_files_through_decode_and_pillow(valid_files, size):
    data = valid_files["ans6"]
    for end in range(len(data)):
        with pytest.raises(FormatError):
            gzcodec.decode(data[:end])
        try:
            im = Image.open(io.BytesIO(data[:end]))
        except UnidentifiedImageError:
            assert end < HEADER_SIZE
            continue
        with im, pytest.raises(TruncatedFileError):
            im.load()


def test_header_bit_flips_through_pillow(valid_files, size):
    data = valid_files["raw4"]
    for pos in range(HEADER_SIZE):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            outcome = pillow_outcome(bytes(damaged), size)
            assert outcome[0] in ("unidentified", "error"), (pos, bit)


@pytest.mark.parametrize("name", ["ans6", "zstd12"])
def test_every_field_set_to_an_extreme_with_a_valid_crc(valid_files, size, name):
    data = valid_files[name]
    for field, (_, nbytes) in FIELDS.items():
        if field in ("magic", "crc32"):
            continue
        top = (1 << (8 * nbytes)) - 1
        for value in (0, 1, top):
            _check_agreement(fix_crc(set_field(data, field, value)), size)


def test_swapped_latent_dimensions_are_a_model_mismatch(valid_files):
    data = valid_files["raw4"]
    c, h = get_field(data, "latent_channels"), get_field(data, "latent_height")
    swapped = fix_crc(set_field(set_field(data, "latent_channels", h), "latent_height", c))
    with pytest.raises(gzcodec.ModelMismatchError):
        gzcodec.decode(swapped)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_huge_quantization_step_still_gives_8_bit_pixels(valid_files):
    header, payload = unpack(valid_files["zstd12"])
    data = pack(dataclasses.replace(header, step=65504.0), payload)
    assert gzcodec.decode(data).size == (header.width, header.height)
