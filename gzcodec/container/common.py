"""What both versions of the ``.gzl`` format share: the magic, the limits, the payload codings.

Part of :mod:`gzcodec.container` (normative: ``spec/gzl.md``), which re-exports every name.
"""

from __future__ import annotations

import enum
import warnings

from ..errors import (
    LimitError,
)

__all__ = ["MAGIC", "FORMAT_VERSION", "READ_VERSIONS", "MODEL_ID_SIZE", "MAX_VARINT_BYTES", "MAX_SIZE",
           "MAX_LATENT_ELEMENTS", "MAX_PAYLOAD_BYTES", "Coding", "check_pixels"]

MAGIC = b"GZL"
#: The version :func:`pack` writes for a :class:`HeaderV2`; :class:`Header` is version 1.
FORMAT_VERSION = 2
#: Versions this reader decodes.
READ_VERSIONS = (1, 2)
#: Length of the full model id (version 1 stores it all; it names models everywhere).
MODEL_ID_SIZE = 6
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
