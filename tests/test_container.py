"""The .gzl container and payload codings: round trips, the spec's test vector, rejections."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gzcodec.container import (
    HEADER_SIZE,
    MAX_LATENT_ELEMENTS,
    Coding,
    Header,
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
from gzcodec.payload import best_payload, decode_payload, encode_payload
from gzcodec.testing import with_valid_crc

from .hostile import fix_crc

SPEC = Path(__file__).resolve().parent.parent / "spec"

HEADER = Header(model_id=bytes.fromhex("a1b2c3d4e5f6"), width=128, height=128, source_width=300,
                source_height=200, latent_shape=(32, 8, 8), bits=6, step=0.5, coding=Coding.ZSTD)


def test_header_is_31_bytes_within_the_32_byte_budget():
    assert HEADER_SIZE == 31
    assert len(pack(HEADER, b"")) == 31


def test_round_trip_keeps_every_field():
    data = pack(HEADER, b"\x01\x02\x03")
    header, payload = unpack(data)
    assert payload == b"\x01\x02\x03"
    assert header == dataclasses.replace(HEADER, payload_length=3)


def test_spec_test_vector_matches_the_spec(tmp_path):
    data = (SPEC / "testvector.gzl").read_bytes()
    header, payload = unpack(data)
    assert header.model_id_hex == "0123456789ab"
    assert (header.source_width, header.source_height) == (640, 480)
    assert header.latent_shape == (4, 2, 2) and header.bits == 4 and header.step == 2.0
    symbols = decode_payload(payload, bits=4, shape=(4, 2, 2), coding=header.coding)
    assert symbols.reshape(-1).tolist() == list(range(-8, 8))
    # The hex dump in gzl.md is the committed file's.
    first_line = " ".join(f"{b:02x}" for b in data[:16])
    assert first_line in (SPEC / "gzl.md").read_text()


def test_spec_v2_test_vector_matches_the_spec():
    from gzcodec.container import HeaderV2
    from gzcodec.entropy import FactorizedTableCoder
    from gzcodec.payload import SymbolReader

    data = (SPEC / "testvector-v2.gzl").read_bytes()
    header, payload = unpack(data)
    assert isinstance(header, HeaderV2) and header.header_size == 18
    assert header.model_id_hex == "01234567" and header.rate == 4
    assert (header.width, header.height, header.source_width, header.source_height) == (
        128, 128, 640, 480)
    row = 2.0 ** -np.abs(np.arange(16) - 8)
    reader = SymbolReader(payload)
    symbols = FactorizedTableCoder({4: np.tile(row, (4, 1))}, latent_shape=(4, 2, 2)).read_symbols(
        reader, rate=4)
    reader.close()
    assert symbols.reshape(-1).tolist() == list(range(-8, 8))
    first_line = " ".join(f"{b:02x}" for b in data[:16])
    assert first_line in (SPEC / "gzl.md").read_text()


def test_v2_header_is_14_bytes_in_the_common_case():
    from gzcodec.container import HeaderV2

    header = HeaderV2(model_id=bytes(4), width=128, height=128, source_width=128,
                      source_height=128, rate=4, coding=Coding.RANGE)
    assert header.header_size == 14 and len(pack(header, b"")) == 14
    wide = dataclasses.replace(header, width=100, height=60, source_width=70000, source_height=1)
    data = pack(wide, b"abc")
    assert unpack(data) == (dataclasses.replace(wide, payload_length=3), b"abc")
    assert wide.header_size == 14 + 2 + 3 + 1  # 100, 60: one byte each; 70000: 3; 1: 1


def test_lenient_header_size_finds_the_crc_where_parse_header_refuses():
    from gzcodec.container import HeaderV2
    from gzcodec.testing import lenient_header_size

    header = HeaderV2(model_id=bytes(4), width=100, height=60, source_width=70000,
                      source_height=1, rate=4, coding=Coding.RANGE)
    data = pack(header, b"abc")
    assert lenient_header_size(data) == header.header_size == 20
    assert lenient_header_size(data[:header.header_size]) == 20
    assert lenient_header_size(data[:header.header_size - 1]) is None  # ends inside the CRC
    assert lenient_header_size(pack(HEADER, b"xyz")) == HEADER_SIZE  # version 1: fixed
    assert lenient_header_size(pack(HEADER, b"")[:HEADER_SIZE - 1]) is None
    assert lenient_header_size(b"GZL") is None
    # Varints that never end are cut at 4 bytes each, as a reader would stop: 10 + 4 * 4 + 4.
    endless = data[:10] + b"\xff" * 16 + bytes(4)
    with pytest.raises(FormatError):
        parse_header(endless)
    assert lenient_header_size(endless) == 30


@pytest.mark.parametrize(
    "field",
    [dict(rate=256), dict(rate=-1), dict(width=0), dict(source_height=0), dict(model_id=bytes(6)),
     dict(coding=Coding.ANS), dict(width=1 << 28)],
)
def test_out_of_range_v2_fields_are_refused(field):
    from gzcodec.container import HeaderV2

    header = HeaderV2(model_id=bytes(4), width=128, height=128, source_width=128,
                      source_height=128, rate=4, coding=Coding.RANGE)
    with pytest.raises(FormatError):
        pack(dataclasses.replace(header, **field), b"")


def test_a_v1_header_cannot_carry_a_range_payload():
    with pytest.raises(FormatError):
        pack(dataclasses.replace(HEADER, coding=Coding.RANGE), b"")


def test_parse_header_needs_only_the_header():
    data = pack(HEADER, b"xyz")
    assert parse_header(data[:HEADER_SIZE]).payload_length == 3


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: b"PNG" + d[3:], FormatError),
        (lambda d: d[:3] + b"\x03" + d[4:], UnsupportedVersionError),
        (lambda d: d[:3] + b"\x00" + d[4:], UnsupportedVersionError),
        (lambda d: d[:4] + b"\x04" + d[5:], UnsupportedVersionError),  # reserved flag
        (lambda d: d[:4] + b"\x03" + d[5:], UnsupportedVersionError),  # coding 3
        (lambda d: d[:20], TruncatedFileError),
        (lambda d: d[:-1], TruncatedFileError),
        (lambda d: d + b"\x00", FormatError),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), IntegrityError),
        (lambda d: d[:12] + bytes([d[12] ^ 1]) + d[13:], IntegrityError),
    ],
)
def test_damaged_files_are_refused(mutate, error):
    with pytest.raises(error):
        unpack(mutate(pack(HEADER, b"payload")))


@pytest.mark.parametrize(
    "field",
    [
        dict(bits=1), dict(bits=17), dict(step=0.0), dict(step=float("nan")),
        dict(step=float("inf")), dict(width=0), dict(source_height=0), dict(latent_shape=(0, 8, 8)),
    ],
)
def test_out_of_range_fields_are_refused(field):
    with pytest.raises(FormatError):
        pack(dataclasses.replace(HEADER, **field), b"")


def test_absurd_latent_size_is_refused_before_allocation():
    header = dataclasses.replace(HEADER, latent_shape=(255, 255, 255))
    assert MAX_LATENT_ELEMENTS < 255**3
    with pytest.raises(LimitError):
        pack(header, b"")
    # The same header forged into a file (CRC made valid) is refused by the reader too.
    raw = bytearray(pack(HEADER, b""))
    raw[19:22] = b"\xff\xff\xff"
    with pytest.raises(LimitError):
        unpack(fix_crc(raw))


def test_unrepresentable_step_is_refused():
    with pytest.raises(FormatError):
        pack(dataclasses.replace(HEADER, step=0.1), b"")  # not exact in float16


@pytest.mark.parametrize(
    ("bits", "coding"),
    [(b, c) for b in (2, 3, 5, 8, 9, 12, 16) for c in (Coding.RAW, Coding.ZSTD, Coding.ANS)
     if c != Coding.ANS or b <= 10],
)
def test_payload_round_trip(bits, coding):
    rng = np.random.default_rng(bits)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    symbols = np.clip(np.round(rng.laplace(0, 2, (4, 3, 5))), lo, hi).astype(np.int64)
    symbols[0, 0, 0], symbols[0, 0, 1] = lo, hi
    pmf = np.full((4, 1 << bits), 1.0, np.float32) if coding == Coding.ANS else None
    payload = encode_payload(symbols, bits=bits, coding=coding, pmf=pmf)
    out = decode_payload(payload, bits=bits, shape=symbols.shape, coding=coding, pmf=pmf)
    np.testing.assert_array_equal(out, symbols)


def test_raw_payload_is_tightly_packed():
    symbols = np.zeros((3, 1, 1), np.int64)
    assert len(encode_payload(symbols, bits=3, coding=Coding.RAW)) == 2  # 9 bits


def test_best_payload_picks_the_smallest():
    symbols = np.zeros((32, 8, 8), np.int64)
    coding, payload = best_payload(symbols, bits=8)
    assert coding == Coding.ZSTD and len(payload) < 64


def test_zstd_payload_cannot_expand_past_the_latent():
    import zstandard

    bomb = zstandard.ZstdCompressor().compress(bytes(10_000_000))
    with pytest.raises(FormatError):
        decode_payload(bomb, bits=8, shape=(32, 8, 8), coding=Coding.ZSTD)


def test_symbols_outside_the_range_are_refused_by_the_encoder():
    with pytest.raises(ValueError):
        encode_payload(np.array([[[8]]]), bits=4, coding=Coding.RAW)


def test_container_imports_without_torch():
    code = ("import sys, gzcodec.container, gzcodec.payload, gzcodec.entropy, gzcodec; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- placement (flags bit 6)


def _v2_plain():
    from gzcodec.container import HeaderV2

    return HeaderV2(model_id=bytes.fromhex("01234567"), width=128, height=128, source_width=640,
                    source_height=480, rate=4, coding=Coding.RANGE)


def test_placement_round_trips_through_the_header():
    from gzcodec.container import Placement
    from gzcodec.testing import lenient_header_size

    for placement in (Placement(5128, 3204, 2400, 63716), Placement(-40, 0, 1, 0),
                      Placement(-(1 << 27), (1 << 27) - 1, (1 << 28) - 1, 65535)):
        header = dataclasses.replace(_v2_plain(), placement=placement)
        data = pack(header, b"payload")
        parsed, payload = unpack(data)
        assert parsed.placement == placement and payload == b"payload"
        assert lenient_header_size(data) == parsed.header_size == len(data) - 7
        assert with_valid_crc(data) == data


def test_placement_from_geometry_keeps_a_sixteenth_of_a_pixel():
    from gzcodec.container import Placement

    p = Placement.from_geometry(centre=(-3.2, 1000.04), side=77.7, angle=math.radians(-19.5))
    assert abs(p.centre[0] + 3.2) <= 1 / 32 and abs(p.centre[1] - 1000.04) <= 1 / 32
    assert abs(p.side_pixels - 77.7) <= 1 / 32
    assert abs(p.angle_radians - math.radians(-19.5)) <= math.pi / 65536


def test_files_without_a_placement_are_unchanged_byte_for_byte():
    # The committed v2 vector (made before the placement existed) packs to the same bytes.
    from gzcodec.container import with_placement

    data = (SPEC / "testvector-v2.gzl").read_bytes()
    header, payload = unpack(data)
    assert header.placement is None
    assert pack(header, payload) == data
    assert with_placement(with_placement(data, unpack(
        (SPEC / "testvector-v2-placed.gzl").read_bytes())[0].placement), None) == data


def test_spec_placed_test_vector_matches_the_spec():
    data = (SPEC / "testvector-v2-placed.gzl").read_bytes()
    header, payload = unpack(data)
    assert header.header_size == 26 and data[4] & 0x40
    p = header.placement
    assert p.centre == (320.5, 200.25) and p.side_pixels == 150.0
    assert round(math.degrees(p.angle_radians), 2) == -10.0
    assert payload == unpack((SPEC / "testvector-v2.gzl").read_bytes())[1]
    assert " ".join(f"{b:02x}" for b in data[16:32]) in (SPEC / "gzl.md").read_text()


def test_a_reader_without_the_placement_refuses_it_as_a_reserved_flag():
    # What old readers did with bit 6 (they refused 0xC0), new readers still do with bit 7.
    data = (SPEC / "testvector-v2-placed.gzl").read_bytes()
    with pytest.raises(UnsupportedVersionError, match="unknown flags 0x80"):
        parse_header(with_valid_crc(data[:4] + bytes([data[4] | 0x80]) + data[5:]))


def test_placement_side_zero_and_truncation_are_refused():
    data = (SPEC / "testvector-v2-placed.gzl").read_bytes()
    side_at = 10 + 4 + 2 + 2  # fixed part, source varints, two 2-byte centre varints
    assert data[side_at:side_at + 2] == b"\xe0\x12"
    broken = data[:side_at] + b"\x00" + data[side_at + 2:]
    with pytest.raises(FormatError, match="placement side"):
        unpack(with_valid_crc(broken))
    with pytest.raises(TruncatedFileError):
        parse_header(data[:21])
