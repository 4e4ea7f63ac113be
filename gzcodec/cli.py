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
    """Explain a .gzl file: every header field, its bytes, and what the coder spent over its model."""
    from .codec import information_bits
    from .container import HeaderV2, read_file, unpack
    from .errors import ModelNotFoundError
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
    info_txt = "n/a (model not found)"
    if found is not None:
        try:
            info_bits = information_bits(data)
            info_txt = "n/a (no entropy model at this rate)" if info_bits is None else ""
        except GzcodecError as exc:
            info_txt = f"n/a ({exc})"
    pixels = header.width * header.height
    config = found.config if found is not None else {}
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
    if v2:
        # Implied by the model, not stored: shown from the model when it is here.
        side = config.get("image_size", 0) // 16
        fields["latent_shape"] = (f"{config.get('latent_channels')}x{side}x{side} (the model's)"
                                  if config else "the model's (not found)")
        fields["step"] = (f"{config.get('latent_range', 16.0) / 2 ** (header.rate - 1):g} "
                          "(the model's)" if config and 2 <= header.rate <= 16 else "the model's")
    else:
        fields["latent_shape"] = "x".join(map(str, header.latent_shape))
        fields["step"] = header.step
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
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, log, samples.")
                   ] = Path("runs/model"),
    val: Annotated[Path | None, typer.Option(help="Folder whose first 16 images are "
                                                     "evaluated at each checkpoint.")] = None,
    steps: Annotated[int, typer.Option(min=1)] = 16_000,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    crop: Annotated[int, typer.Option(min=16, help="Crop size for most steps.")] = 64,
    image_size: Annotated[int, typer.Option(min=16)] = 128,
    channels: Annotated[int, typer.Option(min=8)] = 96,
    latent_channels: Annotated[int, typer.Option(min=1, max=255)] = 32,
    lr: Annotated[float, typer.Option()] = 3e-4,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int, typer.Option(min=0, help="Torch threads (0: torch's default). "
                                                    "1 is fastest on a busy 2-core machine.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (--steps and "
                                              "--threads may change).")] = False,
    export: Annotated[Path | None, typer.Option(help="Write the final model here "
                                                        "(.safetensors).")] = None,
    name: Annotated[str, typer.Option(help="Model name stored in the exported file.")
                    ] = "custom",
) -> None:
    """Train a model on a folder of images (hours on a CPU; resumable)."""
    import time

    from .models import ModelConfig
    from .train import TrainOptions, export_model
    from .train import train as run_training

    if crop > image_size or image_size % 16 or crop % 16:
        raise GzcodecError("image size and crop must be multiples of 16, crop <= image size")
    config = ModelConfig(image_size=image_size, channels=channels,
                         latent_channels=latent_channels, name=name)
    options = TrainOptions(steps=steps, batch_size=batch_size, crop=crop, lr=lr, seed=seed,
                           threads=threads)
    t0 = time.time()
    ckpt = run_training(data, out, config=config, options=options, val_dir=val, resume=resume,
                        log=typer.echo)
    if export is not None:
        model_id = export_model(ckpt, export, name=name, training={
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
