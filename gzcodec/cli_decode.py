"""``gzcodec decode``: .gzl files (or a QR code, or a line of text) to images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .cli_common import (
    _THREADS_HELP,
    Size,
    _os_message,
    _plan,
    _progress,
    _report,
    _set_threads,
    _skip_existing,
    _write,
    clean_errors,
)
from .errors import GzcodecError

__all__ = ["decode"]


@clean_errors
def decode(
    inputs: Annotated[list[Path], typer.Argument(
        help=".gzl files or folders of them; also a QR code picture of one, its text form "
             "('gzl:...'), or - for standard input (the text form or the file).")],
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="Output image (one input) or folder (several inputs, or a name "
                               "ending in '/'). Default: beside each input, .png.")] = None,
    size: Annotated[Size, typer.Option(help="'model': the generator's size; 'source': the "
                                            "encoded crop at its original resolution.")] = Size.model,
    max_pixels: Annotated[int | None, typer.Option(
        min=1, help="Largest --size source image to make (default: Pillow's "
                    "MAX_IMAGE_PIXELS, about 89 million).")] = None,
    model: Annotated[str | None, typer.Option(help="Decode with this model (must match).")
                     ] = None,
    threads: Annotated[int | None, typer.Option(min=0, help=_THREADS_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    realism: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="0: the fidelity decode (default, best PSNR); up to 1: the model's "
                               "realism decoder, sharper and more realistic at the same bytes "
                               "(installed beside the model, or --realism-weights).")] = 0.0,
    realism_weights: Annotated[Path | None, typer.Option(
        help="Decode with this realism file (made by gzcodec train --realism-from; it must be "
             "the file's model's).")] = None,
    into: Annotated[Path | None, typer.Option(
        "--into", help="Paste the decoded faces (files made by encode --align) back into this "
                       "photo; -o is the result (default: PHOTO.decoded.png).")] = None,
) -> None:
    """Decode .gzl files to images (format from the output's extension; PNG by default)."""
    from . import codec
    from .carriers import read_gzl
    from .cli_carriers import decode_carried, is_carried_input, picture_output
    from .fileio import check_writable, list_inputs
    from .imageio import IMAGE_SUFFIXES, image_bytes, output_format

    _set_threads(threads)
    if any(is_carried_input(os.fspath(given)) for given in inputs):
        decode_carried([os.fspath(given) for given in inputs], output=output, size=size.value,
                       max_pixels=max_pixels, model=model, force=force, realism=realism,
                       realism_weights=realism_weights)
        return
    files, folder = list_inputs(inputs, suffixes=(".gzl",))
    if into is not None:  # every face into the one photo: gzcodec/cli_align.py
        from .cli_align import decode_into

        if size != Size.model or max_pixels is not None:
            raise GzcodecError("--into pastes faces at their size in the photo: no --size or --max-pixels")
        dst = decode_into(files, into, output, model=model, force=force, realism=realism,
                          realism_weights=realism_weights)
        if not quiet:
            typer.echo(f"{dst}: {len(files)} face{'s' if len(files) != 1 else ''} pasted into {into}")
        return
    many = folder or len(files) > 1
    if output is None and not many:
        output = picture_output(files[0])  # face-qr.png -> face-qr.decoded.png, not itself
    plan, errors = _plan(files, output, ".png", many, IMAGE_SUFFIXES)
    formats = {dst: output_format(dst) for _, dst in plan}  # refused before any work
    failed = _report(errors, many)
    todo, skipped = _skip_existing(plan, force, many)
    check_writable(dst for _, dst in todo)  # a read-only folder is found before the work
    written = 0
    with _progress(many and not quiet) as progress:
        task = progress.add_task("decoding", total=len(todo))
        for src, dst in todo:
            try:
                image = codec.decode(read_gzl(src), model=model, size=size.value,
                                     max_pixels=max_pixels, realism=realism,
                                     realism_weights=realism_weights)
                problem = _write(dst, image_bytes(image, formats[dst]), force=force)
                if problem is not None:
                    raise GzcodecError(problem)
                written += 1
                if not many:
                    typer.echo(f"{dst}: {image.width}x{image.height}")
            except (GzcodecError, OSError) as exc:
                if not many:
                    raise
                message = _os_message(exc) if not isinstance(exc, GzcodecError) else str(exc)
                typer.echo(f"error: {src}: {message}", err=True)
                failed += 1
            progress.advance(task)
    if many:
        typer.echo(f"decoded {written}, skipped {skipped} existing, failed {failed}")
    if failed:
        raise typer.Exit(1)
