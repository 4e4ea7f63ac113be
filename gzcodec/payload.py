"""Coding the quantized latent into payload bytes, and back (``spec/gzl.md`` §4).

Symbols are the signed integers ``q`` of a ``bits``-bit range
``[-2**(bits-1), 2**(bits-1) - 1]``; every coding stores them in row-major
``(C, H, W)`` order as the unsigned values ``q + 2**(bits-1)``.

No torch here: the ANS coding takes the model's probability tables as arrays.
"""

from __future__ import annotations

import numpy as np
import zstandard

from .container import Coding
from .errors import FormatError

__all__ = ["encode_payload", "decode_payload", "best_payload"]

_ZSTD_LEVEL = 19


def _offset(bits: int) -> int:
    return 1 << (bits - 1)


def _check_symbols(symbols: np.ndarray, bits: int) -> np.ndarray:
    q = np.asarray(symbols)
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError("symbols must be integers")
    lo, hi = -_offset(bits), _offset(bits) - 1
    if q.size and (q.min() < lo or q.max() > hi):
        raise ValueError(f"symbols outside the {bits}-bit range [{lo}, {hi}]")
    return q.astype(np.int64) + _offset(bits)


def _encode_raw(unsigned: np.ndarray, bits: int) -> bytes:
    as_bits = np.unpackbits(unsigned.astype(">u2").reshape(-1, 1).view(np.uint8), axis=1)
    return np.packbits(as_bits[:, 16 - bits:]).tobytes()


def _decode_raw(payload: bytes, bits: int, count: int) -> np.ndarray:
    needed = (count * bits + 7) // 8
    if len(payload) != needed:
        raise FormatError(f"raw payload must be {needed} bytes, not {len(payload)}")
    fields = np.unpackbits(np.frombuffer(payload, np.uint8))[: count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.int64)
    return fields.astype(np.int64) @ weights


def _symbol_dtype(bits: int) -> np.dtype:
    return np.dtype(np.uint8) if bits <= 8 else np.dtype(">u2")


def _encode_zstd(unsigned: np.ndarray, bits: int) -> bytes:
    compressor = zstandard.ZstdCompressor(
        level=_ZSTD_LEVEL, write_content_size=False, write_checksum=False, write_dict_id=False
    )
    return compressor.compress(unsigned.astype(_symbol_dtype(bits)).tobytes())


def _zstd_frame_size(payload: bytes) -> int | None:
    """Length of the zstd frame that starts ``payload`` (RFC 8878 §3.1.1), or ``None`` if cut short.

    zstd's one-shot decompressor stops after the first frame and ignores what
    follows, so a second frame or junk after ours would pass unnoticed: walk
    the block headers to find where the frame ends.
    """
    pos = zstandard.frame_header_size(payload)
    while pos + 3 <= len(payload):
        block = int.from_bytes(payload[pos:pos + 3], "little")
        kind, size = (block >> 1) & 3, block >> 3
        pos += 3 + (1 if kind == 1 else size)  # an RLE block stores one byte
        if block & 1:  # last block; then the optional 4-byte checksum
            return pos + (4 if payload[4] & 4 else 0)
    return None


def _decode_zstd(payload: bytes, bits: int, count: int) -> np.ndarray:
    dtype = _symbol_dtype(bits)
    expected = count * dtype.itemsize
    try:
        end = _zstd_frame_size(payload)
        if end is not None and end < len(payload):
            raise FormatError(f"{len(payload) - end} unexpected bytes after the zstd frame")
        # zstd sizes its output buffer from the frame's content size when the
        # frame declares one, ignoring max_output_size: check it first.
        declared = zstandard.get_frame_parameters(payload).content_size
        if declared not in (zstandard.CONTENTSIZE_UNKNOWN, expected):
            raise FormatError(f"zstd payload declares {declared} bytes, expected {expected}")
        # Our frames have no content size, so zstd must be told the maximum.
        raw = zstandard.ZstdDecompressor().decompress(payload, max_output_size=expected)
    except zstandard.ZstdError as exc:
        raise FormatError(f"corrupt zstd payload ({exc})") from None
    if len(raw) != expected:
        raise FormatError(f"zstd payload holds {len(raw)} bytes, expected {expected}")
    values = np.frombuffer(raw, dtype).astype(np.int64)
    if values.max(initial=0) >= 1 << bits:
        raise FormatError(f"zstd payload holds values wider than {bits} bits")
    return values


def _channel_models(pmf: np.ndarray, channels: int, bits: int) -> list:
    import constriction

    if np.shape(pmf) != (channels, 1 << bits):
        raise FormatError(f"probability table has shape {np.shape(pmf)}, expected "
                          f"{(channels, 1 << bits)}")
    table = np.asarray(pmf, dtype=np.float32)
    return [constriction.stream.model.Categorical(row, perfect=False) for row in table]


def _encode_ans(unsigned: np.ndarray, bits: int, shape: tuple[int, int, int],
                pmf: np.ndarray) -> bytes:
    import constriction

    models = _channel_models(pmf, shape[0], bits)
    per_channel = unsigned.astype(np.int32).reshape(shape[0], -1)
    coder = constriction.stream.stack.AnsCoder()
    # ANS is a stack: push the last channel first so that decoding pops channel 0 first.
    for channel in reversed(range(shape[0])):
        coder.encode_reverse(per_channel[channel], models[channel])
    return coder.get_compressed().astype("<u4").tobytes()


def _decode_ans(payload: bytes, bits: int, shape: tuple[int, int, int],
                pmf: np.ndarray) -> np.ndarray:
    import constriction

    # An empty payload is valid: a latent the prior finds (nearly) certain codes to no words.
    if len(payload) % 4:
        raise FormatError("ANS payload length must be a multiple of 4")
    words = np.frombuffer(payload, "<u4").astype(np.uint32)
    models = _channel_models(pmf, shape[0], bits)
    per_channel = shape[1] * shape[2]
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        values = [coder.decode(model, per_channel) for model in models]
    except (ValueError, RuntimeError, AssertionError, OverflowError) as exc:
        raise FormatError(f"corrupt ANS payload ({exc})") from None
    return np.concatenate(values).astype(np.int64)


def encode_payload(symbols: np.ndarray, *, bits: int, coding: Coding,
                   pmf: np.ndarray | None = None) -> bytes:
    """Code ``symbols`` (signed ints shaped ``(C, H, W)``) with one coding.

    ``pmf`` (``(C, 2**bits)`` probabilities) is required for :attr:`Coding.ANS`.
    """
    unsigned = _check_symbols(symbols, bits).reshape(-1)
    if coding == Coding.RAW:
        return _encode_raw(unsigned, bits)
    if coding == Coding.ZSTD:
        return _encode_zstd(unsigned, bits)
    if coding == Coding.ANS:
        if pmf is None:
            raise ValueError("ANS coding needs the model's probability table")
        return _encode_ans(unsigned, bits, tuple(np.shape(symbols)), pmf)
    raise ValueError(f"unknown coding {coding!r}")


def decode_payload(payload: bytes, *, bits: int, shape: tuple[int, int, int], coding: Coding,
                   pmf: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`encode_payload`: signed int64 symbols shaped ``shape``.

    Raises :class:`FormatError` when the payload does not decode to exactly
    ``prod(shape)`` symbols of ``bits`` bits.
    """
    count = int(np.prod(shape))
    if coding == Coding.RAW:
        unsigned = _decode_raw(payload, bits, count)
    elif coding == Coding.ZSTD:
        unsigned = _decode_zstd(payload, bits, count)
    elif coding == Coding.ANS:
        if pmf is None:
            raise FormatError(f"the model has no probability table for {bits}-bit ANS payloads")
        unsigned = _decode_ans(payload, bits, shape, pmf)
    else:
        raise FormatError(f"unknown coding {coding!r}")
    return (unsigned - _offset(bits)).reshape(shape)


def best_payload(symbols: np.ndarray, *, bits: int,
                 pmf: np.ndarray | None = None) -> tuple[Coding, bytes]:
    """The smallest of every coding available for these symbols (ties: simplest)."""
    options = [(Coding.RAW, encode_payload(symbols, bits=bits, coding=Coding.RAW)),
               (Coding.ZSTD, encode_payload(symbols, bits=bits, coding=Coding.ZSTD))]
    if pmf is not None:
        options.append((Coding.ANS, encode_payload(symbols, bits=bits, coding=Coding.ANS, pmf=pmf)))
    return min(options, key=lambda item: (len(item[1]), int(item[0])))
