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
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import GzlImagePlugin  # noqa: F401  (registers the Pillow plugin)
from .codec import (
    BITS_LADDER,
    DEFAULT_BITS,
    FACE128_DEFAULT_BITS,
    EncodeOptions,
    decode,
    encode,
    encode_batch,
    read_header,
    save,
)
from .container import Coding, Header, HeaderV2, Placement
from .errors import (
    FormatError,
    GzcodecError,
    ImageInputError,
    IntegrityError,
    LimitError,
    MissingExtraError,
    ModelFileError,
    ModelMismatchError,
    ModelNotFoundError,
    OutputExistsError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from .zoo import list_models, load_model


def detect_faces(image, **options):
    """The faces of a photo, aligned: :func:`gzcodec.align.detect_faces` (needs the ``align`` extra)."""
    from .align import detect_faces as detect

    return detect(image, **options)


def encode_faces(image, **options) -> list[bytes]:
    """One ``.gzl`` file per face of a photo: :func:`gzcodec.align.encode_faces` (``align`` extra)."""
    from .align import encode_faces as encode_each

    return encode_each(image, **options)


try:
    __version__ = version("gzcodec")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "__version__", "BITS_LADDER", "DEFAULT_BITS", "FACE128_DEFAULT_BITS", "Coding", "Header", "HeaderV2",
    "EncodeOptions", "encode", "encode_batch", "decode", "read_header", "save", "load_model", "list_models",
    "Placement", "detect_faces", "encode_faces", "MissingExtraError",
    "GzcodecError", "FormatError", "UnsupportedVersionError", "TruncatedFileError",
    "IntegrityError", "LimitError", "ModelNotFoundError", "ModelMismatchError",
    "ModelFileError", "ImageInputError", "OutputExistsError",
]
