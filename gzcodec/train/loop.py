"""The training loop: ``train`` in one process, or spawning several."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..distributed import ProcessGroup, environment_world_size, joined_group, sync_replicas
from ..fileio import make_folders
from ..models import network_class
from ..models.context_model import ContextModel, ContextModelConfig
from ..train_options import TrainOptions
from .checkpoints import (
    check_run_folder,
    checkpoint_options,
    initial_weights,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from .data import draw_batch, load_images, validation_images
from .plots import save_curve, save_samples
from .processes import spawn
from .schedule import lr_at, make_optimizer
from .signals import StopFlag
from .step import noise_seed, train_step, training_forward
from .validation import evaluate

__all__ = ["train"]


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: ContextModelConfig | None = None,
    options: TrainOptions | None = None,
    val_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    cache_dir: str | Path | None = None,
    stop_at: int | None = None,
    max_minutes: float | None = None,
    nproc: int = 1,
    log: Callable[[str], None] = print,
    on_step: Callable[[int, int], None] | None = None,
) -> Path:
    """Train a v2 model on the images of ``data_dir``; return the checkpoint path.

    Parameters
    ----------
    data_dir : path
        Folder of training images (any size; centre-cropped and resized).
    out_dir : path
        The run folder (checkpoint, log, curve, samples).
    config, options : optional
        Model architecture and training options. On ``resume`` both come from
        the checkpoint, except ``steps``, ``threads``, ``checkpoint_minutes`` and
        ``compile``.
    val_dir : path, optional
        Folder whose first 16 images are evaluated every ``val_every`` steps.
    resume : bool
        Continue from ``out_dir/checkpoint.safetensors`` (written by any number
        of processes).
    force : bool
        Start afresh even though ``out_dir`` holds a checkpoint (it is replaced).
    stop_at : int, optional
        Stop (with a checkpoint) at this step without changing the schedule:
        a stretch of a longer run, or a comparison at equal steps.
    max_minutes : float, optional
        Likewise, stop after this much wall time (a session's stretch).
    cache_dir : path, optional
        Keep the decoded training images here as one .npy file, so that later
        runs on the same folder start in seconds.
    nproc : int
        Train on this many new processes of this machine, each on
        ``options.threads`` threads and ``batch_size / nproc`` images of every
        batch (it must divide the batch), gradients averaged. Under
        ``torchrun`` (``WORLD_SIZE`` set) leave it at 1: the call is then one of
        torchrun's processes. The new processes are spawned, and import the
        caller's main module: in a script, call this under
        ``if __name__ == "__main__":``.
    log : callable
        Receives each line of the training log (rank 0's).
    on_step : callable, optional
        Called with ``(step, last_step)`` after every step (progress bars).

    Raises
    ------
    ValueError
        A config out of range (:meth:`~gzcodec.models.config.ConfigBase.validate`),
        bad options, or a run folder that does not fit ``resume`` / ``force``.

    Examples
    --------
    >>> train("faces/train", "runs/face", options=TrainOptions(steps=100))  # doctest: +SKIP
    >>> train("faces/train", "runs/face", resume=True, nproc=2)  # doctest: +SKIP
    """
    if nproc < 1:
        raise ValueError(f"the number of processes must be at least 1, not {nproc}")
    if config is not None:
        config.validate()  # before any process starts
    if nproc == 1:
        with joined_group() as group:
            return _train(group, data_dir, out_dir, config=config, options=options,
                          val_dir=val_dir, resume=resume, force=force, cache_dir=cache_dir,
                          stop_at=stop_at, max_minutes=max_minutes, log=log, on_step=on_step)
    if environment_world_size() > 1 or (dist.is_available() and dist.is_initialized()):
        raise ValueError("nproc starts processes of its own: under torchrun, leave it at 1")
    # Report what can be known here before paying for the processes' start.
    ckpt = Path(out_dir) / "checkpoint.safetensors"
    check_run_folder(ckpt, resume=resume, force=force)
    opts = checkpoint_options(read_meta(ckpt), options=options) if resume else options or TrainOptions()
    opts.validate()
    _check_split(opts, nproc)
    kwargs = dict(data_dir=data_dir, out_dir=out_dir, config=config, options=options,
                  val_dir=val_dir, resume=resume, force=force, cache_dir=cache_dir,
                  stop_at=stop_at, max_minutes=max_minutes)
    return spawn(nproc, kwargs, log, on_step, train=train)


def _check_split(opts: TrainOptions, world: int) -> None:
    if opts.batch_size % world:
        raise ValueError(f"the batch size ({opts.batch_size}) must be a multiple of the number "
                         f"of processes ({world})")


def _silent(line: str) -> None:
    """The log of the processes other than rank 0."""


class _Meter:
    """A run's clock and accounts: CPU time, the running means, when to checkpoint, stop votes.

    Several processes add up their CPU time and average their losses at every
    step, and decide together (any one's signal or clock stops all of them at
    the same step); rank 0's clock decides when to checkpoint.
    """

    def __init__(self, group: ProcessGroup, opts: TrainOptions, stop: StopFlag, *, start: int,
                 cpu_before: float, max_minutes: float | None) -> None:
        self.group, self.opts, self.stop = group, opts, stop
        self.start, self.cpu_before = start, cpu_before
        self.cpu0, self.wall0, self.last_save = time.process_time(), time.time(), time.time()
        self.deadline = math.inf if max_minutes is None else self.wall0 + 60 * max_minutes
        self.running: list[tuple[float, float]] = []
        # Several processes: the CPU time of all of them, added up at each step.
        self.cpu_all, self.cpu_mark = 0.0, self.cpu0
        self.due = False
        self.votes = group.sum(self.stop_votes())

    @property
    def halt(self) -> bool:
        return sum(self.votes) > 0

    def cpu_seconds(self) -> float:
        if self.group.world > 1:
            return self.cpu_before + self.cpu_all
        return self.cpu_before + time.process_time() - self.cpu0

    def cpu_since_mark(self) -> float:
        now = time.process_time()
        spent, self.cpu_mark = now - self.cpu_mark, now
        return spent

    def stop_votes(self) -> list[float]:
        """This process's wish to stop: interrupted, out of time (several processes add them up)."""
        return [float(self.stop.raised), float(time.time() >= self.deadline)]

    def record(self, loss: torch.Tensor, bpp: torch.Tensor) -> None:
        """A step's loss and rate; on several processes, also when to checkpoint and whether to stop."""
        group = self.group
        if group.world == 1:
            self.running.append((float(loss), float(bpp)))
            return
        due = group.lead and time.time() - self.last_save > self.opts.checkpoint_minutes * 60
        total = group.sum([float(loss), float(bpp), self.cpu_since_mark(), float(due),
                           *self.stop_votes()])
        self.running.append((total[0] / group.world, total[1] / group.world))
        self.cpu_all += total[2]
        self.due, self.votes = total[3] > 0, total[4:]

    def poll(self) -> None:
        """One process: when to checkpoint and whether to stop, after the step's validation."""
        if self.group.world == 1:
            self.due = time.time() - self.last_save > self.opts.checkpoint_minutes * 60
            self.votes = self.stop_votes()

    def progress(self, step: int) -> str:
        """The log line of the steps since the last one."""
        mean_loss, mean_bpp = np.mean(self.running, axis=0)
        rate_s = (step - self.start) / (time.time() - self.wall0)
        self.running.clear()
        return (f"step {step}/{self.opts.steps} loss {mean_loss:.4f} bpp {mean_bpp:.3f} "
                f"{rate_s:.2f} steps/s lr {lr_at(self.opts, step):.2e} "
                f"cpu {self.cpu_seconds() / 3600:.2f} h")

    def checkpoint(self, ckpt: Path, model: ContextModel, optim: torch.optim.Adam, step: int,
                   log: Callable[[str], None]) -> None:
        group = self.group
        if group.world > 1:
            self.cpu_all += group.sum([self.cpu_since_mark()])[0]
            drift = sync_replicas(model, group)
            if drift:
                log(f"the processes' weights had drifted apart (up to {drift:.3g}): "
                    "rank 0's copied to all")
        if group.lead:
            save_checkpoint(ckpt, model, optim, step=step, cpu_seconds=self.cpu_seconds(),
                            opts=self.opts)
        self.last_save = time.time()


def _start(ckpt: Path, *, config: ContextModelConfig | None, options: TrainOptions | None,
           resume: bool, force: bool,
           log: Callable[[str], None]) -> tuple[ContextModel, TrainOptions, dict[str, torch.Tensor],
                                                dict[str, str]]:
    """The network, options, checkpoint tensors and metadata a run starts from (new or resumed)."""
    check_run_folder(ckpt, resume=resume, force=force)
    if resume:
        model, tensors, meta = load_checkpoint(ckpt)
        opts = checkpoint_options(meta, options=options)
        start, cpu_before = int(meta["step"]), float(meta.get("cpu_seconds", 0.0))
        if start >= opts.steps:
            log(f"the run is complete at step {start}; lengthen it with --steps")
        log(f"resuming from step {start} ({cpu_before / 3600:.2f} CPU-hours so far)")
        before = checkpoint_options(meta).lambda_cap
        if opts.lambda_cap != before:  # a change of the loss mid-run: the log must say where
            log(f"lambda cap {before:g} -> {opts.lambda_cap:g} from step {start}")
        return model, opts, tensors, meta
    opts = options or TrainOptions()
    if opts.init_from:
        if config is not None:
            raise ValueError("a run started from another model has that model's "
                             "architecture: leave the config out")
        return initial_weights(opts.init_from, log), opts, {}, {}
    config = config or ContextModelConfig()
    return network_class(config)(config), opts, {}, {}


def _data(group: ProcessGroup, data_dir: str | Path, val_dir: str | Path | None,
          cache_dir: str | Path | None, size: int,
          log: Callable[[str], None]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The training images (rank 0 writes the cache, the others read it) and rank 0's validation images."""
    cache = Path(cache_dir) if cache_dir is not None else None
    if group.world > 1 and cache is not None and not group.lead:
        dist.barrier()  # rank 0 writes the cache; the others read it
    data = load_images(data_dir, size, cache_dir=cache, log=log)
    if group.world > 1 and cache is not None and group.lead:
        dist.barrier()
    log(f"{len(data)} training images")
    val = validation_images(val_dir, size, log=log) if val_dir is not None and group.lead else None
    return data, val


def _validate(out: Path, model: ContextModel, val: torch.Tensor, step: int, cpu_seconds: float,
              log: Callable[[str], None]) -> None:
    """Validate at ``step``: a record in ``log.jsonl``, a log line, the samples and the curve."""
    records = evaluate(model, val)
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": step, "cpu_seconds": round(cpu_seconds, 1),
                            "time": time.time(),
                            "val": [r.to_json() for r in records]}) + "\n")
    log("val " + " ".join(f"r{r.position:g}:{r.nbytes:.0f}B/{r.psnr:.2f}dB/"
                          f"{r.ssim:.3f}"
                          for r in records))
    save_samples(out / "samples.png", model, val)
    save_curve(out / "val.png", out / "log.jsonl")


def _train(
    group: ProcessGroup,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: ContextModelConfig | None,
    options: TrainOptions | None,
    val_dir: str | Path | None,
    resume: bool,
    force: bool,
    cache_dir: str | Path | None,
    stop_at: int | None,
    max_minutes: float | None,
    log: Callable[[str], None],
    on_step: Callable[[int, int], None] | None,
) -> Path:
    """:func:`train` in one process of ``group``."""
    if not group.lead:
        log, on_step = _silent, None
    out = Path(out_dir)
    ckpt = out / "checkpoint.safetensors"
    model, opts, tensors, meta = _start(ckpt, config=config, options=options, resume=resume,
                                        force=force, log=log)
    opts.validate()
    _check_split(opts, group.world)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if group.lead:
        make_folders(out)  # a file in the way is "not a directory", not "File exists"
    if group.world > 1:
        log(f"{group.world} processes x {torch.get_num_threads()} threads, each on "
            f"{opts.batch_size // group.world} of every {opts.batch_size} images")
    data, val = _data(group, data_dir, val_dir, cache_dir, model.config.image_size, log)
    model = model.to(memory_format=torch.channels_last)
    optim = make_optimizer(model, opts.lr, checkpoint_tensors=tensors,
                           adam_step=int(meta["adam_step"]) if tensors else 0)
    forward = training_forward(model, opts, group)
    step = start = int(meta.get("step", 0))
    end = opts.steps if stop_at is None else min(stop_at, opts.steps)
    with StopFlag() as stop:
        meter = _Meter(group, opts, stop, start=start, cpu_before=float(meta.get("cpu_seconds", 0.0)),
                       max_minutes=max_minutes)
        while step < end and not meter.halt:
            if group.world > 1:
                torch.manual_seed(noise_seed(opts.seed, step, group.rank))
            x, position = draw_batch(data, opts, step, model.config.levels, rank=group.rank,
                                     world=group.world)
            loss, bpp = train_step(forward, model, optim, x, position, opts, step)
            step += 1
            if on_step is not None:
                on_step(step, end)
            meter.record(loss, bpp)
            if step % opts.log_every == 0:
                log(meter.progress(step))
            if step % opts.val_every == 0 and val is not None:
                _validate(out, model, val, step, meter.cpu_seconds(), log)
            meter.poll()
            if meter.due:
                meter.checkpoint(ckpt, model, optim, step, log)
        meter.checkpoint(ckpt, model, optim, step, log)
    if stop.raised or meter.votes[0] > 0:
        log(f"interrupted: checkpoint at step {step} saved; continue with --resume")
    return ckpt
