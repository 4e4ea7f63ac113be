"""Fuzzing the container (both versions): every input ends in a decoded image or one documented error.

"Documented" means a :class:`gzcodec.GzcodecError` subclass (``spec/errors.md``);
through ``Image.open`` Pillow may also say :class:`PIL.UnidentifiedImageError`
for bytes without a valid header, which is its convention for plugins. Time
is bounded by Hypothesis's deadline and :func:`hard_timeout` (which interrupts
a hang), memory by the limits checked in ``test_limits.py``.

The first half needs no model (container and payload codings only); the
second runs mutated valid files through :func:`gzcodec.decode` and Pillow; the
last gives decode the same files as text forms and QR pictures, and random
text and pictures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image, UnidentifiedImageError

import gzcodec
from gzcodec.container import (
    HEADER_SIZE,
    MAGIC,
    MAX_SIZE,
    Coding,
    Header,
    HeaderV2,
    pack,
    parse_header,
    unpack,
)
from gzcodec.errors import (
    FormatError,
    IntegrityError,
    LimitError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from gzcodec.payload import SymbolWriter, decode_payload, encode_payload
from gzcodec.testing import lenient_header_size
from gzcodec.textform import to_text

from .conftest import hard_timeout, scaled
from .hostile import (
    FIELDS,
    V2_SHAPE,
    container_outcome,
    decode_outcome,
    fix_crc,
    get_field,
    gzl_like_bytes,
    mutations,
    pillow_outcome,
    set_field,
    synthetic_pmf,
    synthetic_prior,
)

# --------------------------------------------------------------------------- without a model


@st.composite
def valid_v2_containers(draw) -> bytes:
    """Valid version 2 files: any sizes (codes and varints), rate and coding, random symbols of
    :data:`V2_SHAPE` (range payloads under :func:`synthetic_prior`)."""
    bits = draw(st.integers(2, 16))
    coding = draw(st.sampled_from([Coding.RAW, Coding.ZSTD] + ([Coding.RANGE] if bits <= 10 else [])))
    half = 1 << (bits - 1)
    n = int(np.prod(V2_SHAPE))
    symbols = np.array(draw(st.lists(st.integers(-half, half - 1), min_size=n, max_size=n)),
                       np.int64).reshape(V2_SHAPE)
    size = st.one_of(st.sampled_from([1, 16, 127, 128, 129, 16384]), st.integers(1, MAX_SIZE))
    square = draw(st.booleans())
    width = draw(st.one_of(st.sampled_from([16, 64, 128, 1024]), st.integers(1, 2048)))
    height = width if square else draw(st.integers(1, 2048))
    source = draw(st.one_of(st.just((width, height)), st.tuples(size, size)))
    header = HeaderV2(model_id=draw(st.binary(min_size=4, max_size=4)), width=width, height=height,
                      source_width=source[0], source_height=source[1], rate=bits, coding=coding)
    if coding == Coding.RANGE:
        writer = SymbolWriter()
        synthetic_prior().write_symbols(symbols, writer, rate=bits)
        payload = writer.finish()
    else:
        payload = encode_payload(symbols, bits=bits, coding=coding)
    return pack(header, payload)


@st.composite
def valid_v1_containers(draw) -> bytes:
    """Small but arbitrary valid version 1 files: any geometry, bits and coding, random symbols."""
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


def valid_containers() -> st.SearchStrategy[bytes]:
    return st.one_of(valid_v2_containers(), valid_v1_containers())


@settings(max_examples=scaled(400))
@given(gzl_like_bytes())
@example(b"")
@example(MAGIC)
@example(MAGIC + b"\x01")
@example(fix_crc(MAGIC + b"\x01" + bytes(HEADER_SIZE - 4)))
@example(MAGIC + b"\x02\x00" + bytes(5) + b"\xff" * 20)  # varints that never end
@example(MAGIC + b"\x02\x20" + bytes(5))  # flags promise a source size that is not there
@example(fix_crc(MAGIC + b"\x02\x00" + bytes(5) + b"\xff\xff\xff\x7f" * 2 + bytes(4)))  # 2^28-1 sides
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
    """A version 1 file."""
    rng = np.random.default_rng(bits)
    half = 1 << (bits - 1)
    symbols = rng.integers(-half, half, size=shape)
    header = Header(model_id=bytes(6), width=128, height=128, source_width=300, source_height=200,
                    latent_shape=shape, bits=bits, step=0.5, coding=coding)
    return pack(header, encode_payload(symbols, bits=bits, coding=coding,
                                       pmf=synthetic_pmf(header)))


def _sample_v2(bits=6, coding=Coding.RANGE, source=(300, 200), size=(128, 128)) -> bytes:
    """A version 2 file of :data:`V2_SHAPE` (range payloads under :func:`synthetic_prior`)."""
    rng = np.random.default_rng(bits)
    half = 1 << (bits - 1)
    symbols = rng.integers(-half, half, size=V2_SHAPE)
    header = HeaderV2(model_id=bytes(4), width=size[0], height=size[1], source_width=source[0],
                      source_height=source[1], rate=bits, coding=coding)
    if coding == Coding.RANGE:
        writer = SymbolWriter()
        synthetic_prior().write_symbols(symbols, writer, rate=bits)
        return pack(header, writer.finish())
    return pack(header, encode_payload(symbols, bits=bits, coding=coding))


V1_CODINGS = [Coding.RAW, Coding.ZSTD, Coding.ANS]
V2_CODINGS = [Coding.RAW, Coding.ZSTD, Coding.RANGE]


@pytest.mark.parametrize("coding", V1_CODINGS)
def test_truncation_at_every_offset_is_a_truncated_file_error(coding):
    data = _sample(coding=coding)
    for end in range(len(data)):
        with pytest.raises(FormatError) as err:
            unpack(data[:end])
        # Below the magic it is not recognisably ours; past it, it is truncated.
        assert isinstance(err.value, TruncatedFileError) == (end >= len(MAGIC)), end


@pytest.mark.parametrize("coding", V2_CODINGS)
@pytest.mark.parametrize("sizes", [{}, {"source": (128, 128)}, {"size": (100, 60)}])
def test_v2_truncation_is_refused_at_every_offset(coding, sizes):
    """In the header: truncated; in the payload (which runs to the end of the file): the CRC."""
    data = _sample_v2(coding=coding, **sizes)
    end_of_header = lenient_header_size(data)
    assert end_of_header == {0: 18, 1: 14, 2: 20}[len(sizes) and 1 + ("size" in sizes)]
    for end in range(len(data)):
        with pytest.raises(FormatError) as err:
            unpack(data[:end])
        if end < len(MAGIC):
            assert type(err.value) is FormatError
        elif end < end_of_header:
            assert isinstance(err.value, TruncatedFileError), end
        else:
            assert isinstance(err.value, IntegrityError), end


def _assert_every_bit_flip_is_refused(data: bytes, only_the_checksum_tells: set[int]) -> None:
    """Every single bit flip of ``data`` fails :func:`unpack`; at the byte positions in
    ``only_the_checksum_tells`` with an :class:`IntegrityError`."""
    for pos in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            with pytest.raises(FormatError) as err:
                unpack(bytes(damaged))
            if pos in only_the_checksum_tells:
                assert isinstance(err.value, IntegrityError), (pos, bit, err.value)


@pytest.mark.parametrize("coding", V1_CODINGS)
def test_every_single_bit_flip_is_detected(coding):
    data = _sample(bits=4, coding=coding)
    model_id = range(*FIELDS["model_id"][0:1], sum(FIELDS["model_id"]))
    # Fields without a range of their own: only the checksum can tell.
    _assert_every_bit_flip_is_refused(data, {*model_id, *range(FIELDS["crc32"][0], len(data))})


@pytest.mark.parametrize("coding", V2_CODINGS)
def test_every_single_bit_flip_of_a_v2_file_is_detected(coding):
    data = _sample_v2(bits=4, coding=coding)
    # Model id, rate, CRC, payload: only the checksum can tell (varints, at 10..13, may also
    # break a varint rule first).
    _assert_every_bit_flip_is_refused(data, {*range(5, 10), *range(14, len(data))})


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


_VARINTS = st.one_of(
    st.integers(0, 2**40).map(lambda v: bytes(_leb128(v))),  # including too large
    st.sampled_from([b"\xff" * 8, b"\x80\x00", b"\x80\x80\x00", b"\xff\xff\xff\x7f", b"\x00",
                     b"\x80\x80\x80\x80\x00"]),
    st.binary(max_size=5),
)


def _leb128(value: int) -> bytearray:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return out


@settings(max_examples=scaled(400))
@given(flags=st.integers(0, 255), model_id=st.binary(min_size=4, max_size=4), rate=st.integers(0, 255),
       varints=st.lists(_VARINTS, max_size=5), payload=st.binary(max_size=300))
def test_any_v2_header_with_a_valid_crc_is_validated_not_trusted(flags, model_id, rate, varints,
                                                                  payload):
    """Flags for absent fields, never-ending, non-minimal and overflowing varints behind a CRC."""
    data = fix_crc(MAGIC + bytes([2, flags]) + model_id + bytes([rate]) + b"".join(varints)
                   + bytes(4) + payload)
    with hard_timeout(5):
        assert container_outcome(data) in ("ok", "error")
        try:
            header = parse_header(data)
        except FormatError:
            return
    assert 1 <= header.width <= MAX_SIZE and 1 <= header.height <= MAX_SIZE
    assert 1 <= header.source_width <= MAX_SIZE and 1 <= header.source_height <= MAX_SIZE
    assert pack(header, data[header.header_size:]) == data  # one encoding per header


@pytest.mark.parametrize(
    ("tail", "error", "message"),
    [
        (b"\xff\xff\xff\xff\xff", FormatError, "runs past 4 bytes"),  # never ends
        (b"\xff\xff", TruncatedFileError, "ends inside the header"),  # ends with the file
        (b"\x80\x00\x01", FormatError, "not a minimal varint"),
        (b"\x00\x01", FormatError, "empty"),
        (b"\x80\x01\x80\x01", FormatError, "size code"),  # 128x128 written out
        (b"\xff\xff\xff\x7f\xff\xff\xff\x7f", LimitError, "exceeds the limit"),  # 2^28-1 squared
    ],
)
def test_v2_varint_rules(tail, error, message):
    rest = b"" if error is TruncatedFileError else bytes(4) + b"x"
    data = fix_crc(MAGIC + b"\x02\x00" + bytes(4) + b"\x04" + tail + rest)
    with pytest.raises(error, match=message):
        unpack(data)


@pytest.mark.parametrize(
    ("flags", "error", "message"),
    [
        # Bit 6 announces a placement (spec/gzl.md 1.4); one that is not there:
        (0x40 | 0x10, TruncatedFileError, "ends inside the header"),
        (0x80 | 0x10, UnsupportedVersionError, "unknown flags 0x80"),
        (0x12, UnsupportedVersionError, "coding 2 is not used in version 2"),  # v1's ANS
        (0x30, TruncatedFileError, "ends inside the header"),  # a source size that is not there
        (0x00, TruncatedFileError, "ends inside the header"),  # an image size that is not there
    ],
)
def test_v2_flags_rules(flags, error, message):
    data = MAGIC + bytes([2, flags]) + bytes(4) + b"\x04" + bytes(4)
    with pytest.raises(error, match=message):
        unpack(fix_crc(data))


def test_v2_source_size_equal_to_the_image_size_is_not_stored():
    data = _sample_v2(source=(128, 128))
    assert len(data) - parse_header(data).payload_length == 14
    forged = fix_crc(data[:4] + bytes([data[4] | 0x20]) + data[5:10] + b"\x80\x01\x80\x01"
                     + data[10:])
    with pytest.raises(FormatError, match="must be left out"):
        unpack(forged)


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
    start = parse_header(base).header_size
    payload = bytearray(base[start:])
    for _ in range(data.draw(st.integers(1, 8))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    _check_agreement(fix_crc(base[:start] + bytes(payload)), size)


@settings(max_examples=scaled(30), deadline=None)
@given(gzl_like_bytes())
def test_random_gzl_like_bytes_through_pillow(size, data):
    _check_agreement(data, size)


@pytest.mark.parametrize("name", ["range6", "v1-ans6"])
def test_truncated_valid_files_through_decode_and_pillow(valid_files, size, name):
    data = valid_files[name]
    header_size = parse_header(data).header_size
    for end in range(len(data)):
        with pytest.raises(FormatError):
            gzcodec.decode(data[:end])
        try:
            im = Image.open(io.BytesIO(data[:end]))
        except UnidentifiedImageError:
            assert end < header_size
            continue
        # A v2 payload runs to the end of the file: its truncation is the CRC's to find.
        with im, pytest.raises(TruncatedFileError if name.startswith("v1") else IntegrityError):
            im.load()


@pytest.mark.parametrize("name", ["raw4", "v1-raw4"])
def test_header_bit_flips_through_pillow(valid_files, size, name):
    data = valid_files[name]
    for pos in range(parse_header(data).header_size):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            outcome = pillow_outcome(bytes(damaged), size)
            assert outcome[0] in ("unidentified", "error"), (pos, bit)


@pytest.mark.parametrize("name", ["v1-ans6", "v1-zstd12"])
def test_every_field_set_to_an_extreme_with_a_valid_crc(valid_files, size, name):
    data = valid_files[name]
    for field, (_, nbytes) in FIELDS.items():
        if field in ("magic", "crc32"):
            continue
        top = (1 << (8 * nbytes)) - 1
        for value in (0, 1, top):
            _check_agreement(fix_crc(set_field(data, field, value)), size)


@pytest.mark.parametrize("name", ["range6", "zstd12", "raw4"])
def test_every_v2_field_set_to_an_extreme_with_a_valid_crc(valid_files, size, name):
    data = valid_files[name]
    for pos, values in [(4, (0x00, 0x03, 0x1F, 0x23, 0x3F)), (5, (0, 0xFF)), (8, (0, 0xFF)),
                        (9, (0, 1, 2, 10, 11, 16, 17, 255))]:
        for value in values:
            _check_agreement(fix_crc(data[:pos] + bytes([value]) + data[pos + 1:]), size)
    for sizes in (b"\x01\x01", b"\x80\x01\x81\x01", b"\xff\xff\xff\x7f\x01"):
        # Explicit image sizes (size code 0) and source sizes, sane and absurd.
        for flags in (data[4] & 0x03, data[4] | 0x20):
            _check_agreement(fix_crc(data[:4] + bytes([flags]) + data[5:10] + sizes + data[10:]),
                             size)


def test_v2_rate_the_model_cannot_read_is_a_model_mismatch(valid_files):
    header, payload = unpack(valid_files["zstd8"])
    for rate in (0, 1, 17, 255):
        with pytest.raises(gzcodec.ModelMismatchError, match=f"rate {rate}"):
            gzcodec.decode(pack(dataclasses.replace(header, rate=rate), payload))
    # Rates 11..16 have no table: a range payload there cannot be decoded.
    header, payload = unpack(valid_files["range6"])
    with pytest.raises(FormatError, match="no entropy model for rate 12"):
        gzcodec.decode(pack(dataclasses.replace(header, rate=12), payload))


def test_v2_image_size_that_is_not_the_models_is_a_model_mismatch(valid_files):
    header, payload = unpack(valid_files["raw4"])
    for side in (64, 256):
        with pytest.raises(gzcodec.ModelMismatchError, match="geometry"):
            gzcodec.decode(pack(dataclasses.replace(header, width=side, height=side), payload))


def test_swapped_latent_dimensions_are_a_model_mismatch(valid_files):
    data = valid_files["v1-raw4"]
    c, h = get_field(data, "latent_channels"), get_field(data, "latent_height")
    swapped = fix_crc(set_field(set_field(data, "latent_channels", h), "latent_height", c))
    with pytest.raises(gzcodec.ModelMismatchError):
        gzcodec.decode(swapped)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_huge_quantization_step_still_gives_8_bit_pixels(valid_files):
    header, payload = unpack(valid_files["v1-zstd12"])
    data = pack(dataclasses.replace(header, step=65504.0), payload)
    assert gzcodec.decode(data).size == (header.width, header.height)


# --------------------------------------------------------------------------- text forms and QR pictures


@settings(max_examples=scaled(30), deadline=None)
@given(st.data())
def test_mutated_files_as_text_decode_as_the_bytes_do(bases, size, data):
    """decode() takes the text form (``gzl:...``) of any file and must say what the bytes say."""
    mutated = data.draw(mutations(data.draw(st.sampled_from(bases), label="base")), label="mutated")
    with hard_timeout(20):
        assert decode_outcome(to_text(mutated), size) == decode_outcome(mutated, size)


@settings(max_examples=scaled(60), deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_after_the_prefix_decodes_or_is_one_documented_error(size, text):
    with hard_timeout(20):
        decode_outcome("gzl:" + text, size)


@settings(max_examples=scaled(12), deadline=None)
@given(st.data())
def test_mutated_files_in_a_qr_picture_decode_as_the_bytes_do(bases, size, data):
    """A QR picture holding any file: read back bit for bit, then decoded as the bytes are."""
    pytest.importorskip("zxingcpp")
    from gzcodec.qr import make_qr

    mutated = data.draw(mutations(data.draw(st.sampled_from(bases), label="base")), label="mutated")
    assume(mutated[:3] == MAGIC and len(mutated) <= 2953)  # a code holds a .gzl, and so much
    with hard_timeout(20):
        picture = make_qr(mutated, level="L", scale=2, border=2).png
        assert decode_outcome(picture, size) == decode_outcome(mutated, size)


@settings(max_examples=scaled(40), deadline=None)
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"P5"]),
       st.binary(max_size=300))
def test_random_bytes_behind_a_picture_signature_are_one_documented_error(size, signature, body):
    with hard_timeout(20):
        outcome = decode_outcome(signature + body, size)
    assert outcome[0] == "error"
