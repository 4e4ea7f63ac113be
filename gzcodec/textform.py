"""The text form of a ``.gzl`` file: one line for channels made for text.

A chat message, an SMS, a log line or a URL carries text, not bytes. The text
form is ``gzl:`` followed by the whole file in base64url (RFC 4648 §5) without
padding, so a 404-byte face is a line of 543 characters that survives every
such channel and needs no quoting in a URL or a shell. ``spec/text-form.md``
is the normative description; this module is its reference implementation.

Reading is strict where it matters and lenient where text channels are
careless: ASCII whitespace anywhere (line wrapping, a trailing newline) is
ignored, and so is correct ``=`` padding; any other character, a length no
base64 text has, or non-zero unused bits in the last character (which would
give one file several texts) is refused. Imports no torch.

Examples
--------
>>> text = to_text(b"GZL\\x02 a file")
>>> text
'gzl:R1pMAiBhIGZpbGU'
>>> from_text(text)
b'GZL\\x02 a file'
>>> is_text("gzl:R1pMAiBhIGZpbGU\\n"), is_text("face.gzl")
(True, False)
"""

from __future__ import annotations

import base64
import binascii
import re

from .container import MAX_FILE_BYTES
from .errors import FormatError, LimitError

__all__ = ["PREFIX", "MAX_TEXT_CHARS", "to_text", "from_text", "is_text"]

#: What every text form starts with (lower case, exactly).
PREFIX = "gzl:"
#: The longest text :func:`from_text` reads, whitespace included: four times the text form
#: of the largest ``.gzl`` file (:data:`gzcodec.container.MAX_FILE_BYTES`). A guard against
#: huge inputs only: a shorter text that holds too many bytes is refused by the container,
#: as those bytes would be.
MAX_TEXT_CHARS = 4 * (len(PREFIX) + -(-MAX_FILE_BYTES * 4 // 3))

_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
_BODY = re.compile(r"[A-Za-z0-9_-]*")


def to_text(data: bytes) -> str:
    """The text form of a ``.gzl`` file: ``gzl:`` and its base64url, without padding.

    Parameters
    ----------
    data : bytes
        The file (not checked: any bytes have a text form).

    Returns
    -------
    str
        One line of ``4 + ceil(4 * len(data) / 3)`` ASCII characters.

    Examples
    --------
    >>> to_text(b"GZL")
    'gzl:R1pM'
    """
    return PREFIX + base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def is_text(value: str | bytes) -> bool:
    """Whether ``value`` is meant as a text form: it starts with ``gzl:`` (after whitespace).

    Says nothing of whether the rest is valid; :func:`from_text` checks that.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:64]).lstrip().startswith(PREFIX.encode("ascii"))
    return isinstance(value, str) and value[:64].lstrip().startswith(PREFIX)


def from_text(text: str | bytes) -> bytes:
    """The bytes of a ``.gzl`` file from its text form.

    Parameters
    ----------
    text : str or bytes
        ``gzl:`` and a base64url body. ASCII whitespace anywhere and correct
        ``=`` padding are ignored.

    Returns
    -------
    bytes
        The file's bytes (not checked as a ``.gzl``: :func:`gzcodec.decode` does that).

    Raises
    ------
    FormatError
        No ``gzl:`` prefix, a character outside base64url, a length no base64
        text has, or non-zero unused bits in the last character.
    LimitError
        Longer than :data:`MAX_TEXT_CHARS` characters.

    Examples
    --------
    >>> from_text(" gzl:R1pM\\n")
    b'GZL'
    >>> from_text("gzl:R1pM!")
    Traceback (most recent call last):
    ...
    gzcodec.errors.FormatError: not a valid gzl: text: '!' at character 9 is not base64url (A-Z a-z 0-9 - _)
    """
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"text must be a str or bytes, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:  # before any work on a huge input
        raise LimitError(f"text of {len(text)} characters is longer than gzcodec reads "
                         f"({MAX_TEXT_CHARS}, four times the text of the largest .gzl file)")
    if not isinstance(text, str):
        text = bytes(text).decode("ascii", errors="replace")
    stripped = text.lstrip()
    if not stripped.startswith(PREFIX):
        raise FormatError(f"not a gzl: text (it must start with {PREFIX!r})")
    body = _WHITESPACE.sub("", stripped[len(PREFIX):])
    unpadded = body.rstrip("=")
    padding = len(body) - len(unpadded)
    bad = _BODY.match(unpadded).end()
    if bad < len(unpadded):
        position = text.index(unpadded[bad], len(text) - len(stripped) + len(PREFIX)) + 1
        raise FormatError(f"not a valid gzl: text: {unpadded[bad]!r} at character {position} is "
                          f"not base64url (A-Z a-z 0-9 - _)")
    if len(unpadded) % 4 == 1:
        raise FormatError(f"not a valid gzl: text: no base64 text is {len(unpadded)} characters "
                          f"long (one is missing or one too many)")
    if padding and (len(unpadded) + padding) % 4:
        raise FormatError(f"not a valid gzl: text: {padding} '=' after {len(unpadded)} characters "
                          f"is wrong padding (leave it out)")
    try:
        data = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the checks above catch it
        raise FormatError(f"not a valid gzl: text ({exc})") from None
    if to_text(data)[len(PREFIX):] != unpadded:
        raise FormatError("not a valid gzl: text: its last character has unused bits set "
                          "(damaged, or not written by a base64url encoder)")
    return data
