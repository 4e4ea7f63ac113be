"""Helpers for the hostile-input tests: header field offsets, mutations, outcome checks.

A *mutation* is any damage a file may suffer or an attacker may craft: bit
flips, truncation, extension, bytes inserted or deleted, swapped fields,
absurd sizes and shapes, wrong versions and flags. Each may be followed by a
recomputed checksum, so that damage reaches the checks behind the CRC.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
from hypothesis import strategies as st
from PIL import Image, UnidentifiedImageError

from gzcodec.container import HEADER, HEADER_SIZE, MAGIC, Coding, Header, parse_header, unpack
from gzcodec.errors import FormatError, GzcodecError
from gzcodec.payload import decode_payload


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
_CRC = FIELDS["crc32"][0]
#: Fields that can be swapped with each other (same size, both numbers).
SWAPPABLE = {
    1: ["version", "flags", "latent_channels", "latent_height", "latent_width", "bits"],
    2: ["width", "height", "source_width", "source_height", "step", "payload_length"],
}


def fix_crc(data: bytes | bytearray) -> bytes:
    """``data`` with the checksum recomputed (a no-op on files shorter than a header)."""
    data = bytearray(data)
    if len(data) >= HEADER_SIZE:
        crc = zlib.crc32(bytes(data[HEADER_SIZE:]), zlib.crc32(bytes(data[:_CRC])))
        data[_CRC:HEADER_SIZE] = crc.to_bytes(4, "big")
    return bytes(data)


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


@st.composite
def mutations(draw, base: bytes, max_ops: int = 4) -> bytes:
    """``base`` damaged by 1..``max_ops`` random mutations, maybe with its CRC fixed."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "truncate", "extend", "insert", "delete", "byte",
                                   "field", "swap", "version", "flags", "payload", "length"]))
        n = len(data)
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
        elif op == "field" and n >= HEADER_SIZE:
            name = draw(st.sampled_from(sorted(set(FIELDS) - {"magic"})))
            data = bytearray(set_field(data, name, draw(_absurd(FIELDS[name][1]))))
        elif op == "swap" and n >= HEADER_SIZE:
            size = draw(st.sampled_from(sorted(SWAPPABLE)))
            a, b = draw(st.permutations(SWAPPABLE[size]))[:2]
            va, vb = get_field(bytes(data), a), get_field(bytes(data), b)
            data = bytearray(set_field(set_field(data, a, vb), b, va))
        elif op == "version" and n > 3:
            data[3] = draw(st.integers(0, 255))
        elif op == "flags" and n > 4:
            data[4] = draw(st.integers(0, 255))
        elif op == "payload" and n > HEADER_SIZE:
            data[HEADER_SIZE:] = draw(st.binary(min_size=n - HEADER_SIZE, max_size=n - HEADER_SIZE))
        elif op == "length" and n >= HEADER_SIZE:
            data = bytearray(set_field(data, "payload_length", n - HEADER_SIZE))
    if draw(st.booleans()):
        data = bytearray(fix_crc(data))
    return bytes(data)


def gzl_like_bytes() -> st.SearchStrategy[bytes]:
    """Random bytes, often behind our magic and version so that the header parser is reached."""
    return st.one_of(
        st.binary(max_size=96),
        st.binary(max_size=96).map(lambda b: MAGIC + b),
        st.binary(min_size=HEADER_SIZE - 4, max_size=200).map(lambda b: fix_crc(MAGIC + b"\x01" + b)),
    )


def synthetic_pmf(header: Header) -> np.ndarray | None:
    """A made-up probability table fitting ``header`` (ANS needs one), or None above 10 bits."""
    if header.bits > 10:
        return None
    rng = np.random.default_rng(header.bits)
    return rng.random((header.latent_shape[0], 1 << header.bits)).astype(np.float32) + 1e-3


def container_outcome(data: bytes) -> str:
    """Parse and decode ``data`` without a model: ``"ok"`` or ``"error"``; anything else raises."""
    try:
        header, payload = unpack(data)
    except FormatError:
        return "error"
    assert len(data) == HEADER_SIZE + header.payload_length == HEADER_SIZE + len(payload)
    try:
        symbols = decode_payload(payload, bits=header.bits, shape=header.latent_shape,
                                 coding=header.coding, pmf=synthetic_pmf(header))
    except FormatError:
        return "error"
    assert symbols.shape == header.latent_shape and symbols.dtype == np.int64
    half = 1 << (header.bits - 1)
    assert symbols.size == 0 or (symbols.min() >= -half and symbols.max() < half)
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
            parse_header(data[:HEADER_SIZE])
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


__all__ = ["FIELDS", "SWAPPABLE", "fix_crc", "set_field", "get_field", "mutations",
           "gzl_like_bytes", "synthetic_pmf", "container_outcome", "decode_outcome",
           "pillow_outcome", "Coding"]
