"""gzcodec: data-specific generative image compression.

A face is stored as a few hundred bytes of quantized latent that a trained
generator turns back into the image. Importing this package registers the
``.gzl`` format with Pillow.

Examples
--------
>>> import gzcodec
>>> from PIL import Image
>>> data = gzcodec.encode("examples/face.png", bits=6)      # doctest: +SKIP
>>> gzcodec.decode(data).size                               # doctest: +SKIP
(128, 128)
>>> Image.open("examples/face.gzl").size                    # doctest: +SKIP
(128, 128)

A file as one line of text, and as a QR code (the ``qr`` extra):

>>> text = gzcodec.to_text(data)                            # doctest: +SKIP
>>> gzcodec.decode(text).size                               # doctest: +SKIP
(128, 128)
>>> data, code = gzcodec.encode_qr("examples/face.png")  # doctest: +SKIP
>>> gzcodec.decode(code.png).size                           # doctest: +SKIP
(128, 128)
"""

from __future__ import annotations

from . import (
    GzlImagePlugin,  # noqa: F401  (registers the Pillow plugin)
    qr,  # noqa: F401  (gzcodec.qr; segno and zxing-cpp are imported when used)
)
from .codec import decode, encode, encode_batch, read_header
from .container import Coding, Header, HeaderV2, Placement
from .errors import (
    BarcodeError,
    FormatError,
    GzcodecError,
    ImageInputError,
    IntegrityError,
    LimitError,
    MissingDependencyError,
    ModelFileError,
    ModelMismatchError,
    ModelNotFoundError,
    OutputExistsError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from .options import BITS_LADDER, DEFAULT_BITS, FACE128_DEFAULT_BITS, EncodeOptions
from .outputs import encode_qr, paste_back, save
from .textform import from_text, to_text
from .version import __version__
from .zoo import list_models, load_model


def detect_faces(image, **options):
    """The faces of a photo, aligned: :func:`gzcodec.align.detect_faces` (needs the ``align`` extra)."""
    from .align import detect_faces as detect

    return detect(image, **options)


def encode_faces(image, **options) -> list[bytes]:
    """One ``.gzl`` file per face of a photo: :func:`gzcodec.aligned.encode_faces` (``align`` extra)."""
    from .aligned import encode_faces as encode_each

    return encode_each(image, **options)


__all__ = [
    "__version__", "BITS_LADDER", "DEFAULT_BITS", "FACE128_DEFAULT_BITS", "Coding", "Header", "HeaderV2",
    "EncodeOptions", "encode", "encode_batch", "decode", "read_header", "save", "load_model", "list_models",
    "to_text", "from_text", "qr", "encode_qr", "Placement", "detect_faces", "encode_faces", "paste_back",
    "GzcodecError", "FormatError", "UnsupportedVersionError", "TruncatedFileError",
    "IntegrityError", "LimitError", "BarcodeError", "ModelNotFoundError", "ModelMismatchError",
    "ModelFileError", "ImageInputError", "OutputExistsError", "MissingDependencyError",
]
