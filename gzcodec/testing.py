"""Helpers that damage ``.gzl`` files on purpose, for fuzzers and hostile-input tests.

Not part of the format (``spec/gzl.md`` and :mod:`gzcodec.container` are): a
fuzzer that flips a byte of a file is stopped by the header's CRC-32 at once;
:func:`with_valid_crc` recomputes it, so that the damage reaches the checks
behind the CRC. Imports no torch.
"""

from __future__ import annotations

import zlib

from .container import HEADER_SIZE, MAX_VARINT_BYTES, V2_FIXED_SIZE

__all__ = ["lenient_header_size", "with_valid_crc"]


def lenient_header_size(data: bytes | bytearray) -> int | None:
    """Where the header at the start of ``data`` ends, CRC included, read leniently.

    Only what the header's length depends on is read, and no value is checked:
    the version byte (2: the version 2 layout; anything else is taken for
    version 1 and its :data:`HEADER_SIZE`), then in version 2 the flags and
    the varints' continuation bits (at most :data:`MAX_VARINT_BYTES` each). For
    tools that must find the CRC of damaged or made-up bytes (the fuzzers, the
    hostile-input tests); readers use :func:`parse_header`, which checks.

    Parameters
    ----------
    data : bytes or bytearray
        The start of a file, or all of it.

    Returns
    -------
    int or None
        The header's size in bytes, or ``None`` if ``data`` ends first.

    Examples
    --------
    >>> data = pack(HeaderV2(model_id=bytes(4), width=128, height=128, source_width=640,
    ...                      source_height=480, rate=6, coding=Coding.RANGE), b"payload")
    >>> lenient_header_size(data), lenient_header_size(data[:12])
    (18, None)
    """
    if len(data) < 4:
        return None
    if data[3] != 2:
        return HEADER_SIZE if len(data) >= HEADER_SIZE else None
    if len(data) < V2_FIXED_SIZE:
        return None
    pos = V2_FIXED_SIZE
    flags = data[4]
    varints = 2 * ((flags >> 2 & 7) == 0) + 2 * bool(flags & 0x20) + 3 * bool(flags & 0x40)
    for _ in range(varints):
        for _byte in range(MAX_VARINT_BYTES):
            if pos >= len(data):
                return None
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    pos += 2 * bool(flags & 0x40)  # the placement's angle
    return pos + 4 if pos + 4 <= len(data) else None


def with_valid_crc(data: bytes | bytearray, header_size: int | None = None) -> bytes:
    """``data`` with its header's CRC-32 recomputed, whatever else is wrong with it.

    For tools that build damaged but checksummed inputs (the fuzzers and their
    seed corpus, the hostile-input tests), so that the damage reaches the checks
    behind the CRC. Either version: the CRC is the 4 bytes that end the header,
    found by :func:`lenient_header_size`, and covers everything else in the file.

    Parameters
    ----------
    data : bytes or bytearray
        A whole file, valid or not.
    header_size : int, optional
        Where the header ends (CRC included), if not where
        :func:`lenient_header_size` finds it: e.g. ``HEADER_SIZE`` to checksum
        a version 1 file whose version byte was changed.

    Returns
    -------
    bytes
        ``data`` with the 4 bytes before ``header_size`` replaced by the CRC;
        ``data`` unchanged if it ends before its header does.

    Examples
    --------
    >>> data = pack(HeaderV2(model_id=bytes(4), width=128, height=128, source_width=640,
    ...                      source_height=480, rate=6, coding=Coding.RANGE), b"payload")
    >>> damaged = data[:9] + b"\\x07" + data[10:]    # rate 7: the CRC no longer matches
    >>> unpack(with_valid_crc(damaged))[0].rate
    7
    >>> with_valid_crc(data[:12]) == data[:12]      # ends inside the header
    True
    """
    data = bytes(data)
    end = lenient_header_size(data) if header_size is None else header_size
    if end is None or not 4 <= end <= len(data):
        return data
    crc = zlib.crc32(data[end:], zlib.crc32(data[:end - 4]))
    return data[:end - 4] + crc.to_bytes(4, "big") + data[end:]
