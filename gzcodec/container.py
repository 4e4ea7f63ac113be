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
``spec/gzl.md`` is the normative description; :data:`HEADER` (version 1) and
:func:`pack` (version 2) are its executable form.

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
import enum
import math
import os
import warnings
import zlib
from typing import Union

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

MAGIC = b"GZL"
#: The version :func:`pack` writes for a :class:`HeaderV2`; :class:`Header` is version 1.
FORMAT_VERSION = 2
#: Versions this reader decodes.
READ_VERSIONS = (1, 2)
#: Length of the full model id (version 1 stores it all; it names models everywhere).
MODEL_ID_SIZE = 6
#: Version 2 stores the first 4 bytes of the model id (``spec/gzl.md`` §3).
V2_MODEL_ID_SIZE = 4
#: Version 2 size codes (flags bits 2-4): a square image of this side, no varints needed.
SIZE_CODES = {code: 8 << code for code in range(1, 8)}
#: Version 2 varints are LEB128, at most this many bytes (values below 2**28), minimal.
MAX_VARINT_BYTES = 4
#: Largest size a version 2 varint can carry.
MAX_SIZE = (1 << (7 * MAX_VARINT_BYTES)) - 1
#: Largest latent a reader will allocate for (elements). A 32 x 8 x 8 face
#: latent has 2,048; this leaves room for models 500 times larger.
MAX_LATENT_ELEMENTS = 1 << 20
#: Payload length is a 16-bit field.
MAX_PAYLOAD_BYTES = 0xFFFF


class Coding(enum.IntEnum):
    """How the payload codes the quantized latent (``spec/gzl.md`` §4)."""

    RAW = 0  #: fixed-width ``bits``-bit fields, big-endian, row-major
    ZSTD = 1  #: zstd frame of the symbols as bytes (1 byte each up to 8 bits, else 2)
    ANS = 2  #: version 1 only: rANS under the model's own prior (constriction)
    RANGE = 3  #: version 2 only: range coding under the model's entropy model, trimmed


#: Codings each version allows (the value in the file is the enum's value).
_CODINGS = {1: (Coding.RAW, Coding.ZSTD, Coding.ANS), 2: (Coding.RAW, Coding.ZSTD, Coding.RANGE)}


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
#: Version 2: magic, version, flags, model id and rate come first, always.
V2_FIXED_SIZE = 10
#: Version 2's optional placement (flags bit 6): 3 varints and a 2-byte angle.
MAX_PLACEMENT_SIZE = 3 * MAX_VARINT_BYTES + 2
#: The longest header of any version (v2's is at most 10 + 4 size varints + a placement
#: + 4 = 44): what a reader needs to parse any header (Pillow's ``Image.open`` reads this much).
MAX_HEADER_SIZE = max(HEADER_SIZE, V2_FIXED_SIZE + 4 * MAX_VARINT_BYTES + MAX_PLACEMENT_SIZE + 4)
#: No valid ``.gzl`` file is longer than this (a version 2 file with a placement has a
#: payload that much shorter); readers never read more.
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



# --------------------------------------------------------------------------- version 2


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a face crop came from in its source image (``spec/gzl.md`` §1.4), fixed-point.

    The decoded ``S x S`` image is the square of side ``side`` source pixels
    centred at ``(centre_x, centre_y)`` and turned by ``angle``: a point
    ``(u, v)`` of the decoded image (pixel corners: its top-left corner is
    ``(0, 0)``, pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``) came from the
    source point ``centre + side / S * R(angle) @ (u - S/2, v - S/2)``, with
    ``R(a) = [[cos a, -sin a], [sin a, cos a]]`` in the same corner
    coordinates of the source image (x right, y down, so a positive angle
    turns clockwise on screen).

    Stored as integers: ``centre_x``, ``centre_y`` and ``side`` in
    1/:data:`UNIT` pixels, ``angle`` in 1/:data:`ANGLE_STEPS` of a turn.
    :meth:`from_geometry` rounds floats to them.

    Examples
    --------
    >>> p = Placement.from_geometry(centre=(320.3, 200.0), side=150.0, angle=-0.25)
    >>> p.centre_x, p.side, p.angle
    (5125, 2400, 62928)
    >>> round(p.angle_radians, 4), p.centre
    (-0.25, (320.3125, 200.0))
    """

    centre_x: int
    centre_y: int
    side: int
    angle: int

    #: Fixed-point steps per source pixel of the centre and side.
    UNIT = 16
    #: Steps of the angle per turn.
    ANGLE_STEPS = 1 << 16

    @classmethod
    def from_geometry(cls, *, centre: tuple[float, float], side: float, angle: float) -> Placement:
        """The placement of a crop centred at ``centre`` (source pixels), ``side`` wide, turned
        ``angle`` radians, rounded to the stored steps."""
        turn = round(angle / (2 * math.pi) * cls.ANGLE_STEPS) % cls.ANGLE_STEPS
        return cls(round(centre[0] * cls.UNIT), round(centre[1] * cls.UNIT),
                   max(1, round(side * cls.UNIT)), turn)

    @property
    def centre(self) -> tuple[float, float]:
        """The crop's centre in source pixels (corner coordinates)."""
        return self.centre_x / self.UNIT, self.centre_y / self.UNIT

    @property
    def side_pixels(self) -> float:
        """The crop's side in source pixels."""
        return self.side / self.UNIT

    @property
    def angle_radians(self) -> float:
        """The turn in radians, in [-pi, pi)."""
        steps = self.angle - self.ANGLE_STEPS if self.angle >= self.ANGLE_STEPS // 2 else self.angle
        return steps * 2 * math.pi / self.ANGLE_STEPS

    def to_bytes(self) -> bytes:
        """The field as stored: zigzag varints of the centre, a varint side, a u16 angle."""
        return (_varint(_zigzag(self.centre_x)) + _varint(_zigzag(self.centre_y))
                + _varint(self.side) + self.angle.to_bytes(2, "big"))


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzigzag(value: int) -> int:
    return value >> 1 if not value & 1 else -(value >> 1) - 1


def _validate_placement(placement: Placement) -> None:
    for name in ("centre_x", "centre_y"):
        if _zigzag(getattr(placement, name)) > MAX_SIZE:
            raise LimitError(f"placement {name} {getattr(placement, name)} is out of the varint range")
    if not 1 <= placement.side <= MAX_SIZE:
        raise FormatError(f"placement side must be 1..{MAX_SIZE} (1/16 pixels), not {placement.side}")
    if not 0 <= placement.angle < Placement.ANGLE_STEPS:
        raise FormatError(f"placement angle must be 0..{Placement.ANGLE_STEPS - 1}, not {placement.angle}")


@dataclasses.dataclass(frozen=True)
class HeaderV2:
    """The decoded fields of a version 2 ``.gzl`` header (``spec/gzl.md`` §1).

    ``rate`` is the one byte of quantization: the model interprets it
    (``face128`` reads it as ``bits``, 2..16; a continuous-rate model as its
    rate index 0..255). The latent shape and step are the model's and are
    not stored. ``model_id`` is the first :data:`V2_MODEL_ID_SIZE` bytes of
    the model's id. ``payload_length`` is the rest of the file.
    """

    model_id: bytes
    width: int
    height: int
    source_width: int
    source_height: int
    rate: int
    coding: Coding
    version: int = 2
    payload_length: int = 0
    #: Where the image was cut from its source (a face aligned by :mod:`gzcodec.align`), or None.
    placement: Placement | None = None

    @property
    def model_id_hex(self) -> str:
        return self.model_id.hex()

    @property
    def bits(self) -> int:
        """``rate``, under the name ``face128`` gives it (its latent precision)."""
        return self.rate

    @property
    def size_code(self) -> int:
        """The size code of the image size, 0 if it needs explicit varints."""
        if self.width == self.height:
            for code, side in SIZE_CODES.items():
                if side == self.width:
                    return code
        return 0

    @property
    def has_source_size(self) -> bool:
        return (self.source_width, self.source_height) != (self.width, self.height)

    @property
    def header_size(self) -> int:
        return len(_v2_fields(self)) + 4


#: Either version's header, as :func:`parse_header` and :func:`unpack` return it.
AnyHeader = Union[Header, HeaderV2]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """The varint at ``data[pos:]`` and the position after it; never reads past 4 bytes."""
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise TruncatedFileError(f"file ends inside the header ({len(data)} bytes)")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i and not byte:  # a zero last byte: the same value fits in fewer bytes
                raise FormatError(f"{what} is not a minimal varint")
            return value, pos + i + 1
    raise FormatError(f"{what} varint runs past {MAX_VARINT_BYTES} bytes")


def _validate_v2(header: HeaderV2) -> None:
    if len(header.model_id) != V2_MODEL_ID_SIZE:
        raise FormatError(f"model id must be {V2_MODEL_ID_SIZE} bytes in version 2")
    if Coding(header.coding) not in _CODINGS[2]:
        raise UnsupportedVersionError(f"payload coding {int(header.coding)} is not used in version 2")
    if not 0 <= header.rate <= 255:
        raise FormatError(f"rate must be 0..255, not {header.rate}")
    for what, (w, h) in (("image", (header.width, header.height)),
                         ("source", (header.source_width, header.source_height))):
        if not (w >= 1 and h >= 1):
            raise FormatError(f"{what} size {w}x{h} is empty")
        if w > MAX_SIZE or h > MAX_SIZE:
            raise LimitError(f"{what} size {w}x{h} exceeds {MAX_SIZE}")
    check_pixels(header.width, header.height, warn=False)
    if header.payload_length > MAX_PAYLOAD_BYTES:
        raise LimitError(f"payload of {header.payload_length} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if header.placement is not None:
        _validate_placement(header.placement)
        if header.header_size + header.payload_length > MAX_FILE_BYTES:
            raise LimitError(f"file of {header.header_size + header.payload_length} bytes exceeds "
                             f"{MAX_FILE_BYTES}")


def _v2_fields(header: HeaderV2) -> bytes:
    """The header's bytes before the CRC."""
    code = header.size_code
    placed = header.placement is not None
    flags = int(header.coding) | code << 2 | header.has_source_size << 5 | placed << 6
    out = bytearray(MAGIC + bytes([2, flags]) + header.model_id + bytes([header.rate]))
    if not code:
        out += _varint(header.width) + _varint(header.height)
    if header.has_source_size:
        out += _varint(header.source_width) + _varint(header.source_height)
    if placed:
        out += header.placement.to_bytes()
    return bytes(out)


def _pack_v2(header: HeaderV2, payload: bytes) -> bytes:
    header = dataclasses.replace(header, payload_length=len(payload), coding=Coding(header.coding))
    _validate_v2(header)
    fields = _v2_fields(header)
    return fields + zlib.crc32(payload, zlib.crc32(fields)).to_bytes(4, "big") + payload


def _parse_v2(data: bytes) -> HeaderV2:
    if len(data) < V2_FIXED_SIZE:
        raise TruncatedFileError(f"file ends inside the header ({len(data)} bytes)")
    flags = data[4]
    if flags & 0x80:
        raise UnsupportedVersionError(f"unknown flags 0x{flags & 0x80:02x} are set")
    coding = flags & 3
    if coding not in _CODINGS[2]:
        raise UnsupportedVersionError(f"payload coding {coding} is not used in version 2")
    code, has_source = flags >> 2 & 7, bool(flags & 0x20)
    pos = V2_FIXED_SIZE
    if code:
        width = height = SIZE_CODES[code]
    else:
        width, pos = _read_varint(data, pos, "image width")
        height, pos = _read_varint(data, pos, "image height")
    source = (width, height)
    if has_source:
        source_width, pos = _read_varint(data, pos, "source width")
        source_height, pos = _read_varint(data, pos, "source height")
        source = (source_width, source_height)
    placement = None
    if flags & 0x40:
        centre_x, pos = _read_varint(data, pos, "placement centre x")
        centre_y, pos = _read_varint(data, pos, "placement centre y")
        side, pos = _read_varint(data, pos, "placement side")
        if len(data) < pos + 2:
            raise TruncatedFileError(f"file ends inside the header ({len(data)} bytes)")
        placement = Placement(_unzigzag(centre_x), _unzigzag(centre_y), side,
                              int.from_bytes(data[pos:pos + 2], "big"))
        pos += 2
    if len(data) < pos + 4:
        raise TruncatedFileError(f"file ends inside the header ({len(data)} of {pos + 4} bytes)")
    header = HeaderV2(model_id=bytes(data[5:9]), width=width, height=height,
                      source_width=source[0], source_height=source[1], rate=data[9],
                      coding=Coding(coding), payload_length=len(data) - pos - 4,
                      placement=placement)
    # One encoding per header: what a writer must shorten, a reader refuses.
    if not code and header.size_code:
        raise FormatError(f"image size {width}x{height} must be written as its size code")
    if has_source and not header.has_source_size:
        raise FormatError("a source size equal to the image size must be left out")
    _validate_v2(header)
    return header


def _unpack_v2(data: bytes) -> tuple[HeaderV2, bytes]:
    header = _parse_v2(data)
    start = header.header_size
    stored = int.from_bytes(data[start - 4:start], "big")
    if zlib.crc32(data[start:], zlib.crc32(data[:start - 4])) != stored:
        # The payload runs to the end of the file, so truncation and trailing bytes end here too.
        raise IntegrityError("checksum mismatch: the file is damaged or truncated")
    return header, data[start:]


# --------------------------------------------------------------------------- either version


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
