"""How a model codes its quantized latent in a version 2 file: the :class:`SymbolCoder` protocol.

A version 2 "range" payload (``spec/gzl.md`` §4.2) is whatever the model
writes to a :class:`~gzcodec.payload.SymbolWriter`: the model chooses the
order of its symbols and the probabilities of each, the writer range-codes
them. Decoding hands the model a :class:`~gzcodec.payload.SymbolReader` and
the model reads them back in the same order, computing each slice's
probabilities from what it has read so far if it likes (a context model).

The codec never looks inside: it asks the loaded model
(:attr:`gzcodec.zoo.LoadedModel.entropy`) for an object with this protocol,
and the file's one-byte ``rate`` is passed through for the model to
interpret. :class:`FactorizedTableCoder` is ``face128``'s: one categorical table
per latent channel and precision, ``rate`` is ``bits``.

No torch here, as in :mod:`gzcodec.payload`.

Examples
--------
>>> tables = {4: np.full((2, 16), 1 / 16)}
>>> prior = FactorizedTableCoder(tables, latent_shape=(2, 1, 3))
>>> symbols = np.array([[[-8, 0, 7]], [[1, 2, 3]]])
>>> writer = SymbolWriter()
>>> prior.write_symbols(symbols, writer, rate=4)
>>> payload = writer.finish()
>>> reader = SymbolReader(payload)
>>> prior.read_symbols(reader, rate=4).tolist() == symbols.tolist()
True
>>> reader.close()
>>> prior.information_bits(symbols, rate=4)
24.0
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .payload import SymbolReader, SymbolWriter, information_bits, symbol_offset

__all__ = ["SymbolCoder", "FactorizedTableCoder", "FactorizedPrior"]


@runtime_checkable
class SymbolCoder(Protocol):
    """What a model provides to code its quantized latent as a version 2 range payload.

    ``symbols`` are the model's signed integer latent, shaped as the model
    likes (``face128``: ``(C, h, w)``); ``rate`` is the header's rate byte.
    Encoder and decoder must give the writer and the reader the same calls,
    in the same order, with bit-identical probabilities: compute them with
    deterministic code (numpy/float64, or torch with deterministic CPU kernels
    at a fixed thread count), never from anything the file does not fix.
    """

    def codes_rate(self, rate: int) -> bool:
        """Whether this model can code (and decode) range payloads at ``rate``."""
        ...

    def write_symbols(self, symbols: np.ndarray, writer: SymbolWriter, *, rate: int) -> None:
        """Write every symbol of the latent to ``writer``."""
        ...

    def read_symbols(self, reader: SymbolReader, *, rate: int) -> np.ndarray:
        """Read back what :meth:`write_symbols` wrote; return the latent (int64)."""
        ...

    def information_bits(self, symbols: np.ndarray, *, rate: int) -> float:
        """``-sum(log2 p)`` of the symbols under the quantized probabilities the writer uses."""
        ...


class FactorizedTableCoder:
    """A symbol coder of fixed per-channel tables: every element of channel ``c`` coded under row ``c``.

    Not a model (CompressAI's ``FactorizedPrior`` is a whole one): the coder
    of the ``factorized`` family's tables, its prior already quantized.

    ``face128``'s entropy model. ``rate`` is ``bits``; channel ``c`` of a
    ``bits``-bit latent codes the unsigned symbols ``q + 2**(bits-1)`` under
    row ``c`` of ``pmf_tables[bits]`` (shape ``(C, 2**bits)``), channels in
    order 0 .. C-1, each channel's ``h * w`` elements in row-major order: one
    :meth:`SymbolWriter.write` per channel.

    Parameters
    ----------
    pmf_tables : dict of int to array
        ``{bits: (C, 2**bits) probabilities}``, as stored in the weights file.
    latent_shape : tuple of int
        ``(C, h, w)``.
    """

    def __init__(self, pmf_tables: dict[int, np.ndarray], *, latent_shape: tuple[int, int, int]
                 ) -> None:
        self.pmf_tables = pmf_tables
        self.latent_shape = tuple(latent_shape)

    def codes_rate(self, rate: int) -> bool:
        return rate in self.pmf_tables

    def _rows(self, rate: int, channel: int) -> np.ndarray:
        per_channel = self.latent_shape[1] * self.latent_shape[2]
        table = self.pmf_tables.get(rate)
        if table is None:
            raise ValueError(f"no probability table for rate (bits) {rate}")
        # A broadcast view: the writer quantizes the channel's row once.
        return np.broadcast_to(table[channel], (per_channel, table.shape[1]))

    def _unsigned(self, symbols: np.ndarray, rate: int) -> np.ndarray:
        q = np.asarray(symbols)
        if q.shape != self.latent_shape:
            raise ValueError(f"latent shaped {q.shape}, the model's is {self.latent_shape}")
        return (q.astype(np.int64) + symbol_offset(rate)).reshape(q.shape[0], -1)

    def write_symbols(self, symbols: np.ndarray, writer: SymbolWriter, *, rate: int) -> None:
        for channel, row in enumerate(self._unsigned(symbols, rate)):
            writer.write(row, self._rows(rate, channel))

    def read_symbols(self, reader: SymbolReader, *, rate: int) -> np.ndarray:
        channels = [reader.read(self._rows(rate, c)) for c in range(self.latent_shape[0])]
        return (np.stack(channels) - symbol_offset(rate)).reshape(self.latent_shape)

    def information_bits(self, symbols: np.ndarray, *, rate: int) -> float:
        return sum(information_bits(row, self._rows(rate, c))
                   for c, row in enumerate(self._unsigned(symbols, rate)))


#: The old name of :class:`FactorizedTableCoder`, kept importable for one release.
FactorizedPrior = FactorizedTableCoder
