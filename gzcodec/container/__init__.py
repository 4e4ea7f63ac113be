"""The ``.gzl`` container: a header, then the coded latent.

Two versions are read. Version 2 (:class:`HeaderV2`, written by default) has a
14-byte header when the image and source sizes are the model's: magic,
version, flags (coding, image size code, whether a source size follows), a
4-byte model id, one rate byte, optional varint sizes, CRC-32. Everything
that follows from the model (latent shape, quantization step) is left out and
checked against the model when decoding. Version 1 (:class:`Header`, 31
bytes, every field stored) is still read and written, so that old files
decode forever.

This module knows bytes, not models: it imports neither torch nor the
networks, so the format can be read, checked and tested anywhere.
``spec/gzl.md`` is the normative description; :mod:`.format2` and
:mod:`.format1` are its executable form (:data:`HEADER` is version 1's table),
:mod:`.common` what they share; this module reads and writes either.

Examples
--------
>>> header = HeaderV2(model_id=bytes(4), width=128, height=128, source_width=640,
...                   source_height=480, rate=6, coding=Coding.RANGE)
>>> data = pack(header, b"payload")
>>> len(data)          # 14 bytes of header, 4 of them the two varint source sizes
25
>>> unpack(data)[0].source_width
640
>>> v1 = Header(model_id=bytes(6), width=128, height=128, source_width=640,
...             source_height=480, latent_shape=(32, 8, 8), bits=6, step=0.5,
...             coding=Coding.ZSTD)
>>> len(pack(v1, b"payload"))
38
"""

from __future__ import annotations

import dataclasses
import os
from typing import Union

from ..errors import (
    FormatError,
    LimitError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from .common import (
    FORMAT_VERSION,
    MAGIC,
    MAX_LATENT_ELEMENTS,
    MAX_PAYLOAD_BYTES,
    MAX_SIZE,
    MAX_VARINT_BYTES,
    MODEL_ID_SIZE,
    READ_VERSIONS,
    Coding,
    check_pixels,
)
from .format1 import HEADER as HEADER  # the version 1 table, for readers of the spec
from .format1 import HEADER_SIZE, MAX_FILE_BYTES, Header, _pack_v1, _parse_v1, _unpack_v1
from .format2 import (
    MAX_PLACEMENT_SIZE,
    SIZE_CODES,
    V2_FIXED_SIZE,
    V2_MODEL_ID_SIZE,
    HeaderV2,
    Placement,
    _pack_v2,
    _parse_v2,
    _unpack_v2,
)

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "READ_VERSIONS",
    "HEADER_SIZE",
    "MAX_HEADER_SIZE",
    "V2_FIXED_SIZE",
    "MODEL_ID_SIZE",
    "V2_MODEL_ID_SIZE",
    "SIZE_CODES",
    "MAX_VARINT_BYTES",
    "MAX_PLACEMENT_SIZE",
    "MAX_SIZE",
    "MAX_LATENT_ELEMENTS",
    "MAX_PAYLOAD_BYTES",
    "MAX_FILE_BYTES",
    "Coding",
    "Placement",
    "Header",
    "HeaderV2",
    "AnyHeader",
    "pack",
    "unpack",
    "parse_header",
    "with_placement",
    "check_pixels",
    "read_file",
]

#: The longest header of any version (v2's is at most 10 + 4 size varints + a placement
#: + 4 = 44): what a reader needs to parse any header (Pillow's ``Image.open`` reads this much).
MAX_HEADER_SIZE = max(HEADER_SIZE, V2_FIXED_SIZE + 4 * MAX_VARINT_BYTES + MAX_PLACEMENT_SIZE + 4)

#: Either version's header, as :func:`parse_header` and :func:`unpack` return it.
AnyHeader = Union[Header, HeaderV2]


def pack(header: AnyHeader, payload: bytes) -> bytes:
    """Serialize ``header`` and ``payload`` into a complete ``.gzl`` file.

    A :class:`HeaderV2` makes a version 2 file, a :class:`Header` a version 1
    file. ``header.payload_length`` is ignored and set from ``payload``; the
    CRC is computed here. Raises :class:`FormatError` for fields out of range.
    """
    if isinstance(header, HeaderV2):
        return _pack_v2(header, payload)
    return _pack_v1(header, payload)


def _version(data: bytes) -> int:
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise FormatError("not a .gzl file (bad magic)")
    if len(data) < 4:
        raise TruncatedFileError("file ends inside the header")
    if data[3] not in READ_VERSIONS:
        raise UnsupportedVersionError(
            f".gzl format version {data[3]} is not supported (this gzcodec reads versions "
            f"{', '.join(map(str, READ_VERSIONS))})"
        )
    return data[3]


def parse_header(data: bytes) -> AnyHeader:
    """Parse and validate the header at the start of ``data`` (no CRC check).

    This is all :func:`PIL.Image.open` needs: it reads :data:`MAX_HEADER_SIZE`
    bytes. A version 2 header's ``payload_length`` counts the bytes of
    ``data`` after the header (the whole file's only when given the whole file).
    """
    if _version(data) == 1:
        return _parse_v1(data)
    return _parse_v2(data)


def with_placement(data: bytes, placement: Placement | None, *,
                   source_size: tuple[int, int] | None = None) -> bytes:
    """A version 2 file with its placement (and source size) replaced; the payload is untouched.

    Parameters
    ----------
    data : bytes
        A whole version 2 file.
    placement : Placement or None
        Where its image was cut from the source image; None removes it.
    source_size : (int, int), optional
        The source image's (width, height); by default the file's.

    Returns
    -------
    bytes
        The file, its header rewritten and its CRC recomputed.

    Examples
    --------
    >>> plain = pack(HeaderV2(model_id=bytes(4), width=128, height=128, source_width=128,
    ...                       source_height=128, rate=6, coding=Coding.RANGE), b"payload")
    >>> placed = with_placement(plain, Placement(16 * 300, 16 * 200, 16 * 150, 0),
    ...                         source_size=(640, 480))
    >>> len(plain), len(placed), unpack(placed)[0].placement.centre
    (21, 33, (300.0, 200.0))
    >>> with_placement(placed, None, source_size=(128, 128)) == plain
    True
    """
    header, payload = unpack(data)
    if not isinstance(header, HeaderV2):
        raise FormatError("only version 2 files carry a placement")
    width, height = source_size or (header.source_width, header.source_height)
    return pack(dataclasses.replace(header, placement=placement, source_width=width,
                                    source_height=height), payload)


def unpack(data: bytes) -> tuple[AnyHeader, bytes]:
    """Parse a whole ``.gzl`` file: validated header and payload, CRC checked."""
    if _version(data) == 1:
        return _unpack_v1(data)
    return _unpack_v2(data)


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the ``.gzl`` file at ``path``, never reading more than a ``.gzl`` can hold.

    Raises :class:`FormatError` for a file that does not start with the magic,
    :class:`LimitError` for one longer than :data:`MAX_FILE_BYTES`, and
    :class:`OSError` if it cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if data[: len(MAGIC)] != MAGIC:
        raise FormatError(f"{os.fspath(path)}: not a .gzl file (bad magic)")
    if len(data) > MAX_FILE_BYTES:
        raise LimitError(f"{os.fspath(path)}: longer than the largest possible .gzl file "
                         f"({MAX_FILE_BYTES} bytes)")
    return data
