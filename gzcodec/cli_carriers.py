"""``gzcodec encode --qr/--text`` and ``gzcodec decode 'gzl:...'|-``: the command line's
QR codes and text forms (:mod:`gzcodec.qr`, :mod:`gzcodec.textform`).

Called by :mod:`gzcodec.cli`, whose error handling applies: every
:class:`~gzcodec.errors.GzcodecError` raised here is one ``error: ...`` line
and exit code 1. Everything a user can get wrong is refused before the encode
starts and before anything is written; outputs are written atomically. Imports
no torch until an image is encoded or decoded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from .errors import GzcodecError, OutputExistsError
from .options import cli_message

__all__ = ["encode_carried", "decode_carried", "is_carried_input", "picture_output"]

#: ``gzcodec decode -``: standard input.
STDIN = "-"


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _same(a: os.PathLike, b: os.PathLike) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _check_flags(*, output: str | None, qr: Path | None, qr_level: str | None,
                 qr_version: int | None, text: bool) -> None:
    """Refuse the flags of ``--qr`` and ``--text`` that do not go together."""
    if text and qr is not None:
        raise GzcodecError("--text prints the file and --qr writes it as a picture: give one")
    if qr is None:
        for name, value in (("--qr-level", qr_level), ("--qr-version", qr_version)):
            if value is not None:
                raise GzcodecError(f"{name} goes with --qr")
    if text and output is not None:
        raise GzcodecError("--text prints the file and writes none: drop -o")


def encode_carried(inputs: list[str], *, output: str | None, options, model: str | None,
                   qr: Path | None, qr_level: str | None, qr_version: int | None, text: bool,
                   force: bool) -> None:
    """Encode one image as a ``.gzl`` and a QR code picture (``--qr``), or print its text form.

    With ``qr_version`` the face is the best that fits that code (``--max-bytes``
    is its capacity, or the one given if smaller); without, the face is encoded
    as the options say and the code is the smallest that holds it.
    """
    from . import codec
    from . import qr as qrcodes
    from .fileio import list_inputs, plan_outputs, write_atomic
    from .imageio import image_suffixes, read_model_input
    from .model_choice import is_auto
    from .textform import to_text

    _check_flags(output=output, qr=qr, qr_level=qr_level, qr_version=qr_version, text=text)
    flag = "--text" if text else "--qr"
    files, folder = list_inputs(inputs, suffixes=image_suffixes())
    if folder or len(files) != 1:
        raise GzcodecError(f"{flag} takes one image, not {'a folder' if folder else len(files)}")
    src = files[0]
    level = (qr_level or qrcodes.DEFAULT_LEVEL).upper()
    try:
        options = qrcodes.fit_options(options, level=level, version=qr_version)
    except ValueError as exc:
        raise GzcodecError(cli_message(exc)) from None
    gzl_path = qr_path = None
    if qr is not None:
        qrcodes.capacity(1, level)  # segno is there (the extra), or say what to install
        folder_out = output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir())
        plan, refused = plan_outputs([src], output if folder_out else None, suffix=".gzl",
                                     output=None if folder_out else output)
        if refused:
            raise GzcodecError(f"{src}: {refused[src]}")
        gzl_path, qr_path = plan[0][1], Path(qr)
        if _same(qr_path, src) or _same(qr_path, gzl_path):
            which = "input" if _same(qr_path, src) else ".gzl output"
            raise GzcodecError(f"--qr {qr_path} is also the {which}; give another name")
        if not force:
            for path in (gzl_path, qr_path):
                if _exists(path):
                    raise OutputExistsError(f"{path} exists (use --force to overwrite)")
    try:
        if is_auto(model):  # each model reads the image at its own size
            data = codec.encode_batch([src], model=model, options=options)[0]
        else:
            lm = codec.load_model(model)
            data = codec.encode_batch([read_model_input(src, lm.config.image_size)], model=lm,
                                      options=options)[0]
    except ValueError as exc:  # GzcodecError included: one line
        hint = ""
        if qr_version is not None and "cannot fit" in str(exc):
            hint = (f" (QR version {qr_version} at level {level} holds "
                    f"{qrcodes.capacity(qr_version, level)} bytes; try a larger --qr-version)")
        raise GzcodecError(f"{cli_message(exc)}{hint}") from None
    if text:
        typer.echo(to_text(data))
        return
    code = qrcodes.make_qr(data, level=level, version=qr_version)
    write_atomic(gzl_path, data, force=force)
    write_atomic(qr_path, code.png, force=force)
    typer.echo(f"{gzl_path}: {len(data)} bytes")
    typer.echo(f"{qr_path}: {code.describe()}")


def is_carried_input(name: str) -> bool:
    """Whether a ``decode`` argument is standard input (``-``) or a text form, not a path."""
    from .textform import is_text

    return name == STDIN or is_text(name)


def decode_carried(inputs: list[str], *, output: str | None, size: str, max_pixels: int | None,
                   model: str | None, force: bool, realism: float | None = None,
                   realism_weights: Path | None = None) -> None:
    """Decode a text form given as the argument, or what standard input holds, to ``-o``.

    Standard input may hold the text form (if it starts with ``gzl:``), the
    ``.gzl`` bytes, or a QR picture, as :func:`gzcodec.decode` tells them apart.
    """
    from . import codec
    from .carriers import MAX_PICTURE_BYTES
    from .fileio import write_atomic
    from .imageio import image_bytes, output_format

    if len(inputs) != 1:
        raise GzcodecError("a text form or - (standard input) is decoded alone: give one input")
    given = inputs[0]
    what = "standard input" if given == STDIN else "a text form"
    if output is None:
        raise GzcodecError(f"{what} has no file name to write beside: give -o")
    dst = Path(output)
    if output.endswith(("/", os.sep)) or dst.is_dir():
        raise GzcodecError(f"-o {output}: give the output image's name, not a folder")
    if _exists(dst) and not force:
        raise OutputExistsError(f"{dst} exists (use --force to overwrite)")
    fmt = output_format(dst)  # as gzcodec decode: a format Pillow cannot write, before any work
    if given == STDIN:
        data = sys.stdin.buffer.read(MAX_PICTURE_BYTES + 1)
        if not data:
            raise GzcodecError("standard input is empty")
        source: bytes | str = data
    else:
        source = given
    image = codec.decode(source, model=model, size=size, max_pixels=max_pixels, realism=realism,
                         realism_weights=realism_weights)
    write_atomic(dst, image_bytes(image, fmt), force=force)
    typer.echo(f"{dst}: {image.width}x{image.height}")


def picture_output(src: Path) -> str | None:
    """The default output of ``gzcodec decode PICTURE`` when the usual one would be the input.

    ``face-qr.png`` would decode to itself (``.png`` beside the input); it decodes to
    ``face-qr.decoded.png`` instead. ``None`` (the usual output) for every other input.
    """
    if src.suffix.lower() != ".png":
        return None
    return str(src.with_name(f"{src.stem}.decoded.png"))
