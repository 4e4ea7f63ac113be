"""``gzcodec encode --align`` and ``gzcodec decode --into``: the command line's face work.

Kept out of :mod:`gzcodec.cli`, which only hands these its parsed options.
Errors are :class:`~gzcodec.errors.GzcodecError` (one ``error:`` line there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .align import face_file_name
from .aligned import encode_faces
from .errors import GzcodecError, OutputExistsError
from .options import cli_message
from .outputs import paste_back

__all__ = ["encode_photos", "decode_into"]


def encode_photos(plan: list[tuple[Path, Path]], *, model, options, max_faces: int | None,
                  force: bool, many: bool, echo: Callable[[str], None],
                  echo_error: Callable[[str], None]) -> int:
    """Encode each photo's faces: ``dst`` for one face, ``dst``'s ``.face-N`` names for several.

    ``plan`` pairs each photo with the file one face would go to. Nothing is
    written for a photo until all its faces are encoded, and nothing at all for a
    photo without a face. Returns the number of photos that failed (with one
    photo, its error is raised instead).
    """
    from .fileio import write_atomic

    failed = 0
    for src, dst in plan:
        try:
            try:
                files = encode_faces(src, model=model, options=options, max_faces=max_faces)
            except ValueError as exc:  # GzcodecError included: one line
                raise GzcodecError(cli_message(exc)) from None
            outputs = [dst.with_name(face_file_name(dst.stem, k, len(files), dst.suffix))
                       for k in range(1, len(files) + 1)]
            if not force:
                for path in outputs:
                    if path.exists() or path.is_symlink():
                        raise OutputExistsError(f"{path} exists (use --force to overwrite)")
            for path, data in zip(outputs, files, strict=True):
                write_atomic(path, data, force=force)
                echo(f"{path}: {len(data)} bytes")
        except (GzcodecError, OSError) as exc:
            if not many:
                raise
            message = str(exc) if isinstance(exc, GzcodecError) else f"{exc.strerror or exc}"
            echo_error(f"error: {message}" if str(src) in message else f"error: {src}: {message}")
            failed += 1
    return failed


def decode_into(files: list[Path], photo: Path, output: str | None, *, model, force: bool,
                realism: float | None = None, realism_weights: Path | None = None) -> Path:
    """Paste the decoded faces of ``files`` into ``photo``; write it to ``output``.

    The default output is ``<photo>.decoded.png`` beside the photo; the photo
    itself is never replaced.
    """
    from .container import read_file
    from .fileio import write_atomic
    from .imageio import image_bytes, output_format

    if not files:
        raise GzcodecError("no .gzl files to paste")
    dst = Path(output) if output is not None else photo.with_name(f"{photo.stem}.decoded.png")
    fmt = output_format(dst)  # as gzcodec decode: a format Pillow cannot write, before any work
    if dst.exists() and dst.resolve() == photo.resolve():
        raise GzcodecError(f"-o {dst}: would replace the photo --into reads")
    if not force and (dst.exists() or dst.is_symlink()):
        raise OutputExistsError(f"{dst} exists (use --force to overwrite)")
    image = paste_back([read_file(f) for f in files], photo, model=model, realism=realism,
                       realism_weights=realism_weights)
    write_atomic(dst, image_bytes(image, fmt), force=force)
    return dst
