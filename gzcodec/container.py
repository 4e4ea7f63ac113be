"""The ``.gzl`` container: a 31-byte header, then the coded latent.

This module knows bytes, not models: it imports neither torch nor the
networks, so the format can be read, checked and tested anywhere.
``spec/gzl.md`` is the normative description; the :data:`HEADER` struct below
is its executable form.

Examples
--------
>>> header = Header(model_id=bytes(6), width=128, height=128, source_width=640,
...                 source_height=480, latent_shape=(32, 8, 8), bits=6, step=0.5,
...                 coding=Coding.ZSTD)
>>> data = pack(header, b"payload")
>>> len(data)
38
>>> unpack(data)[0].source_width
640
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import warnings
import zlib

import construct as cs

from .errors import (
    FormatError,
    IntegrityError,
    LimitError,
    TruncatedFileError,
    UnsupportedVersionError,
)

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MODEL_ID_SIZE",
    "MAX_LATENT_ELEMENTS",
    "MAX_PAYLOAD_BYTES",
    "MAX_FILE_BYTES",
    "Coding",
    "Header",
    "pack",
    "unpack",
    "parse_header",
    "check_pixels",
    "read_file",
]

MAGIC = b"GZL"
FORMAT_VERSION = 1
MODEL_ID_SIZE = 6
#: Largest latent a reader will allocate for (elements). A 32 x 8 x 8 face
#: latent has 2,048; this leaves room for models 500 times larger.
MAX_LATENT_ELEMENTS = 1 << 20
#: Payload length is a 16-bit field.
MAX_PAYLOAD_BYTES = 0xFFFF


class Coding(enum.IntEnum):
    """How the payload codes the quantized latent (``spec/gzl.md`` §4)."""

    RAW = 0  #: fixed-width ``bits``-bit fields, big-endian, row-major
    ZSTD = 1  #: zstd frame of the symbols as bytes (1 byte each up to 8 bits, else 2)
    ANS = 2  #: rANS under the model's own prior (constriction)


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
HEADER_SIZE = HEADER.sizeof()
_CRC_OFFSET = HEADER_SIZE - 4
#: No valid ``.gzl`` file is longer than this; readers never read more.
MAX_FILE_BYTES = HEADER_SIZE + MAX_PAYLOAD_BYTES


def check_pixels(width: int, height: int, what: str = "image", *, warn: bool = True) -> None:
    """Apply Pillow's decompression-bomb rule to a ``width x height`` image.

    Above :data:`PIL.Image.MAX_IMAGE_PIXELS` pixels a
    :class:`PIL.Image.DecompressionBombWarning` is issued (if ``warn``); above
    twice that, :class:`LimitError` is raised. ``MAX_IMAGE_PIXELS = None``
    disables both, as it does in Pillow.
    """
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit is None:
        return
    pixels = width * height
    if pixels > 2 * limit:
        raise LimitError(f"{what} of {width}x{height} = {pixels} pixels exceeds the limit of "
                         f"{2 * limit} (twice PIL.Image.MAX_IMAGE_PIXELS)")
    if warn and pixels > limit:
        warnings.warn(f"{what} of {width}x{height} = {pixels} pixels exceeds "
                      f"PIL.Image.MAX_IMAGE_PIXELS ({limit}); could be a decompression bomb",
                      Image.DecompressionBombWarning, stacklevel=3)


@dataclasses.dataclass(frozen=True)
class Header:
    """The decoded fields of a ``.gzl`` header.

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
    version: int = FORMAT_VERSION
    payload_length: int = 0

    @property
    def model_id_hex(self) -> str:
        return self.model_id.hex()

    @property
    def latent_elements(self) -> int:
        c, h, w = self.latent_shape
        return c * h * w

    @property
    def raw_payload_size(self) -> int:
        """Bytes of the payload coded as :attr:`Coding.RAW`."""
        return (self.latent_elements * self.bits + 7) // 8


def _validate(header: Header) -> None:
    """Check every field against the spec's ranges and the hard limits."""
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


def pack(header: Header, payload: bytes) -> bytes:
    """Serialize ``header`` and ``payload`` into a complete ``.gzl`` file.

    ``header.payload_length`` is ignored and set from ``payload``; the CRC is
    computed here. Raises :class:`FormatError` for fields out of range.
    """
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


def parse_header(data: bytes) -> Header:
    """Parse and validate the header at the start of ``data`` (no CRC check).

    This is all :func:`PIL.Image.open` needs: it reads ``HEADER_SIZE`` bytes.
    """
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise FormatError("not a .gzl file (bad magic)")
    if len(data) < 4:
        raise TruncatedFileError("file ends inside the header")
    if data[3] != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f".gzl format version {data[3]} is not supported (this gzcodec reads version "
            f"{FORMAT_VERSION})"
        )
    if len(data) < HEADER_SIZE:
        raise TruncatedFileError(f"file ends inside the header ({len(data)} of {HEADER_SIZE} bytes)")
    fields = HEADER.parse(data[:HEADER_SIZE])
    if fields.flags.reserved:
        raise UnsupportedVersionError(f"unknown flags 0x{fields.flags.reserved << 2:02x} are set")
    if fields.flags.coding not in Coding._value2member_map_:
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


def unpack(data: bytes) -> tuple[Header, bytes]:
    """Parse a whole ``.gzl`` file: validated header and payload, CRC checked."""
    header = parse_header(data)
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
