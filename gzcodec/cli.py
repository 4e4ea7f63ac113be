"""The ``gzcodec`` command line (typer).

Every command reports a failure as one line on stderr, ``error: ...``, and
exit code 1 (130 when interrupted); usage errors (an unknown option, a value
out of range, a missing argument) too, never a boxed message or a traceback.
Outputs are written atomically and never overwritten without ``--force``;
an output never replaces one of the inputs, even with ``--force``. Commands
over many files go on past a failing file, report it, print a summary and
exit with code 1.

Only ``typer`` and gzcodec's light modules are imported at start-up: torch,
matplotlib, scikit-image and imagecodecs are imported by the commands that
need them, so ``gzcodec --help`` and ``gzcodec info`` start in a fraction of a
second.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

try:  # typer >= 0.2x carries its own copy of click; older ones use click itself
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_errors

from .errors import GzcodecError, OutputExistsError
from .losses import LOSS_NAMES
from .models.config import MIN_HYPERPRIOR_IMAGE_SIZE, RATE_INDEX_MAX, ContextModelConfig
from .options import BITS_LADDER, DEFAULT_BATCH_SIZE, DEFAULT_BITS, FACE128_DEFAULT_BITS, cli_message
from .refinement import DEFAULT_EFFORT, DEFAULT_STEPS, EFFORTS
from .train_options import VAL_IMAGES, TrainOptions
from .zoo import DEFAULT_MODEL

if TYPE_CHECKING:  # ray is imported only by encode --ray, rich by the commands
    from rich.progress import Progress, TaskID

    from .cluster import ClusterReport

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """Typer's group, with usage errors as one ``error: ...`` line and exit code 1.

    Typer boxes usage errors and exits with 2; the README and
    ``spec/errors.md`` promise one line and 1 for every user error, so the
    group runs click in non-standalone mode and reports errors itself.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except _click_errors.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            code = 0
        except _click_errors.UsageError as exc:
            typer.echo(f"error: {_usage_message(exc)}", err=True)
            code = 1
        except _click_errors.ClickException as exc:
            typer.echo(f"error: {_one_line(exc.format_message())}", err=True)
            code = 1
        except typer.Abort:
            typer.echo("error: interrupted", err=True)
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


    def get_params(self, ctx):
        return _without_flag_types(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _without_flag_types(command.get_params(ctx))
        return command


def _without_flag_types(params: list) -> list:
    """``params``, their flags shown without a value type in the help (they take no value).

    Typer's rich help puts the flag's Python type beside it (``--force -f <bool>``)
    unless it has a metavar; an empty one shows nothing.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_message(exc: _click_errors.UsageError) -> str:
    message = _one_line(exc.format_message())
    ctx = exc.ctx
    if ctx is not None and ctx.command_path:
        return f"{message} (see '{ctx.command_path} --help')"
    return message


def _version(value: bool) -> None:
    if value:
        from .version import __version__

        typer.echo(f"gzcodec {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=_Group,
    help="gzcodec: data-specific generative image compression (.gzl files).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """gzcodec: data-specific generative image compression (.gzl files).

    Torch threads: one per process by default (fastest on a busy machine);
    set GZCODEC_THREADS or --threads to change it.
    """


#: ``--loss`` choices: :data:`gzcodec.losses.LOSS_NAMES` (``Loss.ms_ssim`` is ``"ms-ssim"``).
Loss = Enum("Loss", [(name.replace("-", "_"), name) for name in LOSS_NAMES], type=str)


class Size(str, Enum):
    model = "model"
    source = "source"


#: ``--qr-level`` choices: :data:`gzcodec.qr.LEVELS`.
QrLevel = Enum("QrLevel", [(level, level) for level in ("L", "M", "Q", "H")], type=str)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _quiet(line: str) -> None:
    """``-q``: the per-file lines are not printed."""


def _os_message(exc: OSError) -> str:
    name = f"{exc.filename}: " if exc.filename else ""
    return f"{name}{exc.strerror or exc}"


def clean_errors(command: Callable) -> Callable:
    """Turn the errors a user can cause into one line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return command(*args, **kwargs)
        except GzcodecError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            # The reader went away (`gzcodec info x.gzl | head`): nothing more to say to it,
            # and Python's own flush at exit must not complain either.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            raise typer.Exit(1) from None
        except OSError as exc:
            _fail(_os_message(exc))
        except KeyboardInterrupt:
            _fail("interrupted; finished files are complete, run again to resume", 130)

    return wrapper


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        from .threads import set_threads

        set_threads(threads)


_THREADS_HELP = ("Torch threads (default: GZCODEC_THREADS, else 1, which is fastest on a busy "
                 "machine; 0: torch's default, one per core).")


def _above_zero(value: float | None) -> float | None:
    """The option's value, refused if 0 (typer's ``min`` includes its bound; click's
    ``min_open`` is not an option of typer's)."""
    if value is not None and value <= 0:
        raise typer.BadParameter("must be above 0")
    return value


def _is_folder_spec(output: str) -> bool:
    """Whether ``-o`` names a folder: it ends with a separator, or is an existing folder."""
    seps = tuple(s for s in (os.sep, os.altsep, "/") if s)
    return output.endswith(seps) or Path(output).is_dir()


def _plan(files: list[Path], output: str | None, suffix: str, many: bool,
          file_suffixes: Iterable[str]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Each input's output path, and one error line per input that must not be written.

    ``-o`` names a folder (several inputs, or a name ending in a separator) or
    the one output file; the rules on outputs are :func:`gzcodec.fileio.plan_outputs`'s.
    """
    from .fileio import plan_outputs

    folder = None
    if output is not None:
        if many and not _is_folder_spec(output) and (
                Path(output).exists() or Path(output).suffix.lower() in file_suffixes):
            raise GzcodecError(f"-o {output}: several inputs need an output folder "
                                   f"(end it with '/' to make one)")
        if many or _is_folder_spec(output):
            folder = Path(output)
    one_file = output if output is not None and folder is None else None
    plan, refused = plan_outputs(files, folder, suffix=suffix, output=one_file)
    return plan, [f"{src}: {why}" for src, why in refused.items()]


def _report(errors: list[str], many: bool) -> int:
    """Print per-file errors; with a single input, its error is the command's error."""
    if errors and not many:
        raise GzcodecError(errors[0])
    for line in errors:
        typer.echo(f"error: {line}", err=True)
    return len(errors)


def _skip_existing(plan: list[tuple[Path, Path]], force: bool, many: bool
                   ) -> tuple[list[tuple[Path, Path]], int]:
    """The pairs to do; existing outputs are skipped in folders (resume) and refused for one file."""
    if force:
        return plan, 0
    todo, skipped = [], 0
    for src, dst in plan:
        if dst.exists() or dst.is_symlink():
            if not many:
                raise OutputExistsError(f"{dst} exists (use --force to overwrite)")
            skipped += 1
        else:
            todo.append((src, dst))
    return todo, skipped


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    # On stderr, and only on a terminal: stdout stays the results alone (it used to
    # start with a stray blank line when redirected).
    console = Console(stderr=True)
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                    disable=not enabled or not console.is_terminal, transient=True)


def _show_step(progress: Progress, task: TaskID, step: int, last: int) -> None:
    """Training's ``on_step``: the bar at ``step`` of ``last`` (a run may be lengthened on resume)."""
    progress.update(task, completed=step, total=last)


def _write(dst: Path, data: bytes, *, force: bool) -> str | None:
    """Write one output; the error line if it cannot be (the other files go on)."""
    from .fileio import write_atomic

    try:
        write_atomic(dst, data, force=force)
    except (GzcodecError, OSError) as exc:
        return _failure(exc)
    return None


#: Images read and reduced at a time in a folder encode (each only as its model input).
BATCH = DEFAULT_BATCH_SIZE
#: ``--effort``'s choices as the help lists them, the default marked.
_EFFORT_CHOICES = " | ".join(f"{name} (default)" if name == DEFAULT_EFFORT else name for name in EFFORTS)


@app.command()
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
        help=f"Model name, id or weights path (default: the bundled {DEFAULT_MODEL}).")] = None,
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
    from .options import EncodeOptions

    try:
        options = EncodeOptions(bits=bits, rate=rate, max_bytes=max_bytes, target_ssim=target_ssim,
                                effort=effort, steps=steps, loss=loss.value, seed=seed)
    except ValueError as exc:
        raise GzcodecError(cli_message(exc)) from None
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


def _failure(exc: BaseException) -> str:
    """One line of an image's failure (:attr:`gzcodec.outputs.Encoded.error`)."""
    return _os_message(exc) if isinstance(exc, OSError) and not isinstance(exc, GzcodecError) else str(exc)


def _encode_files(inputs: list[str], output: str | None, *, model: str | None, options, force: bool,
                  quiet: bool, align: bool = False, max_faces: int | None = None) -> None:
    """``gzcodec encode`` on this machine: each batch of images read, encoded and written."""
    from .families import family_of
    from .fileio import check_writable, skipped_lines
    from .imageio import find_images, read_model_input
    from .outputs import encode_many, recorded_warnings, report_line, write_unless_written
    from .zoo import load_model

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
        from .cli_align import encode_photos

        failed += encode_photos(plan, model=model, options=options, max_faces=max_faces,
                                force=force, many=many, echo=typer.echo if not quiet else _quiet,
                                echo_error=functools.partial(typer.echo, err=True))
        if failed:
            raise typer.Exit(1)
        return
    todo, skipped = _skip_existing(plan, force, many)
    lm = load_model(model) if todo else None
    n_steps = 0
    if lm is not None:  # bad option combinations are refused before any image is read
        try:
            n_steps = family_of(lm).refinement_steps(options, lm)
            family_of(lm).check_options(options, lm)
        except ValueError as exc:
            raise GzcodecError(cli_message(exc)) from None

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
            batch = []
            for src, dst in todo[start:start + BATCH]:
                try:
                    # Reduced to the model's input at once: a batch never holds full-size images.
                    with recorded_warnings() as said[src]:
                        batch.append((read_model_input(src, lm.config.image_size), src, dst))
                except GzcodecError as exc:
                    if not many:
                        raise
                    typer.echo(f"error: {exc}", err=True)
                    failed += 1
            results = encode_many(
                [im for im, _, _ in batch], model=lm, options=options,
                write=lambda i, data, batch=batch: write_unless_written(batch[i][2], data, force=force),
                on_step=functools.partial(progress.advance, task))
            for (_, src, dst), result in zip(batch, results, strict=True):
                for message in [*said.pop(src, []), *result.warnings]:
                    typer.echo(report_line("warning", src, message), err=True)
                if result.skipped:  # another run wrote it meanwhile: as on a resume
                    skipped += 1
                    continue
                if result.error is not None:
                    fail(src, _failure(result.error))
                    continue
                written += 1
                if not many:
                    typer.echo(f"{dst}: {len(result.data)} bytes")
            # The batch's images are done, whatever their steps told (none with --effort none).
            progress.update(task, completed=min(start + BATCH, len(todo)) * max(n_steps, 1))
    if many:
        typer.echo(f"encoded {written}, skipped {skipped} existing, failed {failed}")
    if failed:
        raise typer.Exit(1)


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


@app.command()
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
                       max_pixels=max_pixels, model=model, force=force)
        return
    files, folder = list_inputs(inputs, suffixes=(".gzl",))
    if into is not None:  # every face into the one photo: gzcodec/cli_align.py
        from .cli_align import decode_into

        if size != Size.model or max_pixels is not None:
            raise GzcodecError("--into pastes faces at their size in the photo: no --size or --max-pixels")
        dst = decode_into(files, into, output, model=model, force=force)
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
                                     max_pixels=max_pixels)
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


def _info_fields(file: Path, *, entropy: bool) -> dict:
    from .codec import information_bits
    from .container import HeaderV2, read_file, unpack
    from .errors import ModelNotFoundError
    from .models.config import RATE_INDEX_MAX, ContextModelConfig, rate_position
    from .zoo import find_model_by_id

    data = read_file(file)
    header, payload = unpack(data)
    v2 = isinstance(header, HeaderV2)
    try:
        found = find_model_by_id(header.model_id_hex)
        model_txt = f"available ({found.name}, {found.id}, {found.path})"
    except ModelNotFoundError as exc:
        found, model_txt = None, f"NOT FOUND: {exc}"
    info_bits: float | None = None
    info_txt = "n/a (model not found)" if entropy else "not computed (--entropy runs the model)"
    if found is not None and entropy:
        try:
            info_bits = information_bits(data)
            info_txt = "n/a (no entropy model at this rate)" if info_bits is None else ""
        except GzcodecError as exc:
            info_txt = f"n/a ({exc})"
    pixels = header.width * header.height
    config = found.model_config if found is not None else None  # typed; None: model not here
    fields = {
        "file": str(file),
        "bytes": len(data),
        "bpp": round(len(data) * 8 / pixels, 4),
        "format_version": header.version,
        "header_bytes": header.header_size,
        "payload_bytes": len(payload),
        # -log2 p of the latent under the model's entropy model: what an ideal coder spends.
        "information_bytes": round(info_bits / 8, 2) if info_bits is not None else info_txt,
        "overhead_bytes": (round(len(payload) - info_bits / 8, 2) if info_bits is not None
                           else info_txt),
        "model_id": header.model_id_hex,
        "model": model_txt,
        "image_size": f"{header.width}x{header.height}",
        "source_size": f"{header.source_width}x{header.source_height}",
        "rate": header.rate,
        "bits": header.rate,
        "coding": header.coding.name.lower(),
        "checksum": "ok",
    }
    placement = getattr(header, "placement", None)
    if placement is not None:  # an aligned face: where its crop was in the photo
        x, y = placement.centre
        fields["placement"] = (f"centre ({x:g}, {y:g}), side {placement.side_pixels:g}, angle "
                               f"{math.degrees(placement.angle_radians):.2f} degrees")
    if isinstance(config, ContextModelConfig):
        # A v2 model's rate byte is its rate index; there are no bits and no step.
        del fields["bits"]
        position = rate_position(header.rate, config.levels)
        fields["rate"] = f"{header.rate} of {RATE_INDEX_MAX} (rate position {position:.2f})"
        channels, side, _ = config.latent_shape
        hyper = config.hyper_channels
        fields["latent_shape"] = (f"{channels}x{side}x{side}"
                                  + (f" + hyper-latent {hyper}x{side // 4}x{side // 4}" if hyper
                                     else "") + " (the model's)")
    elif v2:
        # Implied by the model, not stored: shown from the model when it is here.
        fields["latent_shape"] = ("x".join(map(str, config.latent_shape)) + " (the model's)"
                                  if config is not None else "the model's (not found)")
        fields["step"] = (f"{config.step(header.rate):g} (the model's)"
                          if config is not None and 2 <= header.rate <= 16 else "the model's")
    else:
        fields["latent_shape"] = "x".join(map(str, header.latent_shape))
        fields["step"] = header.step
    return fields


@app.command()
@clean_errors
def info(
    files: Annotated[list[Path], typer.Argument(help=".gzl files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (a list for several files).")
                       ] = False,
    entropy: Annotated[bool, typer.Option(
        "--entropy", help="Also load the model and give the latent's information content and "
                          "the coder's overhead in bytes (slower: runs torch).")] = False,
) -> None:
    """Explain .gzl files: every header field, its size and whether its model is here."""
    many = len(files) > 1
    rows, failed = [], 0
    for file in files:
        try:
            rows.append(_info_fields(file, entropy=entropy))
        except (GzcodecError, OSError) as exc:
            if not many:
                raise
            message = str(exc) if isinstance(exc, GzcodecError) else _os_message(exc)
            typer.echo(f"error: {file}: {message}" if str(file) not in message
                       else f"error: {message}", err=True)
            failed += 1
    if as_json:
        typer.echo(json.dumps(rows if many else rows[0], indent=2))
    else:
        for i, fields in enumerate(rows):
            if i:
                typer.echo("")
            width = max(map(len, fields))
            for key, value in fields.items():
                typer.echo(f"{key.replace('_', ' '):<{width}}  {value}")
    if failed:
        raise typer.Exit(1)


@app.command()
@clean_errors
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the models gzcodec can find, and where it looks."""
    from .errors import ModelNotFoundError
    from .zoo import default_model, list_models, search_folders

    rows = list_models()
    try:
        default_id = default_model().id
    except ModelNotFoundError:
        default_id = None
    if as_json:
        typer.echo(json.dumps([{"id": m.id, "name": m.name, "path": str(m.path),
                                "bytes": m.size_bytes, "config": m.config,
                                "default": m.id == default_id} for m in rows], indent=2))
        return
    for m in rows:
        default = " (default)" if m.id == default_id else ""
        size = m.model_config.image_size
        typer.echo(f"{m.id}  {m.name}{default}  {size}x{size}  {m.size_bytes / 1e6:.1f} MB  "
                   f"{m.path}")
    typer.echo("searched: " + ", ".join(str(f) for f in search_folders()))


#: ``gzcodec train``'s defaults: the library's (a run's options, a v2 model's shape).
_TRAIN = TrainOptions()
_MODEL = ContextModelConfig()


@app.command()
@clean_errors
def train(
    data: Annotated[Path, typer.Argument(help="Folder of training images.")],
    out: Annotated[Path, typer.Option(help="Run folder: checkpoint, log, curve, samples.")
                   ] = Path("runs/model"),
    val: Annotated[Path | None, typer.Option(help=f"Folder whose first {VAL_IMAGES} images are "
                                                     "evaluated every --val-every steps.")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Planned length of the run (the learning "
                                                   "rate decays over its last 15 %).")] = _TRAIN.steps,
    max_minutes: Annotated[float | None, typer.Option(
        min=0.0, help="Stop cleanly (with a checkpoint) after this long; --resume goes on.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = _TRAIN.batch_size,
    image_size: Annotated[int, typer.Option(min=16, help="Multiple of 16.")] = _MODEL.image_size,
    channels: Annotated[int, typer.Option(min=1, max=4096)] = _MODEL.channels,
    latent_channels: Annotated[int, typer.Option(min=2, max=255)] = _MODEL.latent_channels,
    slices: Annotated[str, typer.Option(help="Channels per context slice, comma-separated, "
                                             "coded in turn (default: one slice).")] = "",
    hyper_channels: Annotated[int | None, typer.Option(
        min=0, max=255, help=f"Hyperprior channels (0: none; default {_MODEL.hyper_channels}, or 0 "
                             f"below {MIN_HYPERPRIOR_IMAGE_SIZE} pixels).")
    ] = None,
    lr: Annotated[float, typer.Option(help="Learning rate (> 0).")] = _TRAIN.lr,
    distortion: Annotated[Loss, typer.Option(help="What the model trades bits against.")
                          ] = Loss(_TRAIN.distortion),
    init_from: Annotated[str | None, typer.Option(
        help="Start from this model's weights (a checkpoint, a weights file or a model name) "
             "instead of random ones: fine-tuning, e.g. the bundled face model on another "
             "domain (try a lower --lr). The architecture is that model's.")] = None,
    seed: Annotated[int, typer.Option()] = _TRAIN.seed,
    threads: Annotated[int, typer.Option(min=0, help="Torch threads (0: torch's default), of "
                                                    "each process. 1 is fastest on a busy 2-core "
                                                    "machine.")] = _TRAIN.threads,
    nproc: Annotated[int, typer.Option(min=1, help="Train on this many processes (gloo), "
                                                   "gradients averaged; --batch-size is the total "
                                                   "of theirs. Under torchrun leave it at 1.")] = 1,
    checkpoint_minutes: Annotated[float, typer.Option(help="Checkpoint interval.")
                                  ] = _TRAIN.checkpoint_minutes,
    val_every: Annotated[int, typer.Option(min=1)] = _TRAIN.val_every,
    cache: Annotated[Path | None, typer.Option(help="Folder for a cache of the decoded "
                                                    "training images.")] = None,
    compile_: Annotated[bool, typer.Option(
        "--compile/--no-compile", help="torch.compile the training step (~15 % faster after "
                                       "~40 s of compilation).")] = _TRAIN.compile,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (--steps, --threads, "
                                              "--nproc, --checkpoint-minutes and --compile may "
                                              "change).")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing run in --out, or an existing "
                                             "--export file.")] = False,
    export: Annotated[Path | None, typer.Option(help="Write the final model here "
                                                        "(.safetensors).")] = None,
    name: Annotated[str, typer.Option(help="Model name stored in the exported file.")
                    ] = "custom",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a model on a folder of images (hours on a CPU; resumable, Ctrl-C checkpoints).

    Several processes: --nproc N, or torchrun --nproc-per-node N -m gzcodec.cli train ...
    """
    import time

    from .train import export_model, process_rank
    from .train import train as run_training

    architecture = {"image_size": (image_size, _MODEL.image_size),
                    "channels": (channels, _MODEL.channels),
                    "latent_channels": (latent_channels, _MODEL.latent_channels),
                    "slices": (slices, ""), "hyper_channels": (hyper_channels, None)}
    changed = [k for k, (given, default) in architecture.items() if given != default]
    if init_from is not None and changed:
        raise GzcodecError(f"--init-from takes its model's architecture: drop "
                           f"--{changed[0].replace('_', '-')}")
    if init_from is not None and resume:
        raise GzcodecError("--init-from starts a new run; --resume continues one: use one")
    if export is not None and export.exists() and not force:
        raise OutputExistsError(f"{export} exists (files made with it could no longer be "
                                "decoded if it were replaced; use --force)")
    if slices:
        try:
            widths = tuple(int(w) for w in slices.split(","))
        except ValueError:
            raise GzcodecError(f"--slices must be comma-separated integers, not {slices!r}") from None
    else:
        widths = (latent_channels,)
    if hyper_channels is None:
        hyper_channels = ContextModelConfig.default_hyper_channels(image_size)
    config = ContextModelConfig(image_size=image_size, channels=channels,
                                latent_channels=latent_channels, slices=widths,
                                hyper_channels=hyper_channels, name=name)
    try:
        config.validate()  # the rules of every model config, stored ones too
    except ValueError as exc:
        raise GzcodecError(str(exc)) from None
    options = TrainOptions(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                           checkpoint_minutes=checkpoint_minutes, val_every=val_every,
                           compile=compile_, distortion=distortion.value,
                           init_from=init_from or "",
                           log_every=max(1, min(200, steps // 10)))
    t0 = time.time()
    # Under torchrun every process runs this command: rank 0 alone reports and exports.
    lead = process_rank() == 0
    progress = _progress(not quiet and lead)
    with progress:
        task = progress.add_task("training", total=None)
        # Log lines above the bar, as they are (no rich markup or highlighting); redirected,
        # whole lines (rich would wrap them at its 80-column default).
        log = functools.partial(progress.console.print, highlight=False, markup=False,
                                soft_wrap=not progress.console.is_terminal)
        try:
            ckpt = run_training(data, out, config=None if init_from else config,
                                options=options, val_dir=val,
                                resume=resume, force=force, cache_dir=cache,
                                max_minutes=max_minutes, nproc=nproc, log=log,
                                on_step=functools.partial(_show_step, progress, task))
        except (ValueError, FileExistsError, FileNotFoundError) as exc:
            raise GzcodecError(str(exc)) from None
    if not lead:
        return
    typer.echo(f"checkpoint: {ckpt}")
    if export is not None:
        model_id = export_model(ckpt, export, name=name, force=force, training={
            "data": str(data), "last_session_seconds": round(time.time() - t0)})
        typer.echo(f"exported {export} (model id {model_id})")


def _register_bench() -> None:
    # Always registered, so that a missing extra is explained instead of the command
    # vanishing; gzcodec.bench.cli imports only typer and light modules (the bench itself is imported
    # when the command runs).
    from .bench.cli import bench

    app.command("bench")(clean_errors(bench))


_register_bench()


def main() -> None:
    """Entry point of the ``gzcodec`` console script."""
    app()


if __name__ == "__main__":
    main()
