"""The ``gzcodec`` command line (typer).

Every command reports a failure as one line on stderr, ``error: ...``, and a
non-zero exit code; it never prints a traceback for bad input. Outputs are
written atomically and never overwritten without ``--force``. Commands over
many files go on past a failing file, report it, and exit with code 1.
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .errors import GzcodecError, OutputExistsError

__all__ = ["app", "main"]

app = typer.Typer(
    help="gzcodec: data-specific generative image compression (.gzl files).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Loss(str, Enum):
    mse = "mse"
    l1 = "l1"
    ssim = "ssim"
    ms_ssim = "ms-ssim"
    mix = "mix"


class Size(str, Enum):
    model = "model"
    source = "source"


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def clean_errors(command: Callable) -> Callable:
    """Turn the errors a user can cause into one line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return command(*args, **kwargs)
        except GzcodecError as exc:
            _fail(str(exc))
        except OSError as exc:
            name = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{name}{exc.strerror or exc}")
        except KeyboardInterrupt:
            _fail("interrupted; finished files are complete, run again to resume", 130)

    return wrapper


def _expand(inputs: list[Path], suffixes: tuple[str, ...]) -> tuple[list[Path], bool]:
    """Files named, then those inside folders named; and whether a folder was named."""
    files, folder = [], False
    for path in inputs:
        if path.is_dir():
            folder = True
            files.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.suffix.lower() in suffixes))
        elif path.exists():
            files.append(path)
        else:
            raise GzcodecError(f"{path}: no such file or folder")
    return files, folder


def _output_for(src: Path, output: Path | None, suffix: str, many: bool) -> Path:
    if output is None:
        return src.with_suffix(suffix)
    if many or output.is_dir():
        return output / (src.stem + suffix)
    return output


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), disable=not enabled,
                    transient=True)


@app.command()
@clean_errors
def encode(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    output: Annotated[Path | None, typer.Option("-o", "--output",
                      help="Output file (one input) or folder. Default: beside each input.")] = None,
    bits: Annotated[int, typer.Option(min=2, max=16, help="Latent precision, 2..16 "
                                                        "(4: ~600 bytes per face).")] = 4,
    model: Annotated[str | None, typer.Option(help="Model name, id or weights path.")] = None,
    loss: Annotated[Loss, typer.Option(help="Distortion the reversal minimises.")] = Loss.mse,
    steps: Annotated[int | None, typer.Option(
        min=0, help="Reversal refinement steps (default 10; 0: the encoder network's guess).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: same inputs and seed give same bytes.")] = 0,
    max_bytes: Annotated[int | None, typer.Option(
        min=1, help="Highest precision whose file fits in this many bytes.")] = None,
    target_ssim: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Lowest precision whose SSIM reaches this.")] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Encode images as .gzl files."""
    from . import codec
    from .fileio import write_atomic
    from .imageio import IMAGE_SUFFIXES, load_image
    from .reversal import DEFAULT_STEPS

    files, folder = _expand(inputs, IMAGE_SUFFIXES)
    many = folder or len(files) > 1
    if not files:
        raise GzcodecError("no images to encode")
    todo, failed, skipped = [], 0, 0
    for src in files:
        dst = _output_for(src, output, ".gzl", many)
        if dst.exists() and not force:
            if not many:
                raise OutputExistsError(f"{dst} exists (use --force to overwrite)")
            skipped += 1
            continue
        todo.append((src, dst))
    lm = codec.load_model(model)
    n_steps = DEFAULT_STEPS if steps is None else steps
    options = dict(bits=bits, model=lm, loss=loss.value, steps=steps, seed=seed,
                   max_bytes=max_bytes, target_ssim=target_ssim)
    written = 0
    with _progress(not quiet) as progress:
        task = progress.add_task("encoding", total=len(todo) * max(n_steps, 1))
        for start in range(0, len(todo), 16):
            batch = []
            for src, dst in todo[start:start + 16]:
                try:
                    batch.append((load_image(src), src, dst))
                except GzcodecError as exc:
                    typer.echo(f"error: {exc}", err=True)
                    failed += 1
            if not batch:
                continue

            def advance(_: int, n: int = len(batch)) -> None:
                progress.advance(task, n)

            try:
                results = codec.encode_batch([im for im, _, _ in batch], on_step=advance,
                                             **options)
            except (GzcodecError, ValueError):
                # Something in the batch failed: redo one by one to say which.
                results = []
                for im, src, _ in batch:
                    try:
                        results.append(codec.encode(im, **options))
                    except (GzcodecError, ValueError) as exc:
                        typer.echo(f"error: {src}: {exc}", err=True)
                        results.append(None)
                        failed += 1
            for (_, _src, dst), data in zip(batch, results, strict=True):
                if data is None:
                    continue
                try:
                    write_atomic(dst, data, force=force)
                    written += 1
                    if not many:
                        typer.echo(f"{dst}: {len(data)} bytes")
                except OutputExistsError as exc:
                    typer.echo(f"error: {exc}", err=True)
                    failed += 1
    if many:
        typer.echo(f"encoded {written}, skipped {skipped} existing, failed {failed}")
    if failed:
        raise typer.Exit(1)


@app.command()
@clean_errors
def decode(
    inputs: Annotated[list[Path], typer.Argument(help=".gzl files or folders of them.")],
    output: Annotated[Path | None, typer.Option("-o", "--output",
                      help="Output image (one input) or folder. Default: beside each input, .png.")
                      ] = None,
    size: Annotated[Size, typer.Option(help="'model': the generator's size; 'source': the "
                                            "encoded crop at its original resolution.")] = Size.model,
    model: Annotated[str | None, typer.Option(help="Decode with this model (must match).")
                     ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite outputs.")] = False,
) -> None:
    """Decode .gzl files to images (format from the output's extension; PNG by default)."""
    import io

    from PIL import Image

    from . import codec
    from .container import read_file
    from .fileio import write_atomic

    files, folder = _expand(inputs, (".gzl",))
    many = folder or len(files) > 1
    failed = 0
    for src in files:
        dst = _output_for(src, output, ".png", many)
        try:
            if dst.exists() and not force:
                raise OutputExistsError(f"{dst} exists (use --force to overwrite)")
            image = codec.decode(read_file(src), model=model, size=size.value)
            buffer = io.BytesIO()
            fmt = Image.registered_extensions().get(dst.suffix.lower(), "PNG")
            image.save(buffer, format=fmt)
            write_atomic(dst, buffer.getvalue(), force=force)
            if not many:
                typer.echo(f"{dst}: {image.width}x{image.height}")
        except (GzcodecError, OSError) as exc:
            if not many:
                raise
            typer.echo(f"error: {src}: {exc}", err=True)
            failed += 1
    if many:
        typer.echo(f"decoded {len(files) - failed}, failed {failed}")
    if failed:
        raise typer.Exit(1)


@app.command()
@clean_errors
def info(
    file: Annotated[Path, typer.Argument(help="A .gzl file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain a .gzl file: every header field, its size and whether its model is here."""
    from .container import HEADER_SIZE, read_file, unpack
    from .errors import ModelNotFoundError
    from .zoo import find_model_by_id

    data = read_file(file)
    header, _ = unpack(data)
    try:
        found = find_model_by_id(header.model_id_hex)
        model_txt = f"available ({found.name}, {found.path})"
    except ModelNotFoundError as exc:
        found, model_txt = None, f"NOT FOUND: {exc}"
    pixels = header.width * header.height
    fields = {
        "file": str(file),
        "bytes": len(data),
        "header_bytes": HEADER_SIZE,
        "payload_bytes": header.payload_length,
        "bpp": round(len(data) * 8 / pixels, 4),
        "format_version": header.version,
        "model_id": header.model_id_hex,
        "model": model_txt,
        "image_size": f"{header.width}x{header.height}",
        "source_size": f"{header.source_width}x{header.source_height}",
        "latent_shape": "x".join(map(str, header.latent_shape)),
        "bits": header.bits,
        "step": header.step,
        "coding": header.coding.name.lower(),
        "checksum": "ok",
    }
    if as_json:
        typer.echo(json.dumps(fields, indent=2))
        return
    width = max(map(len, fields))
    for key, value in fields.items():
        typer.echo(f"{key.replace('_', ' '):<{width}}  {value}")


@app.command()
@clean_errors
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the models gzcodec can find, and where it looks."""
    from .zoo import DEFAULT_MODEL, list_models, search_folders

    rows = list_models()
    if as_json:
        typer.echo(json.dumps([{"id": m.id, "name": m.name, "path": str(m.path),
                                "bytes": m.size_bytes, "config": m.config} for m in rows],
                              indent=2))
        return
    default_id = next((m.id for m in rows if m.name == DEFAULT_MODEL), None)
    for m in rows:
        default = " (default)" if m.id == default_id else ""
        size = m.config.get("image_size")
        typer.echo(f"{m.id}  {m.name}{default}  {size}x{size}  {m.size_bytes / 1e6:.1f} MB  "
                   f"{m.path}")
    typer.echo("searched: " + ", ".join(str(f) for f in search_folders()))


@app.command()
@clean_errors
def train(
    data: Annotated[Path, typer.Argument(help="Folder of training images.")],
    out: Annotated[Path, typer.Option(help="Run folder: checkpoint, log, curve, samples.")
                   ] = Path("runs/model"),
    val: Annotated[Path | None, typer.Option(help="Folder whose first 16 images are "
                                                     "evaluated every --val-every steps.")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Planned length of the run (the learning "
                                                   "rate decays over its last 15 %).")] = 400_000,
    max_minutes: Annotated[float | None, typer.Option(
        min=0.0, help="Stop cleanly (with a checkpoint) after this long; --resume goes on.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    image_size: Annotated[int, typer.Option(min=16, help="Multiple of 16.")] = 128,
    channels: Annotated[int, typer.Option(min=1, max=4096)] = 64,
    latent_channels: Annotated[int, typer.Option(min=2, max=255)] = 96,
    slices: Annotated[str, typer.Option(help="Channels per context slice, comma-separated "
                                             "(default: 1/8, 1/8, 1/4, 1/2 of the latent).")] = "",
    hyper_channels: Annotated[int, typer.Option(min=0, max=255, help="Hyperprior channels "
                                                                     "(0: none).")] = 0,
    lr: Annotated[float, typer.Option(help="Learning rate (> 0).")] = 2e-4,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int, typer.Option(min=0, help="Torch threads (0: torch's default). "
                                                    "1 is fastest on a busy 2-core machine.")] = 1,
    checkpoint_minutes: Annotated[float, typer.Option(help="Checkpoint interval.")] = 5.0,
    val_every: Annotated[int, typer.Option(min=1)] = 2000,
    cache: Annotated[Path | None, typer.Option(help="Folder for a cache of the decoded "
                                                    "training images.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (--steps, --threads "
                                              "and --checkpoint-minutes may change).")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing run in --out, or an existing "
                                             "--export file.")] = False,
    export: Annotated[Path | None, typer.Option(help="Write the final model here "
                                                        "(.safetensors).")] = None,
    name: Annotated[str, typer.Option(help="Model name stored in the exported file.")
                    ] = "custom",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a model on a folder of images (hours on a CPU; resumable, Ctrl-C checkpoints)."""
    import time

    from .models.context_model import ContextModelConfig
    from .train import TrainOptions, export_model
    from .train import train as run_training

    if image_size % 16:
        raise GzcodecError(f"--image-size must be a multiple of 16, not {image_size}")
    if export is not None and export.exists() and not force:
        raise OutputExistsError(f"{export} exists (files made with it could no longer be "
                                "decoded if it were replaced; use --force)")
    if slices:
        try:
            widths = tuple(int(w) for w in slices.split(","))
        except ValueError:
            raise GzcodecError(f"--slices must be comma-separated integers, not {slices!r}") from None
    else:
        m = latent_channels
        widths = (m // 8, m // 8, m // 4, m - 2 * (m // 8) - m // 4)
    if any(w < 1 for w in widths) or sum(widths) != latent_channels:
        raise GzcodecError(f"--slices {widths} must be positive and add up to "
                           f"--latent-channels {latent_channels}")
    config = ContextModelConfig(image_size=image_size, channels=channels,
                                latent_channels=latent_channels, slices=widths,
                                hyper_channels=hyper_channels, name=name)
    options = TrainOptions(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                           checkpoint_minutes=checkpoint_minutes, val_every=val_every,
                           log_every=max(1, min(200, steps // 10)))
    t0 = time.time()
    progress = _progress(not quiet)
    with progress:
        task = progress.add_task("training", total=None)

        def on_step(step: int, last: int) -> None:
            progress.update(task, completed=step, total=last)

        def log(line: str) -> None:
            progress.console.print(line, highlight=False, markup=False)

        try:
            ckpt = run_training(data, out, config=config, options=options, val_dir=val,
                                resume=resume, force=force, cache_dir=cache,
                                max_minutes=max_minutes, log=log, on_step=on_step)
        except (ValueError, FileExistsError, FileNotFoundError) as exc:
            raise GzcodecError(str(exc)) from None
    typer.echo(f"checkpoint: {ckpt}")
    if export is not None:
        model_id = export_model(ckpt, export, name=name, force=force, training={
            "data": str(data), "last_session_seconds": round(time.time() - t0)})
        typer.echo(f"exported {export} (model id {model_id})")


def _register_bench() -> None:
    try:
        from .bench.cli import bench
    except ImportError:  # the bench extra is not installed
        return
    app.command("bench")(clean_errors(bench))


_register_bench()


def main() -> None:
    """Entry point of the ``gzcodec`` console script."""
    app()


if __name__ == "__main__":
    main()
