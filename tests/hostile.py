"""Helpers for the hostile-input tests: header field offsets, mutations, outcome checks.

A *mutation* is any damage a file may suffer or an attacker may craft: bit
flips, truncation, extension, bytes inserted or deleted, swapped fields,
absurd sizes and shapes, wrong versions and flags, and in version 2 varints
that never end, are not minimal or overflow, and flags for fields that are not
there. Each may be followed by a recomputed checksum, so that damage reaches
the checks behind the CRC.

``FIELDS``, ``set_field`` and ``get_field`` describe the fixed version 1
header; :func:`fix_crc` and :func:`mutations` handle both versions.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import strategies as st
from PIL import Image, UnidentifiedImageError

from gzcodec.container import (
    HEADER,
    HEADER_SIZE,
    MAGIC,
    MAX_HEADER_SIZE,
    V2_FIXED_SIZE,
    Coding,
    Header,
    HeaderV2,
    parse_header,
    unpack,
)
from gzcodec.errors import FormatError, GzcodecError
from gzcodec.payload import SymbolReader, decode_payload, symbol_range
from gzcodec.testing import lenient_header_size, with_valid_crc


def _field_offsets() -> dict[str, tuple[int, int]]:
    out, offset = {}, 0
    for sub in HEADER.subcons:
        size = sub.sizeof()
        out[sub.name] = (offset, size)
        offset += size
    assert offset == HEADER_SIZE
    return out


#: ``name -> (offset, size)`` of every header field.
FIELDS = _field_offsets()
#: Fields that can be swapped with each other (same size, both numbers).
SWAPPABLE = {
    1: ["version", "flags", "latent_channels", "latent_height", "latent_width", "bits"],
    2: ["width", "height", "source_width", "source_height", "step", "payload_length"],
}


#: ``data`` with its checksum recomputed (:func:`gzcodec.testing.with_valid_crc`), under the
#: name the hostile-input tests use.
fix_crc = with_valid_crc


def set_field(data: bytes | bytearray, name: str, value: int) -> bytes:
    """``data`` with a header field overwritten by ``value`` (big-endian, truncated to fit)."""
    offset, size = FIELDS[name]
    data = bytearray(data)
    data[offset:offset + size] = (value % (1 << (8 * size))).to_bytes(size, "big")
    return bytes(data)


def get_field(data: bytes, name: str) -> int:
    offset, size = FIELDS[name]
    return int.from_bytes(data[offset:offset + size], "big")


def _absurd(size: int) -> st.SearchStrategy[int]:
    top = (1 << (8 * size)) - 1
    return st.one_of(st.sampled_from([0, 1, 2, top, top - 1, top // 2, top // 2 + 1]),
                     st.integers(0, top))


def _mutate_v2(draw, data: bytearray, op: str) -> None:
    """Format 2's mutations of ``data``, in place: varints where the sizes go, rate, size flags."""
    n = len(data)
    if op == "varint" and n >= V2_FIXED_SIZE:
        # Never-ending, non-minimal, overflowing or plain varints where the sizes go.
        pos = draw(st.integers(V2_FIXED_SIZE, min(n, V2_FIXED_SIZE + 8)))
        crafted = draw(st.sampled_from([b"\xff" * 6, b"\x80\x00", b"\xff\xff\xff\x7f",
                                        b"\x80\x80\x80\x80\x01", b"\x00", b"\x80",
                                        b"\x81\x01", b"\x7f"]))
        data[pos:pos + draw(st.integers(0, 4))] = crafted
    elif op == "rate" and n > 9:
        data[9] = draw(st.sampled_from([0, 1, 2, 16, 17, 255]))
    elif op == "size-flags" and n > 4:
        # Flags saying sizes follow (or not) whatever is really there.
        data[4] = (data[4] & 0xC3) | draw(st.integers(0, 15)) << 2


def _mutate_v1_fields(draw, data: bytearray, op: str) -> bytearray:
    """Format 1's field mutations: a field made absurd, two fields swapped, the payload length."""
    n = len(data)
    if op == "field" and n >= HEADER_SIZE:
        name = draw(st.sampled_from(sorted(set(FIELDS) - {"magic"})))
        data = bytearray(set_field(data, name, draw(_absurd(FIELDS[name][1]))))
    elif op == "swap" and n >= HEADER_SIZE:
        size = draw(st.sampled_from(sorted(SWAPPABLE)))
        a, b = draw(st.permutations(SWAPPABLE[size]))[:2]
        va, vb = get_field(bytes(data), a), get_field(bytes(data), b)
        data = bytearray(set_field(set_field(data, a, vb), b, va))
    elif op == "length" and n >= HEADER_SIZE:
        data = bytearray(set_field(data, "payload_length", n - HEADER_SIZE))
    return data


@st.composite
def mutations(draw, base: bytes, max_ops: int = 4) -> bytes:
    """``base`` damaged by 1..``max_ops`` random mutations, maybe with its CRC fixed."""
    data = bytearray(base)
    v2 = len(base) > 3 and base[3] == 2
    header_size = lenient_header_size(base)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "truncate", "extend", "insert", "delete", "byte",
                                   "field", "swap", "version", "flags", "payload", "length"]
                                  + (["varint", "varint", "rate", "size-flags"] if v2 else [])))
        n = len(data)
        if v2 and op in ("field", "swap", "length"):
            op = "varint"  # the v1 fields are not there; hit the variable part instead
        _mutate_v2(draw, data, op)
        if op == "flip" and n:
            pos = draw(st.integers(0, n - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[draw(st.integers(0, n)):]
        elif op == "extend":
            data += draw(st.one_of(st.binary(max_size=64),
                                   st.integers(1, 80_000).map(lambda k: b"\0" * k)))
        elif op == "insert":
            pos = draw(st.integers(0, n))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            pos = draw(st.integers(0, n - 1))
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "byte" and n:
            data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif op in ("field", "swap", "length"):
            data = _mutate_v1_fields(draw, data, op)
        elif op == "version" and n > 3:
            data[3] = draw(st.integers(0, 255))
        elif op == "flags" and n > 4:
            data[4] = draw(st.integers(0, 255))
        elif op == "payload" and header_size is not None and n > header_size:
            data[header_size:] = draw(st.binary(min_size=n - header_size, max_size=n - header_size))
    if draw(st.booleans()):
        data = bytearray(fix_crc(data))
    return bytes(data)


def gzl_like_bytes() -> st.SearchStrategy[bytes]:
    """Random bytes, often behind our magic and a version so that the header parsers are reached."""
    return st.one_of(
        st.binary(max_size=96),
        st.binary(max_size=96).map(lambda b: MAGIC + b),
        st.binary(min_size=HEADER_SIZE - 4, max_size=200).map(lambda b: fix_crc(MAGIC + b"\x01" + b)),
        st.binary(min_size=6, max_size=200).map(lambda b: fix_crc(MAGIC + b"\x02" + b)),
    )


def synthetic_pmf(header: Header) -> np.ndarray | None:
    """A made-up probability table fitting ``header`` (ANS needs one), or None above 10 bits."""
    if header.bits > 10:
        return None
    rng = np.random.default_rng(header.bits)
    return rng.random((header.latent_shape[0], 1 << header.bits)).astype(np.float32) + 1e-3


#: The latent a model-less version 2 check decodes: small, with a made-up factorized prior.
V2_SHAPE = (4, 2, 3)


def synthetic_prior():
    """A made-up entropy model for ``V2_SHAPE`` at rates (bits) 2..10."""
    from gzcodec.entropy import FactorizedTableCoder

    tables = {b: np.random.default_rng(b).random((V2_SHAPE[0], 1 << b)) + 1e-3 for b in range(2, 11)}
    return FactorizedTableCoder(tables, latent_shape=V2_SHAPE)


def container_outcome(data: bytes) -> str:
    """Parse and decode ``data`` without a model: ``"ok"`` or ``"error"``; anything else raises.

    A version 2 file's latent is taken to be :data:`V2_SHAPE` under
    :func:`synthetic_prior`, its rate as bits.
    """
    try:
        header, payload = unpack(data)
    except FormatError:
        return "error"
    assert len(data) == header.header_size + header.payload_length == header.header_size + len(payload)
    if isinstance(header, HeaderV2):
        shape, bits = V2_SHAPE, header.rate
        if not 2 <= bits <= 16:
            return "error"
        try:
            if header.coding == Coding.RANGE:
                prior = synthetic_prior()
                if not prior.codes_rate(bits):
                    return "error"
                reader = SymbolReader(payload)
                symbols = prior.read_symbols(reader, rate=bits)
                reader.close()
            else:
                symbols = decode_payload(payload, bits=bits, shape=shape, coding=header.coding)
        except FormatError:
            return "error"
    else:
        shape, bits = header.latent_shape, header.bits
        try:
            symbols = decode_payload(payload, bits=bits, shape=shape, coding=header.coding,
                                     pmf=synthetic_pmf(header))
        except FormatError:
            return "error"
    assert symbols.shape == shape and symbols.dtype == np.int64
    lo, hi = symbol_range(bits)
    assert symbols.size == 0 or (symbols.min() >= lo and symbols.max() <= hi)
    return "ok"


def decode_outcome(data: bytes, size: tuple[int, int]) -> tuple[str, object]:
    """``gzcodec.decode(data)``: ``("ok", pixels)`` or ``("error", exception class)``."""
    import gzcodec

    try:
        image = gzcodec.decode(data)
    except GzcodecError as exc:
        assert "\n" not in str(exc), "error messages are one line"
        assert isinstance(exc, OSError), "decode errors are OSErrors, as Pillow's are"
        return "error", type(exc)
    assert image.size == size and image.mode == "RGB"
    return "ok", image.tobytes()


def pillow_outcome(data: bytes, size: tuple[int, int]) -> tuple[str, object]:
    """``Image.open`` + ``load()``: like :func:`decode_outcome`, or ``("unidentified", None)``."""
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        # Pillow's "not a file I can open": only for bytes without a valid header.
        try:
            parse_header(data[:MAX_HEADER_SIZE])
        except FormatError:
            return "unidentified", None
        raise AssertionError("a valid header was not identified") from None
    with im:
        assert im.format == "GZL"
        try:
            im.load()
        except GzcodecError as exc:
            assert isinstance(exc, OSError), "what load() raises is an OSError, as in Pillow"
            return "error", type(exc)
        assert im.size == size and im.mode == "RGB"
        return "ok", im.tobytes()


__all__ = ["FIELDS", "SWAPPABLE", "V2_SHAPE", "fix_crc", "set_field",
           "get_field", "mutations", "gzl_like_bytes", "synthetic_pmf", "synthetic_prior",
           "container_outcome", "decode_outcome", "pillow_outcome", "Coding"]
