"""Format 2 of ``.gzl`` files: a 14-byte header when the sizes are the model's (``spec/gzl.md`` §1.1).

What follows from the model (latent shape, quantization step) is left out and
checked against the model when decoding; :func:`_v2_fields` and
:func:`_parse_v2` are the spec's table in code. Part of :mod:`gzcodec.container`,
which re-exports every name.
"""

from __future__ import annotations

import dataclasses
import math
import zlib

from ..errors import (
    FormatError,
    IntegrityError,
    LimitError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from .common import _CODINGS, MAGIC, MAX_PAYLOAD_BYTES, MAX_SIZE, MAX_VARINT_BYTES, Coding, check_pixels
from .format1 import MAX_FILE_BYTES

__all__ = ["V2_MODEL_ID_SIZE", "SIZE_CODES", "V2_FIXED_SIZE", "MAX_PLACEMENT_SIZE", "Placement",
           "HeaderV2"]

#: Version 2 stores the first 4 bytes of the model id (``spec/gzl.md`` §3).
V2_MODEL_ID_SIZE = 4
#: Version 2 size codes (flags bits 2-4): a square image of this side, no varints needed.
SIZE_CODES = {code: 8 << code for code in range(1, 8)}
#: Version 2: magic, version, flags, model id and rate come first, always.
V2_FIXED_SIZE = 10
#: Version 2's optional placement (flags bit 6): 3 varints and a 2-byte angle.
MAX_PLACEMENT_SIZE = 3 * MAX_VARINT_BYTES + 2


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
