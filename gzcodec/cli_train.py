"""``gzcodec train``: a model trained on a folder of images (:func:`gzcodec.train.train`)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .cli_common import Loss, _progress, clean_errors
from .errors import GzcodecError, OutputExistsError
from .models.config import MIN_HYPERPRIOR_IMAGE_SIZE, ContextModelConfig
from .train_options import VAL_IMAGES, RealismOptions, TrainOptions

if TYPE_CHECKING:  # rich is imported by the command
    from rich.progress import Progress, TaskID

__all__ = ["train"]


#: ``gzcodec train``'s defaults: the library's (a run's options, a v2 model's shape).
_TRAIN = TrainOptions()
_MODEL = ContextModelConfig()
_REALISM = RealismOptions()


def _stored_options(out: Path) -> TrainOptions | None:
    """The options stored in ``out``'s checkpoint; ``None`` without a readable one
    (resuming it then fails with its own message)."""
    from safetensors import SafetensorError

    from .train.checkpoints import checkpoint_options, read_meta

    ckpt = out / "checkpoint.safetensors"
    try:
        return checkpoint_options(read_meta(ckpt)) if ckpt.is_file() else None
    except (OSError, SafetensorError, KeyError, TypeError, ValueError):
        return None


def _plan(out: Path, *, resume: bool, steps: int | None, lambda_cap: float | None) -> tuple[int, float]:
    """The length and lambda cap of a model run: as given, else (resuming) the run's own, else
    the defaults. A resumed run keeps its own plan, as its schedule decays to it."""
    stored = (_stored_options(out) if resume else None) or _TRAIN
    return (stored.steps if steps is None else steps,
            stored.lambda_cap if lambda_cap is None else lambda_cap)


def _show_step(progress: Progress, task: TaskID, step: int, last: int) -> None:
    """Training's ``on_step``: the bar at ``step`` of ``last`` (a run may be lengthened on resume)."""
    progress.update(task, completed=step, total=last)


def _architecture_changed(image_size: int, channels: int, latent_channels: int, slices: str,
                          hyper_channels: int | None) -> list[str]:
    """The architecture options given other values than their defaults."""
    architecture = {"image_size": (image_size, _MODEL.image_size),
                    "channels": (channels, _MODEL.channels),
                    "latent_channels": (latent_channels, _MODEL.latent_channels),
                    "slices": (slices, ""), "hyper_channels": (hyper_channels, None)}
    return [k for k, (given, default) in architecture.items() if given != default]


def _is_realism_run(out: Path) -> bool:
    """Whether ``out`` holds a realism decoder's run (``--resume`` then needs no --realism-from)."""
    from .train.realism_checkpoints import stored_realism_options

    return stored_realism_options(out / "checkpoint.safetensors") is not None


def _train_realism(data: Path, out: Path, *, realism_from: str | None, weights: dict, steps: int | None,
                   lr: float | None, val: Path | None, cache: Path | None, max_minutes: float | None,
                   resume: bool, force: bool, export: Path | None, name: str, quiet: bool, nproc: int,
                   init_from: str | None, changed: list[str], **fields) -> None:
    """``gzcodec train --realism-from``: a realism decoder (:func:`gzcodec.train.realism.train_realism`).

    ``fields`` are :class:`RealismOptions` fields given on the command line as they are.
    """
    import time

    from .train.realism import train_realism
    from .train.realism_checkpoints import export_realism, stored_realism_options

    if changed:
        raise GzcodecError(f"--realism-from takes its model's architecture: drop "
                           f"--{changed[0].replace('_', '-')}")
    if init_from is not None:
        raise GzcodecError("--init-from starts a model's run; a realism decoder starts from the "
                           "generator of --realism-from: use one")
    if nproc != 1:
        raise GzcodecError("a realism decoder trains in one process: drop --nproc")
    if export is not None and export.exists() and not force:
        raise OutputExistsError(f"{export} exists (use --force to replace it)")
    stored = stored_realism_options(out / "checkpoint.safetensors") if resume else None
    steps = steps or (stored.steps if stored is not None else _REALISM.steps)
    options = RealismOptions(realism_from=realism_from or "", steps=steps,
                             lr=_REALISM.lr if lr is None else lr,
                             log_every=max(1, min(100, steps // 10)), **fields,
                             **{k: v for k, v in weights.items() if v is not None})
    t0 = time.time()
    with _progress(not quiet) as progress:
        task = progress.add_task("training", total=None)
        log = functools.partial(progress.console.print, highlight=False, markup=False,
                                soft_wrap=not progress.console.is_terminal)
        try:
            ckpt = train_realism(data, out, options=options, val_dir=val, resume=resume, force=force,
                                 cache_dir=cache, max_minutes=max_minutes, log=log,
                                 on_step=functools.partial(_show_step, progress, task))
        except (ValueError, FileExistsError, FileNotFoundError) as exc:
            raise GzcodecError(str(exc)) from None
    typer.echo(f"checkpoint: {ckpt}")
    if export is not None:
        realism_id = export_realism(ckpt, export, name=name, force=force, training={
            "data": str(data), "last_session_seconds": round(time.time() - t0)})
        typer.echo(f"exported {export} (realism decoder id {realism_id})")


def _check_table_radius(table_radius: int | None, *, export: Path | None, realism: bool) -> None:
    if table_radius is None:
        return
    from .models.gaussian import MAX_TABLE_RADIUS

    if realism:
        raise GzcodecError("--table-radius is a model's; a realism decoder has no tables")
    if export is None:
        raise GzcodecError("--table-radius is the --export file's: give --export too")
    if not 1 <= table_radius <= MAX_TABLE_RADIUS:
        raise GzcodecError(f"--table-radius must be 1..{MAX_TABLE_RADIUS}, not {table_radius}")


@clean_errors
def train(
    data: Annotated[Path, typer.Argument(help="Folder of training images.")],
    out: Annotated[Path, typer.Option(help="Run folder: checkpoint, log, curve, samples.")
                   ] = Path("runs/model"),
    val: Annotated[Path | None, typer.Option(help=f"Folder whose first {VAL_IMAGES} images are "
                                                     "evaluated every --val-every steps.")] = None,
    steps: Annotated[int | None, typer.Option(
        min=1, help=f"Planned length of the run (the learning rate decays over its last 15 %; "
                    f"default {_TRAIN.steps}, {_REALISM.steps} with --realism-from; on "
                    f"--resume, the run's own).")] = None,
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
    lr: Annotated[float | None, typer.Option(
        help=f"Learning rate (> 0; default {_TRAIN.lr:g}, {_REALISM.lr:g} with --realism-from).")
    ] = None,
    distortion: Annotated[Loss, typer.Option(help="What the model trades bits against.")
                          ] = Loss(_TRAIN.distortion),
    init_from: Annotated[str | None, typer.Option(
        help="Start from this model's weights (a checkpoint, a weights file or a model name) "
             "instead of random ones: fine-tuning, e.g. the bundled face model on another "
             "domain (try a lower --lr). The architecture is that model's.")] = None,
    realism_from: Annotated[str | None, typer.Option(
        help="Train a realism decoder for this model (name, id or weights file) instead of a "
             "model: its encoder and entropy model stay frozen, so its files decode both ways "
             "(gzcodec decode --realism). --export writes the realism file.")] = None,
    adversarial_weight: Annotated[float | None, typer.Option(
        min=0.0, help=f"--realism-from: weight of the adversarial loss at β = 1 "
                      f"(default {_REALISM.adversarial_weight:g}).")] = None,
    feature_weight: Annotated[float | None, typer.Option(
        min=0.0, help=f"--realism-from: weight of the discriminator feature matching at β = 1 "
                      f"(default {_REALISM.feature_weight:g}).")] = None,
    distortion_weight: Annotated[float | None, typer.Option(
        min=0.0, help=f"--realism-from: weight of the distortion (default "
                      f"{_REALISM.distortion_weight:g}).")] = None,
    max_rate: Annotated[int | None, typer.Option(
        min=0, max=255, help=f"--realism-from: highest rate index trained, the low ones more often "
                             f"(default {_REALISM.max_rate}).")] = None,
    lambda_cap: Annotated[float | None, typer.Option(
        min=0.0, help="Images at a rate level whose lambda is above this weigh in the loss as "
                      "if at it (0: no cap, the default); for a model whose top levels crowd "
                      "out its low ones. May change on --resume (the log says from which step).")
    ] = None,
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
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (--steps, --threads, --lambda-cap, "
                                              "--nproc, --checkpoint-minutes and --compile may "
                                              "change).")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing run in --out, or an existing "
                                             "--export file.")] = False,
    export: Annotated[Path | None, typer.Option(help="Write the final model here "
                                                        "(.safetensors).")] = None,
    name: Annotated[str, typer.Option(help="Model name stored in the exported file.")
                    ] = "custom",
    table_radius: Annotated[int | None, typer.Option(
        help="Widest coding window of the --export file's tables (default: the 64 face128-v2 "
             "was measured to need): latent elements further from their predicted mean are "
             "clamped when encoded. Above 64 the tables are windowed: only large scales' rows "
             "widen, so decoding stays about as fast. A model with high rates needs it (face-v3: "
             "511; benchmarks/table_radius.py measures it).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a model on a folder of images (hours on a CPU; resumable, Ctrl-C checkpoints).

    Several processes: --nproc N, or torchrun --nproc-per-node N -m gzcodec.cli train ...
    """
    import time

    from .train import export_model, process_rank
    from .train import train as run_training

    realism = {"adversarial_weight": adversarial_weight, "feature_weight": feature_weight,
               "distortion_weight": distortion_weight, "max_rate": max_rate}
    realism_run = realism_from is not None or (resume and _is_realism_run(out))
    _check_table_radius(table_radius, export=export, realism=realism_run)
    if realism_run:
        if lambda_cap is not None:
            raise GzcodecError("--lambda-cap weighs a model's rate levels; a realism decoder "
                               "has its own draw of them (--max-rate)")
        _train_realism(data, out, val=val, realism_from=realism_from, weights=realism, steps=steps,
                       max_minutes=max_minutes, batch_size=batch_size, lr=lr, seed=seed,
                       threads=threads, nproc=nproc, checkpoint_minutes=checkpoint_minutes,
                       val_every=val_every, cache=cache, distortion=distortion.value,
                       init_from=init_from, resume=resume, force=force, export=export, name=name,
                       quiet=quiet, changed=_architecture_changed(
                           image_size, channels, latent_channels, slices, hyper_channels))
        return
    given = [k for k, v in realism.items() if v is not None]
    if given:
        raise GzcodecError(f"--{given[0].replace('_', '-')} goes with --realism-from")
    steps, lambda_cap = _plan(out, resume=resume, steps=steps, lambda_cap=lambda_cap)
    lr = _TRAIN.lr if lr is None else lr
    changed = _architecture_changed(image_size, channels, latent_channels, slices, hyper_channels)
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
                           init_from=init_from or "", lambda_cap=lambda_cap,
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
        model_id = export_model(ckpt, export, name=name, force=force, table_radius=table_radius,
                                training={"data": str(data),
                                          "last_session_seconds": round(time.time() - t0)})
        typer.echo(f"exported {export} (model id {model_id})")
