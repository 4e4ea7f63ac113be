"""The forms a ``.gzl`` file travels in, told apart by their first bytes.

:func:`gzcodec.decode` (and ``gzcodec decode``) take a file in any of them:

* the file itself, which starts with the magic ``GZL``;
* its text form, ``gzl:`` and base64url (:mod:`gzcodec.textform`): a ``str``
  that starts with ``gzl:`` is always the text form, never a path, and so are
  bytes or a file that start with it;
* a picture of a QR code holding it (:mod:`gzcodec.qr`): bytes or a file that
  start like a PNG, JPEG, WebP, BMP, GIF, TIFF or PPM file, or a Pillow image.

Anything else is left to the container, which refuses it as ``not a .gzl file
(bad magic)``. Recognising a picture needs nothing beyond Pillow; reading its
code needs the ``qr`` extra. Imports no torch.

Examples
--------
>>> from gzcodec.textform import to_text
>>> unwrap(to_text(b"GZL\\x02..."))
b'GZL\\x02...'
>>> unwrap(b"GZL\\x02...")
b'GZL\\x02...'
>>> unwrap(b"not a file at all")
b'not a file at all'
"""

from __future__ import annotations

import os
from typing import IO, Union

from PIL import Image

from . import textform
from .container import MAGIC, MAX_FILE_BYTES

__all__ = ["Carried", "unwrap", "read_gzl", "MAX_PICTURE_BYTES"]

#: What :func:`unwrap` takes: what :func:`gzcodec.decode` takes.
Carried = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes], Image.Image]
#: The largest picture file read into memory from a file object (a path is read by Pillow
#: as it decodes). A photo of a code is a few MB; Pillow's pixel limit applies as well.
MAX_PICTURE_BYTES = 64 * 1024 * 1024
#: Enough of a file to tell the forms apart (Pillow's signatures are at most 16 bytes).
_PEEK = 64


def _picture_or_text(head: bytes) -> str | None:
    """``"text"``, ``"picture"`` or ``None`` (a ``.gzl`` or unknown) for a file's first bytes."""
    from .qr import is_picture

    if head[:len(MAGIC)] == MAGIC:
        return None
    if textform.is_text(head):
        return "text"
    return "picture" if is_picture(head) else None


def unwrap(data: Carried) -> bytes | str | os.PathLike | IO[bytes]:
    """The ``.gzl`` bytes of a text form or a QR picture; anything else as it was given.

    Parameters
    ----------
    data : bytes, str, path, binary file object or Pillow image
        What :func:`gzcodec.decode` was given.

    Returns
    -------
    bytes or the input
        The file's bytes when ``data`` is a text form or a picture (or a file
        object, which is read here); ``data`` itself otherwise (a path of a
        ``.gzl`` is read by the container, which keeps its limits).

    Raises
    ------
    FormatError
        An invalid text form, a picture that cannot be read, or a code that
        holds no ``.gzl``; :class:`~gzcodec.errors.BarcodeError` when no
        code can be read; :class:`~gzcodec.errors.LimitError` for a picture
        over :data:`MAX_PICTURE_BYTES` or Pillow's pixel limit.
    MissingDependencyError
        A picture, without the ``qr`` extra installed.
    """
    from .errors import LimitError
    from .qr import read_qr

    if isinstance(data, Image.Image):
        return read_qr(data)
    if isinstance(data, str) and textform.is_text(data):
        return textform.from_text(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        kind = _picture_or_text(bytes(data[:_PEEK]))
        if kind == "text":
            return textform.from_text(bytes(data))
        return read_qr(bytes(data)) if kind == "picture" else data
    if isinstance(data, (str, os.PathLike)):
        with open(data, "rb") as f:
            head = f.read(_PEEK)
            kind = _picture_or_text(head)
            if kind == "text":
                return textform.from_text(head + f.read(textform.MAX_TEXT_CHARS))
        return read_qr(data) if kind == "picture" else data
    if callable(getattr(data, "read", None)):
        try:
            head = data.read(_PEEK)
        except UnicodeDecodeError:  # a .gzl (or a picture) opened as text
            raise TypeError("the file object must be opened in binary mode ('rb')") from None
        if isinstance(head, str):  # a file opened as text: its text form, or the codec's error
            if not textform.is_text(head):
                raise TypeError("the file object must be opened in binary mode ('rb')")
            return textform.from_text(head + data.read(textform.MAX_TEXT_CHARS))
        if not isinstance(head, (bytes, bytearray)):
            return data
        kind = _picture_or_text(bytes(head))
        if kind == "text":
            return textform.from_text(bytes(head) + data.read(textform.MAX_TEXT_CHARS))
        if kind == "picture":
            content = bytes(head) + data.read(MAX_PICTURE_BYTES)
            if len(content) > MAX_PICTURE_BYTES:
                raise LimitError(f"picture of more than {MAX_PICTURE_BYTES} bytes")
            return read_qr(content)
        # Read as far as the codec would have: one byte over the largest .gzl.
        return bytes(head) + data.read(MAX_FILE_BYTES + 1 - len(head))
    return data


def read_gzl(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the ``.gzl`` file at ``path``, or of the one its text form or QR picture holds.

    What ``gzcodec decode FILE`` reads: :func:`unwrap`, then the container's
    :func:`~gzcodec.container.read_file` for a ``.gzl``; every error names ``path``.

    Raises
    ------
    FormatError
        As :func:`unwrap` and :func:`~gzcodec.container.read_file` raise it, the path in front.
    OSError
        The file cannot be read.
    """
    from .container import read_file
    from .errors import FormatError

    try:
        data = unwrap(path)
    except FormatError as exc:
        # The same class, its message with the path in front, as read_file's are.
        raise type(exc)(f"{os.fspath(path)}: {exc}") from None
    return data if isinstance(data, bytes) else read_file(path)
