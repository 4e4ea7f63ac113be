"""Format 1 of ``.gzl`` files: a 31-byte header that stores every field (``spec/gzl.md`` §1.2).

Still read and written, so that old files decode forever. :data:`HEADER` is the
spec's table as a ``construct`` struct. Part of :mod:`gzcodec.container`, which
re-exports every name.
"""

from __future__ import annotations

import dataclasses
import math
import zlib

import construct as cs

from ..errors import (
    FormatError,
    IntegrityError,
    LimitError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from .common import (
    _CODINGS,
    MAGIC,
    MAX_LATENT_ELEMENTS,
    MAX_PAYLOAD_BYTES,
    MODEL_ID_SIZE,
    Coding,
    check_pixels,
)

__all__ = ["HEADER", "HEADER_SIZE", "MAX_FILE_BYTES", "Header"]


HEADER = cs.Struct(
    "magic" / cs.Const(MAGIC),
    "version" / cs.Int8ub,
    "flags" / cs.BitStruct("reserved" / cs.BitsInteger(6), "coding" / cs.BitsInteger(2)),
    "model_id" / cs.Bytes(MODEL_ID_SIZE),
    "width" / cs.Int16ub,
    "height" / cs.Int16ub,
    "source_width" / cs.Int16ub,
    "source_height" / cs.Int16ub,
    "latent_channels" / cs.Int8ub,
    "latent_height" / cs.Int8ub,
    "latent_width" / cs.Int8ub,
    "bits" / cs.Int8ub,
    "step" / cs.Float16b,
    "payload_length" / cs.Int16ub,
    "crc32" / cs.Int32ub,
)
#: Size of a version 1 header (:data:`HEADER`).
HEADER_SIZE = HEADER.sizeof()
_CRC_OFFSET = HEADER_SIZE - 4
#: No valid ``.gzl`` file is longer than this (a version 2 file with a placement has a
#: payload that much shorter); readers never read more.
MAX_FILE_BYTES = HEADER_SIZE + MAX_PAYLOAD_BYTES


@dataclasses.dataclass(frozen=True)
class Header:
    """The decoded fields of a version 1 ``.gzl`` header.

    ``width``/``height`` are the decoded image's size (the model's); the
    ``source_*`` fields give the size of the image that was encoded.
    """

    model_id: bytes
    width: int
    height: int
    source_width: int
    source_height: int
    latent_shape: tuple[int, int, int]
    bits: int
    step: float
    coding: Coding
    version: int = 1
    payload_length: int = 0

    @property
    def model_id_hex(self) -> str:
        return self.model_id.hex()

    @property
    def rate(self) -> int:
        """The rate point: in version 1 always ``bits`` (as :attr:`HeaderV2.rate`)."""
        return self.bits

    @property
    def header_size(self) -> int:
        return HEADER_SIZE

    @property
    def latent_elements(self) -> int:
        c, h, w = self.latent_shape
        return c * h * w

    @property
    def raw_payload_size(self) -> int:
        """Bytes of the payload coded as :attr:`Coding.RAW`."""
        return (self.latent_elements * self.bits + 7) // 8


def _validate(header: Header) -> None:
    """Check every field of a version 1 header against the spec's ranges and the hard limits."""
    if header.version != 1 or header.coding not in _CODINGS[1]:
        raise FormatError(f"a version 1 header cannot have coding {header.coding!r} or version "
                          f"{header.version}")
    if len(header.model_id) != MODEL_ID_SIZE:
        raise FormatError(f"model id must be {MODEL_ID_SIZE} bytes")
    if not (header.width >= 1 and header.height >= 1):
        raise FormatError(f"image size {header.width}x{header.height} is empty")
    if not (header.source_width >= 1 and header.source_height >= 1):
        raise FormatError(f"source size {header.source_width}x{header.source_height} is empty")
    # Pillow itself warns between MAX_IMAGE_PIXELS and twice that when it opens the file.
    check_pixels(header.width, header.height, warn=False)
    if min(header.latent_shape) < 1:
        raise FormatError(f"latent shape {header.latent_shape} is empty")
    if header.latent_elements > MAX_LATENT_ELEMENTS:
        raise LimitError(
            f"latent of {header.latent_elements} elements exceeds the limit of {MAX_LATENT_ELEMENTS}"
        )
    if not 2 <= header.bits <= 16:
        raise FormatError(f"bits per element must be 2..16, not {header.bits}")
    if not (math.isfinite(header.step) and header.step > 0):
        raise FormatError(f"quantization step must be a positive number, not {header.step}")
    if header.payload_length > MAX_PAYLOAD_BYTES:
        raise LimitError(f"payload of {header.payload_length} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if header.coding == Coding.RAW and header.payload_length != header.raw_payload_size:
        raise FormatError(
            f"raw payload must be {header.raw_payload_size} bytes, header says {header.payload_length}"
        )


def _pack_v1(header: Header, payload: bytes) -> bytes:
    header = dataclasses.replace(header, payload_length=len(payload), coding=Coding(header.coding))
    _validate(header)
    c, h, w = header.latent_shape
    fields = dict(
        version=header.version,
        flags=dict(reserved=0, coding=int(header.coding)),
        model_id=header.model_id,
        width=header.width,
        height=header.height,
        source_width=header.source_width,
        source_height=header.source_height,
        latent_channels=c,
        latent_height=h,
        latent_width=w,
        bits=header.bits,
        step=header.step,
        payload_length=len(payload),
        crc32=0,
    )
    try:
        raw = bytearray(HEADER.build(fields))
    except (cs.ConstructError, OverflowError) as exc:
        raise FormatError(f"header field out of range: {exc}") from None
    if HEADER.parse(bytes(raw)).step != header.step:
        raise FormatError(f"quantization step {header.step} is not representable as float16")
    crc = zlib.crc32(payload, zlib.crc32(raw[:_CRC_OFFSET]))
    raw[_CRC_OFFSET:] = crc.to_bytes(4, "big")
    return bytes(raw) + payload


def _parse_v1(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise TruncatedFileError(f"file ends inside the header ({len(data)} of {HEADER_SIZE} bytes)")
    fields = HEADER.parse(data[:HEADER_SIZE])
    if fields.flags.reserved:
        raise UnsupportedVersionError(f"unknown flags 0x{fields.flags.reserved << 2:02x} are set")
    if fields.flags.coding not in _CODINGS[1]:
        raise UnsupportedVersionError(f"unknown payload coding {fields.flags.coding}")
    header = Header(
        model_id=bytes(fields.model_id),
        width=fields.width,
        height=fields.height,
        source_width=fields.source_width,
        source_height=fields.source_height,
        latent_shape=(fields.latent_channels, fields.latent_height, fields.latent_width),
        bits=fields.bits,
        step=float(fields.step),
        coding=Coding(fields.flags.coding),
        version=fields.version,
        payload_length=fields.payload_length,
    )
    _validate(header)
    return header


def _unpack_v1(data: bytes) -> tuple[Header, bytes]:
    header = _parse_v1(data)
    end = HEADER_SIZE + header.payload_length
    if len(data) < end:
        raise TruncatedFileError(
            f"file is truncated: payload needs {header.payload_length} bytes, "
            f"{max(len(data) - HEADER_SIZE, 0)} present"
        )
    if len(data) > end:
        raise FormatError(f"{len(data) - end} unexpected bytes after the payload")
    payload = data[HEADER_SIZE:end]
    stored = int.from_bytes(data[_CRC_OFFSET:HEADER_SIZE], "big")
    if zlib.crc32(payload, zlib.crc32(data[:_CRC_OFFSET])) != stored:
        raise IntegrityError("checksum mismatch: the file is damaged")
    return header, payload
