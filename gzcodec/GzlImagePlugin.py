"""Pillow plugin for ``.gzl`` files, in the shape of Pillow's own format plugins.

``Image.open`` reads only the header (at most 44 bytes: version 2's is 14 in
the common case, version 1's 31), so size and mode are known without torch
or the model; the pixels are made in ``load()`` by a
Python decoder that pulls the whole file and runs :func:`gzcodec.decode`.
``im.save("x.gzl", bits=6)`` encodes; every field of
:class:`gzcodec.EncodeOptions`, ``model``, ``options`` and ``align=True`` (the
photo's one face, aligned) may be given to ``save``.

``im.info`` holds ``gzl_header`` (the parsed header; its ``payload_length``
counts the payload of the whole file), ``model_id``, ``format_version``,
``rate`` (the rate byte: ``bits`` for ``face128``, the rate index 0..255 for
hyperprior-context models such as ``face128-v2``) and ``source_size``.
``info["bits"]`` is the same rate byte under its old name, kept for one
release: read ``info["rate"]``.

Realism. ``load()`` makes the fidelity decode unless told otherwise, so that
nothing changes for existing code. The realistic decode of a model with a
realism decoder installed (:func:`gzcodec.decode`'s ``realism``) is chosen
as Pillow's own decoders are tuned: per image, before ``load()``, as JPEG's
``draft()`` is called before it, by setting the image's ``realism``
attribute; or for every image opened afterwards by the module-level
:data:`DEFAULT_REALISM`, as ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set::

    im = Image.open("face.gzl")
    im.realism = 1.0          # before load(): the most realistic decode
    im.load()

    GzlImagePlugin.DEFAULT_REALISM = 0.8      # every .gzl opened from now on

Setting it after the pixels are loaded is a :class:`ValueError` (they would
not change). Without a realism decoder installed, ``load()`` raises
:class:`~gzcodec.errors.ModelNotFoundError` (an ``OSError``, as Pillow's
"decoder not available").

Saving to a path: Pillow opens the target with ``"w+b"`` (truncating it)
*before* it calls any format's save handler, and it offers plugins no hook
that runs earlier, so a save that fails (a bad option such as ``bits=99``, a
missing model, Ctrl-C during the multi-second encode) leaves an existing file
empty; Pillow deletes the file only if the save created it. This plugin
checks every option before the encode starts, which makes that window as short
as it can be, but cannot close it. To replace a file safely use
:func:`gzcodec.save` (options checked and image encoded first, then an atomic
write that keeps the file's permissions), or save to a ``BytesIO`` and write
it yourself; saving to a file object writes nothing unless the encode succeeds.

Importing :mod:`gzcodec` registers this plugin.
"""

from __future__ import annotations

import dataclasses
import io
from typing import IO

from PIL import Image, ImageFile

from .container import MAGIC, MAX_FILE_BYTES, MAX_HEADER_SIZE, HeaderV2, parse_header
from .errors import FormatError
from .options import EncodeOptions
from .zoo.realism_file import check_realism

__all__ = ["DEFAULT_REALISM", "GzlImageFile", "MIME_TYPE"]

MIME_TYPE = "image/x-gzl"
#: The realism weight ``load()`` decodes ``.gzl`` files opened from now on at (0: the fidelity
#: decode); each image's own ``realism`` attribute, set before ``load()``, overrides it.
DEFAULT_REALISM = 0.0
#: The encode options ``save`` takes besides ``model`` and ``options``: the fields of
#: :class:`EncodeOptions`, the one list of them.
_SAVE_OPTIONS = tuple(field.name for field in dataclasses.fields(EncodeOptions))


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


class GzlImageFile(ImageFile.ImageFile):
    format = "GZL"
    format_description = "gzcodec generative latent image"

    def _open(self) -> None:
        start = self.fp.tell()
        data = self.fp.read(MAX_HEADER_SIZE)
        try:
            header = parse_header(data)
        except FormatError as exc:
            # SyntaxError is how a Pillow plugin says "not a file I can open".
            raise SyntaxError(str(exc)) from None
        if isinstance(header, HeaderV2):
            # Parsed from a partial read, the header counted only what was read as its payload:
            # count the whole file's (version 1 headers store the length themselves).
            end = self.fp.seek(0, io.SEEK_END)
            self.fp.seek(start + len(data))
            header = dataclasses.replace(header, payload_length=end - start - header.header_size)
        self._size = (header.width, header.height)
        self._mode = "RGB"
        self.info["gzl_header"] = header
        self.info["model_id"] = header.model_id_hex
        self.info["format_version"] = header.version
        self.info["rate"] = header.rate
        # The old name of "rate", kept for one release (see the module docstring): it was
        # never --bits for a hyperprior-context model, which reads the byte as a rate index.
        self.info["bits"] = header.rate
        self.info["source_size"] = (header.source_width, header.source_height)
        if getattr(header, "placement", None) is not None:  # a face aligned out of a photo
            self.info["placement"] = header.placement
        self._realism = check_realism(DEFAULT_REALISM)
        self.tile = [ImageFile._Tile("gzl", (0, 0) + self.size, 0, (self._realism,))]

    @property
    def realism(self) -> float:
        """The realism weight ``load()`` decodes at: 0 (the fidelity decode) to 1."""
        return self._realism

    @realism.setter
    def realism(self, value: float) -> None:
        value = check_realism(value)
        if self._im is not None:
            raise ValueError("the image is already loaded: set realism before load()")
        self._realism = value
        self.tile = [ImageFile._Tile("gzl", (0, 0) + self.size, 0, (value,))]


class GzlDecoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        from .codec import decode

        assert self.fd is not None
        self.fd.seek(0)
        # Never more than a .gzl file can hold: decode() refuses any extra byte.
        data = self.fd.read(MAX_FILE_BYTES + 1)
        # The tile's arguments carry the image's realism (GzlImageFile.realism); none: the default.
        realism = self.args[0] if self.args else 0.0
        image = decode(data, realism=realism)
        self.set_as_raw(image.tobytes())
        return -1, 0


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from .codec import encode

    info = im.encoderinfo
    # Checked here, before the encode starts (options= with other options is refused as
    # encode() refuses it); the file gets one write of the finished bytes: a failure never
    # leaves half a file (see the module docstring for the truncation Pillow does before we run).
    options = EncodeOptions.from_arguments(
        info.get("options"), **{name: info[name] for name in _SAVE_OPTIONS if name in info})
    # align=True: the photo's one face, aligned (gzcodec.encode's align), passed only when asked.
    extra = {"align": True} if info.get("align") else {}
    fp.write(encode(im, model=info.get("model"), options=options, **extra))


Image.register_open(GzlImageFile.format, GzlImageFile, _accept)
Image.register_save(GzlImageFile.format, _save)
Image.register_decoder("gzl", GzlDecoder)
Image.register_extension(GzlImageFile.format, ".gzl")
Image.register_mime(GzlImageFile.format, MIME_TYPE)
