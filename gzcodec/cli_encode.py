"""``gzcodec encode``: images to .gzl files, here or on a Ray cluster."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_common import (
    _THREADS_HELP,
    Loss,
    QrLevel,
    _above_zero,
    _failure,
    _plan,
    _progress,
    _quiet,
    _report,
    _set_threads,
    _skip_existing,
    clean_errors,
)
from .errors import GzcodecError
from .models.config import RATE_INDEX_MAX
from .options import BITS_LADDER, DEFAULT_BATCH_SIZE, DEFAULT_BITS, FACE128_DEFAULT_BITS, cli_message
from .refinement import DEFAULT_EFFORT, DEFAULT_STEPS, EFFORTS
from .zoo import DEFAULT_MODEL

if TYPE_CHECKING:  # ray is imported only by encode --ray
    from .cluster import ClusterReport

__all__ = ["encode"]


#: Images read and reduced at a time in a folder encode (each only as its model input).
BATCH = DEFAULT_BATCH_SIZE
#: ``--effort``'s choices as the help lists them, the default marked.
_EFFORT_CHOICES = " | ".join(f"{name} (default)" if name == DEFAULT_EFFORT else name for name in EFFORTS)


@clean_errors
def encode(
    inputs: Annotated[list[str], typer.Argument(
        help="Image files or folders of images (with --ray also URIs: s3://bucket/faces/).")],
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="Output file (one input) or folder (several inputs, or a name "
                               "ending in '/'). Default: beside each input.")] = None,
    bits: Annotated[int | None, typer.Option(
        min=BITS_LADDER[0], max=BITS_LADDER[-1], show_default=False,
        help=f"Quality, {BITS_LADDER[0]}..{BITS_LADDER[-1]}: more is larger and better. Default "
             f"{DEFAULT_BITS} for v2 models such as {DEFAULT_MODEL} (a few hundred bytes a face), "
             f"{FACE128_DEFAULT_BITS} for face128 (~600 bytes).")] = None,
    rate: Annotated[int | None, typer.Option(
        min=0, max=RATE_INDEX_MAX,
        help=f"v2 models: the rate index itself, 0..{RATE_INDEX_MAX} (finer than --bits).")
    ] = None,
    effort: Annotated[str | None, typer.Option(
        help=f"v2 models: refinement effort, {_EFFORT_CHOICES}.")] = None,
    model: Annotated[str | None, typer.Option(
        help=f"Model name, id or weights path (default: the bundled {DEFAULT_MODEL}). 'auto': every "
             "installed model (gzcodec models) encodes each image and the best file is kept: the "
             "best PSNR within --max-bytes, or the smallest that reaches --target-ssim; costs one "
             "encode per installed model.")] = None,
    loss: Annotated[Loss, typer.Option(help="Distortion the reversal minimises.")] = Loss.mse,
    steps: Annotated[int | None, typer.Option(
        min=0, help=f"Reversal refinement steps (0: the encoder network's guess; default: "
                    f"the effort's for v2 models, {DEFAULT_STEPS} for face128).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: same inputs and seed give same bytes.")] = 0,
    max_bytes: Annotated[int | None, typer.Option(
        min=1, help="Highest precision whose file fits in this many bytes.")] = None,
    target_ssim: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, callback=_above_zero,
        help="Lowest precision whose SSIM reaches this, in (0, 1].")] = None,
    threads: Annotated[int | None, typer.Option(min=0, help=_THREADS_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Encode on a Ray cluster (RAY_ADDRESS or --ray-address; else a local one) "
                      "into the folder -o, resumably, with a manifest; needs the cluster extra. "
                      "--threads: CPUs (and torch threads) per worker, default 1.")] = False,
    ray_address: Annotated[str | None, typer.Option(
        help="With --ray: the cluster's address (auto, host:port, ray://...).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="With --ray: workers (default: the cluster's CPUs / --threads).")] = None,
    manifest: Annotated[Path | None, typer.Option(
        help="With --ray: the manifest file (default: gzcodec-manifest.jsonl in -o).")] = None,
    qr: Annotated[Path | None, typer.Option(
        "--qr", help="Also write the file as a QR code PNG here (one image; needs the qr "
                     "extra). With --qr-version: the best face that fits that code.")] = None,
    qr_level: Annotated[QrLevel | None, typer.Option(
        "--qr-level", case_sensitive=False,
        help="With --qr: error correction, L, M (default), Q or H (about 7, 15, 25, 30 % "
             "of the code may be damaged).")] = None,
    qr_version: Annotated[int | None, typer.Option(
        "--qr-version", min=1, max=40,
        help="With --qr: the code's version (size), 1..40; the face fills its bytes. "
             "Default: the smallest that holds the encode (version 15 at M for ~400 bytes).")
    ] = None,
    text: Annotated[bool, typer.Option(
        "--text", help="Print the file as one line of text (gzl: and base64url) and write no "
                       "file (one image).")] = False,
    align: Annotated[bool, typer.Option(
        "--align", help="Find the faces in each photo, align each as the training faces are and "
                        "encode it (photo.gzl, or photo.face-1.gzl, ... in reading order), with "
                        "its place in the photo for decode --into; needs the align extra.")] = False,
    max_faces: Annotated[int | None, typer.Option(
        min=1, help="With --align: at most this many faces a photo (the largest).")] = None,
) -> None:
    """Encode images as .gzl files (or a QR code picture, or a line of text)."""
    from .model_choice import check_auto_options, is_auto
    from .options import EncodeOptions

    try:
        options = EncodeOptions(bits=bits, rate=rate, max_bytes=max_bytes, target_ssim=target_ssim,
                                effort=effort, steps=steps, loss=loss.value, seed=seed)
        if is_auto(model) and qr_version is None:  # refused before any image is read or model loaded
            check_auto_options(options)  # (a QR version is a budget)
    except ValueError as exc:
        raise GzcodecError(cli_message(exc)) from None
    if is_auto(model) and (ray or align):
        raise GzcodecError(f"--model auto does not go with {'--ray' if ray else '--align'}; name a model")
    if qr is not None or text or qr_level is not None or qr_version is not None:
        from .cli_carriers import encode_carried

        if ray:
            raise GzcodecError(f"{'--text' if text else '--qr'} takes one image, not --ray")
        _set_threads(threads)
        encode_carried(inputs, output=output, options=options, model=model, qr=qr,
                       qr_level=qr_level.value if qr_level is not None else None,
                       qr_version=qr_version, text=text, force=force)
        return
    if ray:
        _encode_on_ray(inputs, output, model=model, options=options, force=force, threads=threads,
                       quiet=quiet, address=ray_address, workers=workers, manifest=manifest)
        return
    for name, value in (("--ray-address", ray_address), ("--workers", workers),
                        ("--manifest", manifest)):
        if value is not None:
            raise GzcodecError(f"{name} goes with --ray")
    if max_faces is not None and not align:
        raise GzcodecError("--max-faces goes with --align")
    _set_threads(threads)
    _encode_files(inputs, output, model=model, options=options, force=force, quiet=quiet,
                  align=align, max_faces=max_faces)


def _encode_on_ray(inputs: list[str], output: str | None, *, model: str | None, options, force: bool,
                   threads: int | None, quiet: bool, address: str | None, workers: int | None,
                   manifest: Path | None) -> None:
    """``gzcodec encode --ray``: :func:`gzcodec.cluster.encode_dataset`, its report."""
    from .cluster import encode_dataset

    if output is None:
        raise GzcodecError("--ray needs -o, the output folder")
    if threads is not None and threads < 1:
        raise GzcodecError("--threads with --ray is the CPUs of each worker: 1 or more")
    try:
        report = encode_dataset(
            inputs, output, model=model, options=options, force=force, address=address,
            workers=workers, cpus_per_worker=1 if threads is None else threads, manifest=manifest,
            progress=not quiet)
    except ValueError as exc:  # GzcodecError included: one line
        raise GzcodecError(cli_message(exc)) from None
    _report_ray_job(report)


def _encode_photos(plan: list[tuple[Path, Path]], failed: int, *, model: str | None, options,
                   max_faces: int | None, force: bool, many: bool, quiet: bool) -> None:
    """``gzcodec encode --align``: each photo's faces (:func:`gzcodec.cli_align.encode_photos`)."""
    from .cli_align import encode_photos

    failed += encode_photos(plan, model=model, options=options, max_faces=max_faces,
                            force=force, many=many, echo=typer.echo if not quiet else _quiet,
                            echo_error=functools.partial(typer.echo, err=True))
    if failed:
        raise typer.Exit(1)


def _read_batch(pairs: list[tuple[Path, Path]], size: int | None, *, many: bool,
                said: dict[Path, list[str]]) -> tuple[list[tuple[Any, Path, Path]], int]:
    """Each image of ``pairs`` read as the model's input, and how many could not be (named here).

    The warnings of reading each image (alpha dropped, a huge input) go to ``said[src]``,
    told with the image's result. A ``size`` of ``None`` (``--model auto`` over models of
    several sizes) leaves each image to be read by its encode, once for every size.
    """
    if size is None:
        return [(src, src, dst) for src, dst in pairs], 0
    from .imageio import read_model_input
    from .outputs import recorded_warnings

    batch, failed = [], 0
    for src, dst in pairs:
        try:
            # Reduced to the model's input at once: a batch never holds full-size images.
            with recorded_warnings() as said[src]:
                batch.append((read_model_input(src, size), src, dst))
        except GzcodecError as exc:
            if not many:
                raise
            typer.echo(f"error: {exc}", err=True)
            failed += 1
    return batch, failed


def _tell(result, src: Path, dst: Path, *, warnings: list[str], many: bool) -> str:
    """Say an image's warnings (and its size, alone); ``"written"``, ``"skipped"`` or ``"failed"``."""
    from .outputs import report_line

    for message in [*warnings, *result.warnings]:
        typer.echo(report_line("warning", src, message), err=True)
    if result.skipped:  # another run wrote it meanwhile: as on a resume
        return "skipped"
    if result.error is not None:
        return "failed"
    if not many:
        typer.echo(f"{dst}: {len(result.data)} bytes")
    return "written"


def _encode_files(inputs: list[str], output: str | None, *, model: str | None, options, force: bool,
                  quiet: bool, align: bool = False, max_faces: int | None = None) -> None:
    """``gzcodec encode`` on this machine: each batch of images read, encoded and written."""
    from .fileio import check_writable, skipped_lines
    from .imageio import find_images
    from .outputs import encode_many, report_line, write_unless_written

    found = find_images(inputs)  # a folder's other entries are said, with why
    files, folder = found.files, found.folder_named
    many = folder or len(files) > 1
    if not files:
        raise GzcodecError("no images to encode")
    plan, errors = _plan(files, output, ".gzl", many, (".gzl",))
    check_writable(dst for _, dst in plan)  # a read-only folder is found before the work
    for line in skipped_lines(found.skipped):
        typer.echo(f"warning: {line}", err=True)
    failed = _report(errors, many)
    if align:  # each photo's faces: gzcodec/cli_align.py
        _encode_photos(plan, failed, model=model, options=options, max_faces=max_faces, force=force,
                       many=many, quiet=quiet)
        return
    todo, skipped = _skip_existing(plan, force, many)
    # Bad option combinations are refused before any image is read.
    encoder, size, n_steps = _encoder(model, options) if todo else (None, None, 0)

    def fail(src: Path, message: str) -> None:
        nonlocal failed
        if not many:  # one line, as for every error a user can cause
            raise GzcodecError(message)
        typer.echo(report_line("error", src, message), err=True)
        failed += 1

    said: dict[Path, list[str]] = {}  # each image's warnings, told with its result
    written = 0
    with _progress(not quiet) as progress:
        task = progress.add_task("encoding", total=len(todo) * max(n_steps, 1))
        for start in range(0, len(todo), BATCH):
            batch, unread = _read_batch(todo[start:start + BATCH], size, many=many, said=said)
            failed += unread
            results = encode_many(
                [im for im, _, _ in batch], model=encoder, options=options,
                write=lambda i, data, batch=batch: write_unless_written(batch[i][2], data, force=force),
                on_step=functools.partial(progress.advance, task))
            for (_, src, dst), result in zip(batch, results, strict=True):
                outcome = _tell(result, src, dst, warnings=said.pop(src, []), many=many)
                if outcome == "failed":
                    fail(src, _failure(result.error))
                written += outcome == "written"
                skipped += outcome == "skipped"
            # The batch's images are done, whatever their steps told (none with --effort none).
            progress.update(task, completed=min(start + BATCH, len(todo)) * max(n_steps, 1))
    if many:
        typer.echo(f"encoded {written}, skipped {skipped} existing, failed {failed}")
    if failed:
        raise typer.Exit(1)


def _encoder(model: str | None, options) -> tuple[Any, int | None, int]:
    """The model to encode with (loaded, or ``"auto"``), the size to read images at (``None``:
    each encode reads them) and the refinement steps an image costs; bad options refused."""
    from .families import family_of
    from .model_choice import AUTO, is_auto, usable_models
    from .zoo import load_model

    try:
        if is_auto(model):
            usable, refused = usable_models(options)
            if not usable:
                raise refused[0][1] if refused else GzcodecError("no installed model found")
            sizes = {lm.config.image_size for lm in usable}
            steps = sum(family_of(lm).refinement_steps(options, lm) for lm in usable)
            return AUTO, sizes.pop() if len(sizes) == 1 else None, steps
        lm = load_model(model)
        steps = family_of(lm).refinement_steps(options, lm)
        family_of(lm).check_options(options, lm)
        return lm, lm.config.image_size, steps
    except ValueError as exc:
        raise GzcodecError(cli_message(exc)) from None


#: Failing images named on the terminal by ``encode --ray``; the manifest has them all.
RAY_ERRORS_SHOWN = 20


def _report_ray_job(report: ClusterReport) -> None:
    """The summary of an ``encode --ray`` job: failing images (the first few), then counts."""
    failures = [row for row in report.rows if row.status == "failed"]
    for row in failures[:RAY_ERRORS_SHOWN]:
        error = row.error
        typer.echo(f"error: {error}" if row.source in error else f"error: {row.source}: {error}",
                   err=True)
    if len(failures) > RAY_ERRORS_SHOWN:
        typer.echo(f"error: ... and {len(failures) - RAY_ERRORS_SHOWN} more failing images "
                   f"(see the manifest)", err=True)
    typer.echo(f"encoded {report.written}, skipped {report.existing} existing, failed "
               f"{report.failed}; manifest: {report.manifest}")
    if failures:
        raise typer.Exit(1)
