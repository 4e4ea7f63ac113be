"""Coding the quantized latent into payload bytes, and back (``spec/gzl.md`` §4).

Symbols are the signed integers ``q`` of a ``bits``-bit range
``[-2**(bits-1), 2**(bits-1) - 1]``; the raw, zstd and (version 1) ANS codings
store them in row-major ``(C, H, W)`` order as the unsigned values
``q + 2**(bits-1)``.

Version 2's model-coded payloads are written by :class:`SymbolWriter` and read
by :class:`SymbolReader`: a range coder (constriction's ``RangeEncoder``) whose
final word is trimmed to the shortest byte string that still decodes to the
same symbols (``spec/gzl.md`` §4.2). The model decides the order of the
symbols and the probabilities of each; calls may be interleaved with the
model's own computation (an autoregressive model writes a slice, computes the
next slice's probabilities from it, writes that slice, ...), and the reader
reads in the same order.

No torch here: the models hand their probabilities over as numpy arrays.

Examples
--------
>>> probs = np.array([[0.5, 0.25, 0.25]] * 4)
>>> writer = SymbolWriter()
>>> writer.write(np.array([0, 2, 1, 0]), probs)
>>> data = writer.finish()
>>> reader = SymbolReader(data)
>>> reader.read(probs).tolist()
[0, 2, 1, 0]
>>> reader.close()
>>> round(information_bits(np.array([0, 2, 1, 0]), probs), 3)
6.0
"""

from __future__ import annotations

import numpy as np
import zstandard

from .container import Coding
from .errors import FormatError

__all__ = ["encode_payload", "decode_payload", "best_payload", "RANGE_PRECISION", "MAX_ALPHABET",
           "quantize_probabilities", "QuantizedRows", "information_bits", "SymbolWriter", "SymbolReader",
           "symbol_range", "symbol_offset"]

_ZSTD_LEVEL = 19


def symbol_range(bits: int) -> tuple[int, int]:
    """The smallest and largest ``bits``-bit signed symbol: ``-2**(bits-1)`` and ``2**(bits-1) - 1``.

    Symbols are stored unsigned, offset by ``-lo`` (see :func:`symbol_offset`).

    Examples
    --------
    >>> symbol_range(4)
    (-8, 7)
    """
    half = 1 << (bits - 1)
    return -half, half - 1


def symbol_offset(bits: int) -> int:
    """What turns a ``bits``-bit signed symbol into its unsigned code: ``2**(bits-1)``."""
    return -symbol_range(bits)[0]


def _check_symbols(symbols: np.ndarray, bits: int) -> np.ndarray:
    q = np.asarray(symbols)
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError("symbols must be integers")
    lo, hi = symbol_range(bits)
    if q.size and (q.min() < lo or q.max() > hi):
        raise ValueError(f"symbols outside the {bits}-bit range [{lo}, {hi}]")
    return q.astype(np.int64) + symbol_offset(bits)


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
    return (unsigned - symbol_offset(bits)).reshape(shape)


def best_payload(symbols: np.ndarray, *, bits: int,
                 pmf: np.ndarray | None = None) -> tuple[Coding, bytes]:
    """The smallest of every coding available for these symbols (ties: simplest)."""
    options = [(Coding.RAW, encode_payload(symbols, bits=bits, coding=Coding.RAW)),
               (Coding.ZSTD, encode_payload(symbols, bits=bits, coding=Coding.ZSTD))]
    if pmf is not None:
        options.append((Coding.ANS, encode_payload(symbols, bits=bits, coding=Coding.ANS, pmf=pmf)))
    return min(options, key=lambda item: (len(item[1]), int(item[0])))


# --------------------------------------------------------------------------- range coding (v2)

#: Probabilities are quantized to integer frequencies summing to ``2**RANGE_PRECISION``
#: (constriction's default for 32-bit words).
RANGE_PRECISION = 24
#: Largest alphabet :class:`SymbolWriter` codes: every symbol keeps at least one of the
#: ``2**24`` units, and one row of ``MAX_ALPHABET`` floats stays small.
MAX_ALPHABET = 1 << 16
_TOTAL = 1 << RANGE_PRECISION
#: What constriction raises for data it cannot decode (it asserts on invalid quantiles).
_CODER_ERRORS = (AssertionError, ValueError, RuntimeError, OverflowError)


def _rows(probabilities: np.ndarray) -> tuple[np.ndarray, int]:
    """Validated probabilities as float64 rows, and how many symbols they are for.

    Rows broadcast along the first axis (``np.broadcast_to(row, (n, L))``,
    stride 0) come back as the single row: one quantization, and the symbols
    are coded as i.i.d. under it, which gives exactly the same bits.
    """
    p = np.asarray(probabilities)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be 2-D (symbols, alphabet), not shaped {p.shape}")
    n, size = p.shape
    if not 2 <= size <= MAX_ALPHABET:
        raise ValueError(f"alphabet of {size} symbols; SymbolWriter codes 2..{MAX_ALPHABET}")
    if not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
        raise TypeError(f"probabilities must be real numbers, not {p.dtype}")
    rows = (p[:1] if n > 1 and p.strides[0] == 0 else p).astype(np.float64)
    # np.less, not "<": the fuzzer's instrumentation (atheris) leaks memory on every
    # array comparison written as an operator.
    if not np.isfinite(rows).all() or np.less(rows, 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    return rows, n


def _cdf(rows: np.ndarray) -> np.ndarray:
    """Integer CDFs ``(m, L + 1)`` of float64 rows: the quantization of :func:`quantize_probabilities`."""
    m, size = rows.shape
    # cumsum is sequential and every operation below is a correctly rounded IEEE
    # operation, so the same floats give the same integers on every machine.
    with np.errstate(over="ignore"):  # an infinite sum is refused just below
        cumulative = np.cumsum(rows, axis=1)
    total = cumulative[:, -1:]
    if not (np.isfinite(total).all() and np.greater(total, 0).all()):  # np.greater: see _rows
        raise ValueError("every row of probabilities needs a positive, finite sum")
    cdf = np.empty((m, size + 1), np.int64)
    cdf[:, 0] = 0
    cdf[:, -1] = _TOTAL
    # Each symbol gets one unit for free, the rest in proportion: never a zero probability.
    scaled = np.floor(cumulative[:, :-1] / total * float(_TOTAL - size)).astype(np.int64)
    cdf[:, 1:-1] = scaled + np.arange(1, size)
    return cdf


def quantize_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """The integer CDFs the range coder codes under, shape ``(n, L + 1)``.

    Row ``i`` of ``probabilities`` (any non-negative finite numbers with a
    positive sum) becomes ``cdf[i, 0] = 0``, ``cdf[i, L] = 2**24`` and, for
    ``0 < j < L``, ``cdf[i, j] = floor(c[j-1] / c[L-1] * (2**24 - L)) + j``
    where ``c`` is the sequential cumulative sum in float64. Symbol ``j`` has
    probability ``(cdf[i, j+1] - cdf[i, j]) / 2**24 >= 2**-24``.

    Parameters
    ----------
    probabilities : array_like, shape (n, L)
        One row per symbol, ``2 <= L <=`` :data:`MAX_ALPHABET`.

    Returns
    -------
    numpy.ndarray
        int64 CDFs, one row per row of ``probabilities``.
    """
    rows, n = _rows(probabilities)
    cdf = _cdf(rows)
    return np.repeat(cdf, n, axis=0) if rows.shape[0] != n else cdf


def _check_coded_symbols(symbols: np.ndarray, n: int, size: int) -> np.ndarray:
    s = np.asarray(symbols)
    if not np.issubdtype(s.dtype, np.integer):
        raise TypeError("symbols must be integers")
    if s.shape != (n,):
        raise ValueError(f"symbols shaped {s.shape} do not match {n} rows of probabilities")
    if n and (s.min() < 0 or s.max() >= size):
        raise ValueError(f"symbols outside the alphabet 0..{size - 1}")
    return s.astype(np.int32)


def information_bits(symbols: np.ndarray, probabilities: np.ndarray | QuantizedRows) -> float:
    """Information content ``-sum(log2 p)`` of ``symbols`` under the coder's quantized probabilities.

    This is what a perfect entropy coder would spend on them with the tables
    :class:`SymbolWriter` uses (:func:`quantize_probabilities`), so a payload's
    bytes minus this is the coder's own overhead.
    """
    weights, n = _coding_weights(probabilities)
    s = _check_coded_symbols(symbols, n, weights.shape[1])
    f = weights[0, s] if weights.shape[0] != n else weights[np.arange(n), s]
    return float(n * RANGE_PRECISION - np.log2(f.astype(np.float64) + 1).sum())


class QuantizedRows:
    """Probability rows quantized once, to be picked per symbol: a fixed coding table.

    A model whose symbols each use one row of a fixed table (the Gaussian
    table indexed by scale and mean fraction) quantizes the table once and
    passes ``table.take(index)`` to :meth:`SymbolWriter.write`,
    :meth:`SymbolReader.read` or :func:`information_bits`. The bits are
    exactly those of passing the float rows themselves (quantization is row by
    row); only the per-call quantization of every symbol's row is saved.

    Parameters
    ----------
    probabilities : array_like, shape (m, L)
        The table's rows, as :func:`quantize_probabilities` takes them.

    Examples
    --------
    >>> table = QuantizedRows([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> picked = table.take(np.array([1, 1, 0]))
    >>> len(picked)
    3
    >>> round(information_bits(np.array([2, 2, 0]), picked), 3)
    1.644
    """

    __slots__ = ("weights",)

    def __init__(self, probabilities: np.ndarray) -> None:
        rows, n = _rows(probabilities)
        weights = _weights(rows)
        self.weights = np.repeat(weights, n, axis=0) if rows.shape[0] != n else weights

    @classmethod
    def _of(cls, weights: np.ndarray) -> QuantizedRows:
        table = cls.__new__(cls)
        table.weights = weights
        return table

    def __len__(self) -> int:
        return self.weights.shape[0]

    def take(self, index: np.ndarray) -> QuantizedRows:
        """The rows ``index`` (ints, any shape, flattened) in that order."""
        return QuantizedRows._of(self.weights[np.asarray(index).reshape(-1)])


def _weights(rows: np.ndarray) -> np.ndarray:
    """constriction's weights of float64 rows: the quantized frequencies minus one, float32."""
    return np.ascontiguousarray(np.diff(_cdf(rows), axis=1) - 1, dtype=np.float32)


def _coding_weights(probabilities: np.ndarray | QuantizedRows) -> tuple[np.ndarray, int]:
    """The weights to code under, and how many symbols (a single row when broadcast)."""
    if isinstance(probabilities, QuantizedRows):
        return probabilities.weights, len(probabilities)
    rows, n = _rows(probabilities)
    return _weights(rows), n


class _Chunk:
    """One ``write``/``read`` call: its quantized model and its symbols, to code again when trimming."""

    __slots__ = ("weights", "count", "symbols")

    def __init__(self, weights: np.ndarray, count: int) -> None:
        # constriction's lazy categorical model turns weights w into the CDF
        # floor(sum(w[:j]) * (2**24 - L) / sum(w)) + j; with w = frequency - 1,
        # integers summing to 2**24 - L, that is exactly our CDF, in float32 or
        # float64 alike (all partial sums are integers below 2**24).
        self.weights = weights
        self.count = count
        self.symbols = np.empty(0, np.int32)

    def _model(self):
        import constriction

        if self.weights.shape[0] == 1 and self.count != 1:
            return constriction.stream.model.Categorical(self.weights[0], lazy=True), ()
        return constriction.stream.model.Categorical(perfect=False), (self.weights,)

    def encode(self, encoder) -> None:
        model, params = self._model()
        encoder.encode(self.symbols, model, *params)

    def decode(self, decoder) -> np.ndarray:
        model, params = self._model()
        return np.asarray(decoder.decode(model, *params) if params else decoder.decode(model, self.count))


def _words(data: bytes):
    """Big-endian 32-bit words of ``data``, zero-padded: a range decoder reads zeros past the end."""
    return np.frombuffer(bytes(data) + bytes(-len(data) % 4), ">u4").astype(np.uint32)


def _decodes_to(candidate: bytes, chunks: list[_Chunk]) -> bool:
    """Whether ``candidate`` decodes to exactly the symbols of ``chunks``."""
    import constriction

    decoder = constriction.stream.queue.RangeDecoder(_words(candidate))
    try:
        return all(np.array_equal(chunk.decode(decoder), chunk.symbols) for chunk in chunks)
    except _CODER_ERRORS:
        return False


def _shortest(sealed: bytes, chunks: list[_Chunk]) -> bytes:
    """The canonical payload: the shortest byte string that decodes to the symbols; of those, the least.

    A range coder's symbols decode from any number in the final interval
    ``[lower, lower + range)``, the stream read as a big-endian fraction and
    zero-extended. constriction seals with up to 64 bits more than that needs;
    here the shortest prefix length ``k`` is found by binary search (if ``k``
    bytes can hold a point of the interval, ``k + 1`` can), trying at each
    length the two ``k``-byte numbers either side of the sealed point (if any
    ``k``-byte number is in the interval, one of those two is, as the sealed
    point is). The interval is then walked down to its least ``k``-byte number
    (fewer than 256 of them, or ``k - 1`` bytes would do). Every test is a
    trial decode, so the result is correct by construction.
    """
    total = len(sealed)
    point = int.from_bytes(sealed, "big")

    def at(value: int, length: int) -> bytes:
        return value.to_bytes(length, "big")

    def fits(length: int) -> int | None:
        below = point >> (8 * (total - length))
        for value in (below, below + 1):
            if value.bit_length() <= 8 * length and _decodes_to(at(value, length), chunks):
                return value
        return None

    if not _decodes_to(sealed, chunks):  # constriction and this module disagree: a bug
        raise RuntimeError("the range coder's own output does not decode")
    lo, hi = 0, total
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    value = fits(lo)
    assert value is not None
    down, top = 0, min(value, 255)  # value - down decodes; find the largest such down
    while down < top:
        mid = (down + top + 1) // 2
        if _decodes_to(at(value - mid, lo), chunks):
            down = mid
        else:
            top = mid - 1
    return at(value - down, lo)


def _is_canonical(payload: bytes, chunks: list[_Chunk]) -> bool:
    """Whether ``payload`` (known to decode to the chunks' symbols) is what :func:`_shortest` makes."""
    k = len(payload)
    if k == 0:
        return True
    if payload[-1] == 0:  # the same number without that byte is shorter
        return False
    value = int.from_bytes(payload, "big")
    if _decodes_to((value - 1).to_bytes(k, "big"), chunks):
        return False  # not the least of its length
    # No point of the interval in k - 1 bytes: else one of the two either side of ours is.
    below = value >> 8
    return not any(v.bit_length() <= 8 * (k - 1) and _decodes_to(v.to_bytes(k - 1, "big"), chunks)
                   for v in (below, below + 1))


class SymbolWriter:
    """Range-code symbols under per-symbol probabilities; :meth:`finish` gives the trimmed payload.

    Append-only: each :meth:`write` codes its symbols after those of the
    previous calls, so a model may compute the next probabilities from what it
    has written (an autoregressive model writes slice by slice). A
    :class:`SymbolReader` must read them back in the same calls' order and
    sizes, with the same probabilities (bit for bit).

    Probabilities are quantized by :func:`quantize_probabilities` (every
    symbol at least ``2**-24``, so nothing is uncodable). Rows given as a
    broadcast view (``np.broadcast_to(row, (n, L))``) are quantized once.
    """

    def __init__(self) -> None:
        import constriction

        self._encoder = constriction.stream.queue.RangeEncoder()
        self._chunks: list[_Chunk] = []
        self._payload: bytes | None = None

    def write(self, symbols: np.ndarray, probabilities: np.ndarray | QuantizedRows) -> None:
        """Code ``symbols`` (ints ``0..L-1``, shape ``(n,)``) under ``probabilities`` (``(n, L)``)."""
        if self._payload is not None:
            raise ValueError("write after finish")
        weights, n = _coding_weights(probabilities)
        chunk = _Chunk(weights, n)
        chunk.symbols = _check_coded_symbols(symbols, n, weights.shape[1])
        if n:
            chunk.encode(self._encoder)
            self._chunks.append(chunk)

    def finish(self) -> bytes:
        """The payload: the shortest bytes that decode to everything written (see ``spec/gzl.md`` §4.2)."""
        if self._payload is None:
            words = np.asarray(self._encoder.get_compressed(), np.uint32)
            self._payload = _shortest(words.astype(">u4").tobytes(), self._chunks)
        return self._payload


class SymbolReader:
    """Decode what a :class:`SymbolWriter` wrote, in the same order and with the same probabilities.

    Any bytes decode to *some* symbols; :meth:`close` then checks that the
    payload is exactly the one :meth:`SymbolWriter.finish` writes for them (so
    trailing or altered bytes are refused). Call it after the last
    :meth:`read`.

    Raises
    ------
    FormatError
        From :meth:`read` when the bytes cannot be decoded under the given
        probabilities, from :meth:`close` when they are not the canonical
        payload of the symbols read.
    """

    def __init__(self, payload: bytes) -> None:
        import constriction

        self._payload = bytes(payload)
        self._decoder = constriction.stream.queue.RangeDecoder(_words(self._payload))
        self._chunks: list[_Chunk] = []
        self._closed = False

    def read(self, probabilities: np.ndarray | QuantizedRows) -> np.ndarray:
        """The next ``len(probabilities)`` symbols (int64, ``0..L-1``)."""
        if self._closed:
            raise ValueError("read after close")
        weights, n = _coding_weights(probabilities)
        chunk = _Chunk(weights, n)
        if n:
            try:
                chunk.symbols = chunk.decode(self._decoder).astype(np.int32)
            except _CODER_ERRORS as exc:
                raise FormatError(f"corrupt range payload ({exc})") from None
            self._chunks.append(chunk)
        return chunk.symbols.astype(np.int64)

    def close(self) -> None:
        """Check that the payload is the canonical coding of everything read."""
        if self._closed:
            return
        self._closed = True
        if not _is_canonical(self._payload, self._chunks):
            raise FormatError("range payload is not the shortest coding of its symbols "
                              "(trailing or altered bytes)")
