"""The exceptions gzcodec raises. Every one is a :class:`GzcodecError`.

They subclass :class:`ValueError` too, because Pillow plugins signal
undecodable data with ``SyntaxError``/``ValueError``/``OSError`` and callers
that catch ``ValueError`` for bad input should keep working. Every error that
``PIL.Image.open(...).load()`` can raise for a ``.gzl`` file is also an
:class:`OSError`, as Pillow's own are (a missing model is Pillow's "decoder
not available"). ``spec/errors.md`` lists each error with its cause and message.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = [
    "GzcodecError",
    "FormatError",
    "UnsupportedVersionError",
    "TruncatedFileError",
    "IntegrityError",
    "LimitError",
    "ModelNotFoundError",
    "ModelMismatchError",
    "ModelFileError",
    "ImageInputError",
    "OutputExistsError",
    "BarcodeError",
    "MissingDependencyError",
    "import_optional",
]


class GzcodecError(ValueError):
    """Base class of every error gzcodec raises on purpose."""


class FormatError(GzcodecError, OSError):
    """The bytes are not a valid ``.gzl`` file.

    Also an :class:`OSError`, which is what Pillow raises for broken files.
    """


class UnsupportedVersionError(FormatError):
    """A ``.gzl`` format version or flag this gzcodec does not know."""


class TruncatedFileError(FormatError):
    """The file ends before its header or payload does."""


class IntegrityError(FormatError):
    """The checksum does not match: the file was damaged."""


class LimitError(FormatError):
    """A header field asks for more than gzcodec's hard limits allow."""


class ModelNotFoundError(GzcodecError, LookupError, OSError):
    """No installed model has the id a file names."""


class ModelMismatchError(GzcodecError, OSError):
    """A file's geometry does not match the model it names."""


class ModelFileError(GzcodecError, OSError):
    """A weights file is corrupt, truncated or not a gzcodec model."""


class ImageInputError(GzcodecError):
    """An input image cannot be read or converted."""


class OutputExistsError(GzcodecError, FileExistsError):
    """The output file exists and overwriting was not asked for."""


class BarcodeError(FormatError):
    """A picture holds no QR code that can be read: none, a damaged one, or several."""


class MissingDependencyError(GzcodecError, OSError):
    """An optional dependency is not installed; the message says what to install.

    An :class:`OSError`, as everything :func:`gzcodec.decode` raises is (Pillow's
    "decoder not available").
    """


def import_optional(module: str, message: str) -> ModuleType:
    """``module`` imported, or a :class:`MissingDependencyError` of ``message`` (what to install).

    For the optional dependencies of the extras (``qr``, ``align``), imported
    when a feature needs them, never when gzcodec is.

    Examples
    --------
    >>> import_optional("json", "never raised").__name__
    'json'
    >>> import_optional("no_such_module", "this needs no_such_module: pip install it")
    Traceback (most recent call last):
    ...
    gzcodec.errors.MissingDependencyError: this needs no_such_module: pip install it
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(message) from None
