"""The v2 range coder (``SymbolWriter``/``SymbolReader``): round trips, exact quantization,
the shortest termination, and refusal of every payload that is not the canonical one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gzcodec.errors import FormatError
from gzcodec.payload import (
    RANGE_PRECISION,
    QuantizedRows,
    SymbolReader,
    SymbolWriter,
    information_bits,
    quantize_probabilities,
)

from .conftest import scaled


def _source(rng, n_slices=4, n=64, size=16, concentration=0.3):
    """Slices of symbols, each with its own (broadcast) row of probabilities."""
    out = []
    for _ in range(n_slices):
        row = rng.dirichlet(np.full(size, concentration))
        out.append((rng.choice(size, size=n, p=row), np.broadcast_to(row, (n, size))))
    return out


def _write(slices) -> bytes:
    writer = SymbolWriter()
    for symbols, probs in slices:
        writer.write(symbols, probs)
    return writer.finish()


def _read(data, slices) -> list[np.ndarray]:
    reader = SymbolReader(data)
    out = [reader.read(probs) for _, probs in slices]
    reader.close()
    return out


def _reference_interval(slices) -> tuple[int, int, int]:
    """The final coding interval ``[lower, lower + range)`` in units of 2**-(8 * n_bytes), computed
    with Python integers from our own quantized tables: an independent model of the range coder
    (constriction's ``RangeEncoder``, 64-bit state, 32-bit words, 24-bit probabilities)."""
    lower, width, shift = 0, (1 << 64) - 1, 0
    for symbols, probs in slices:
        cdf = quantize_probabilities(probs)
        for s, row in zip(symbols, cdf, strict=True):
            scale = width >> RANGE_PRECISION
            lower += scale * int(row[s])
            width = scale * int(row[s + 1] - row[s])
            if width < 1 << 32:
                lower, width, shift = lower << 32, width << 32, shift + 32
    return lower, width, 8 + shift // 8


def test_round_trip_interleaved_slices_and_row_kinds():
    rng = np.random.default_rng(0)
    slices = _source(rng)
    # A slice with its own row per symbol (a context model's), in float32.
    rows = rng.dirichlet(np.full(16, 0.5), size=50).astype(np.float32)
    slices.append((np.array([rng.choice(16, p=r / r.sum()) for r in rows.astype(np.float64)]), rows))
    data = _write(slices)
    for (symbols, _), out in zip(slices, _read(data, slices), strict=True):
        np.testing.assert_array_equal(out, symbols)
        assert out.dtype == np.int64


@pytest.mark.parametrize("seed", range(6))
def test_payload_is_the_least_shortest_point_of_the_exact_interval(seed):
    """Our quantization is constriction's (the interval computed from our tables holds its
    output) and the termination is the shortest possible, as exact arithmetic says."""
    rng = np.random.default_rng(seed)
    slices = _source(rng, size=int(rng.choice([4, 16, 64, 256])), n=int(rng.integers(1, 90)))
    data = _write(slices)
    lower, width, n_bytes = _reference_interval(slices)
    for k in range(n_bytes + 1):
        unit = 256 ** (n_bytes - k)
        least = -(-lower // unit) * unit
        if least < lower + width:
            break
    assert len(data) == k
    assert int.from_bytes(data, "big") * 256 ** (n_bytes - k) == least


def test_overhead_over_the_information_content_is_under_two_bytes():
    rng = np.random.default_rng(1)
    overheads = []
    for _ in range(40):
        slices = _source(rng, n_slices=32, size=int(rng.choice([4, 16, 64])))
        info = sum(information_bits(s, p) for s, p in slices)
        overheads.append(len(_write(slices)) - info / 8)
    assert max(overheads) < 2
    assert np.median(overheads) < 1


def test_information_bits_are_those_of_the_quantized_tables():
    probs = np.array([[0.5, 0.25, 0.25, 0.0]] * 3)
    cdf = quantize_probabilities(probs)
    assert (cdf[:, 0] == 0).all() and (cdf[:, -1] == 1 << 24).all()
    freq = np.diff(cdf, axis=1)
    assert (freq >= 1).all()  # a zero probability still codes
    symbols = np.array([0, 3, 1])
    expected = -np.log2(freq[np.arange(3), symbols] / 2**24).sum()
    assert information_bits(symbols, probs) == pytest.approx(expected)
    data = _write([(symbols, probs)])
    assert _read(data, [(symbols, probs)])[0].tolist() == [0, 3, 1]


def test_the_same_floats_give_the_same_bytes_whatever_the_layout():
    rng = np.random.default_rng(2)
    row = rng.random(32)
    symbols = rng.integers(0, 32, 100)
    broadcast = _write([(symbols, np.broadcast_to(row, (100, 32)))])
    materialized = _write([(symbols, np.tile(row, (100, 1)))])
    scaled_rows = _write([(symbols, np.tile(row * 7.0, (100, 1)))])  # rows need not sum to 1
    assert broadcast == materialized
    assert len(scaled_rows) == len(broadcast)


def test_nothing_written_is_an_empty_payload():
    assert SymbolWriter().finish() == b""
    reader = SymbolReader(b"")
    assert reader.read(np.ones((0, 4))).shape == (0,)
    reader.close()


def test_a_certain_latent_codes_to_nothing():
    probs = np.broadcast_to(np.array([1.0, 0.0, 0.0]), (10, 3))
    data = _write([(np.zeros(10, np.int64), probs)])
    assert data == b""
    assert _read(data, [(np.zeros(10, np.int64), probs)])[0].tolist() == [0] * 10


@pytest.mark.parametrize("damage", ["append", "append-zero", "drop-last", "bump-last", "first"])
def test_altered_payloads_never_decode_to_the_same_symbols(damage):
    """Symbols and canonical payloads are one to one: altered bytes are refused, or (like a
    shortened payload, the canonical coding of other symbols) decode to other symbols."""
    rng = np.random.default_rng(3)
    slices = _source(rng)
    data = _write(slices)
    altered = {
        "append": data + b"\x01",
        "append-zero": data + b"\x00",
        "drop-last": data[:-1],
        "bump-last": data[:-1] + bytes([(data[-1] + 1) % 256]),
        "first": bytes([data[0] ^ 0x80]) + data[1:],
    }[damage]
    reader = SymbolReader(altered)
    try:
        out = [reader.read(p) for _, p in slices]
        reader.close()
    except FormatError:
        return
    assert damage not in ("append", "append-zero"), "trailing bytes were not noticed"
    assert any((o != s).any() for o, (s, _) in zip(out, slices, strict=True))


@pytest.mark.parametrize(
    ("symbols", "probs", "error"),
    [
        (np.array([0]), np.array([0.5, 0.5]), ValueError),  # 1-D probabilities
        (np.array([0]), np.array([[1.0]]), ValueError),  # alphabet of one
        (np.array([2]), np.array([[0.5, 0.5]]), ValueError),  # symbol outside the alphabet
        (np.array([0, 1]), np.array([[0.5, 0.5]]), ValueError),  # counts differ
        (np.array([0]), np.array([[np.nan, 0.5]]), ValueError),
        (np.array([0]), np.array([[-0.1, 0.5]]), ValueError),
        (np.array([0]), np.array([[0.0, 0.0]]), ValueError),
        (np.array([0]), np.array([[1e308, 1e308]]), ValueError),  # the sum overflows
        (np.array([0.0]), np.array([[0.5, 0.5]]), TypeError),
    ],
)
def test_bad_arguments_are_refused(symbols, probs, error):
    with pytest.raises(error):
        SymbolWriter().write(symbols, probs)


def test_garbage_payloads_decode_or_fail_with_a_format_error():
    """Short garbage is often the canonical coding of *some* symbols (as it should be: any
    symbols have one); garbage longer than any symbols under the model could need never is."""
    rng = np.random.default_rng(4)
    probs = np.broadcast_to(np.array([0.99, 0.01]), (40, 2))
    most = information_bits(np.ones(40, np.int64), probs) / 8  # about 33 bytes
    for n in range(0, 80):
        reader = SymbolReader(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        try:
            reader.read(probs)
            reader.close()
        except FormatError:
            continue
        assert n <= most + 2


@settings(max_examples=scaled(150), deadline=None)
@given(st.data())
def test_any_symbols_round_trip_canonically(data):
    size = data.draw(st.integers(2, 40), label="alphabet")
    n_slices = data.draw(st.integers(0, 4), label="slices")
    slices = []
    for _ in range(n_slices):
        n = data.draw(st.integers(0, 30))
        weights = data.draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-12, 1e6)), min_size=size,
                                     max_size=size).filter(lambda w: sum(w) > 0))
        symbols = np.array(data.draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)),
                           np.int64)
        slices.append((symbols, np.broadcast_to(np.array(weights), (n, size))))
    payload = _write(slices)
    for (symbols, _), out in zip(slices, _read(payload, slices), strict=True):
        np.testing.assert_array_equal(out, symbols)
    assert not payload or payload[-1] != 0


class _ToyContextModel:
    """A two-slice autoregressive model: the second slice's probabilities depend on the first
    slice's symbols, as a context model's would (the :class:`SymbolCoder` protocol)."""

    size = 8

    def codes_rate(self, rate: int) -> bool:
        return rate == 0

    def _second_rows(self, first: np.ndarray) -> np.ndarray:
        rows = np.full((len(first), self.size), 0.02)
        rows[np.arange(len(first)), first] = 1.0  # "probably the same symbol again"
        return rows

    def write_symbols(self, symbols, writer, *, rate):
        first, second = symbols
        writer.write(first, np.broadcast_to(np.ones(self.size), (len(first), self.size)))
        writer.write(second, self._second_rows(first))

    def read_symbols(self, reader, *, rate):
        first = reader.read(np.broadcast_to(np.ones(self.size), (10, self.size)))
        return np.stack([first, reader.read(self._second_rows(first))])

    def information_bits(self, symbols, *, rate):
        first, second = symbols
        return (information_bits(first, np.broadcast_to(np.ones(self.size), (10, self.size)))
                + information_bits(second, self._second_rows(first)))


def test_a_context_model_codes_slice_by_slice_through_the_protocol():
    from gzcodec.entropy import FactorizedTableCoder, SymbolCoder

    model = _ToyContextModel()
    assert isinstance(model, SymbolCoder)
    assert isinstance(FactorizedTableCoder({}, latent_shape=(1, 1, 1)), SymbolCoder)
    rng = np.random.default_rng(5)
    first = rng.integers(0, 8, 10)
    symbols = np.stack([first, np.where(rng.random(10) < 0.8, first, rng.integers(0, 8, 10))])
    writer = SymbolWriter()
    model.write_symbols(symbols, writer, rate=0)
    data = writer.finish()
    reader = SymbolReader(data)
    np.testing.assert_array_equal(model.read_symbols(reader, rate=0), symbols)
    reader.close()
    assert -1 <= len(data) - model.information_bits(symbols, rate=0) / 8 <= 2


@settings(max_examples=scaled(25), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(2, 90), n=st.integers(1, 300))
def test_a_table_quantized_once_codes_the_same_bits_as_its_float_rows(seed, size, n):
    # The context coder quantizes the Gaussian table once and picks rows per
    # element; files and information content must not change by a bit.
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(size, 0.4), size=7) * rng.uniform(0.5, 3, size=(7, 1))
    index = rng.integers(0, 7, size=n)
    symbols = np.array([rng.choice(size, p=table[i] / table[i].sum()) for i in index])
    picked = QuantizedRows(table).take(index)
    assert len(picked) == n

    as_floats, as_table = SymbolWriter(), SymbolWriter()
    as_floats.write(symbols, table[index])
    as_table.write(symbols, picked)
    data = as_floats.finish()
    assert as_table.finish() == data
    reader = SymbolReader(data)
    assert np.array_equal(reader.read(picked), symbols)
    reader.close()
    assert information_bits(symbols, picked) == information_bits(symbols, table[index])


def test_a_quantized_table_refuses_what_float_rows_refuse():
    with pytest.raises(ValueError, match="non-negative"):
        QuantizedRows(np.array([[0.5, -0.1, 0.6]]))
    with pytest.raises(ValueError, match="alphabet"):
        SymbolWriter().write(np.array([3]), QuantizedRows(np.ones((1, 3))).take(np.array([0])))
