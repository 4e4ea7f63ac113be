"""Training a realism decoder for a model: ``gzcodec train DATA --realism-from MODEL``.

The model (``RealismOptions.realism_from``) is frozen, so every file it ever
made decodes both ways; a copy of its generator conditioned on β
(:mod:`gzcodec.models.realism`) is trained against a discriminator from
scratch (:mod:`gzcodec.train.realism_step` has the losses), and
:func:`~gzcodec.train.realism_checkpoints.export_realism` writes it as a
realism file beside the model (:mod:`gzcodec.zoo.realism_file`).

A run is a folder, as a model's is (:mod:`gzcodec.train`), and reuses the
trainer's parts: the images and their cache (:mod:`gzcodec.train.data`), the
learning-rate schedule, Ctrl-C and SIGTERM as a flag
(:class:`~gzcodec.train.signals.StopFlag`), the run-folder rules;
``checkpoint.safetensors`` (atomic, every ``checkpoint_minutes``, and when
stopped), ``log.jsonl``, ``samples.png`` and ``val.png`` (the curve). Validation, on the first 16
images of ``val_dir`` at rate indices :data:`VAL_RATES`: PSNR of the
fidelity decode (β = 0) and of the realism decoder at β = 1, and both
sharpness profiles (:func:`gzcodec.realism_metrics.sharpness_profile`; 1.0
is as sharp as the originals). One process (no ``nproc``).

Examples
--------
>>> from gzcodec.train_options import RealismOptions
>>> train_realism("faces/train", "runs/realism", options=RealismOptions(
...     realism_from="face128-v2", steps=40_000))                       # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..fileio import atomic_writer, make_folders
from ..metrics import psnr
from ..models.config import RealismConfig
from ..models.context_model import ContextModel
from ..models.realism import RealismGenerator
from ..rate import rate_position
from ..realism_metrics import sharpness_profile
from ..train_options import RealismOptions
from .checkpoints import check_run_folder
from .data import load_images, validation_images
from .plots import save_realism_curve
from .realism_checkpoints import (
    base_model,
    load_realism_checkpoint,
    make_adam,
    new_discriminator,
    save_realism_checkpoint,
)
from .realism_step import RealismNets, decoder_input, draw_realism_batch, realism_step
from .signals import StopFlag

__all__ = ["VAL_RATES", "evaluate_realism", "train_realism"]

#: Validation rate indices: about 100, 150, 205 and 441 bytes a face with face128-v2.
VAL_RATES: tuple[int, ...] = (40, 72, 96, 150)


def _pixels(x: torch.Tensor) -> np.ndarray:
    from ..imageio import tensor_to_pixels

    return tensor_to_pixels(x.detach())


@torch.no_grad()
def evaluate_realism(base: ContextModel, decoder: RealismGenerator, images: torch.Tensor,
                     rates: tuple[int, ...] = VAL_RATES) -> list[dict]:
    """PSNR and sharpness of the fidelity decode (β = 0) and the realism decoder's (β = 1).

    ``images`` are uint8 ``(N, 3, S, S)``, coded by the encoder's rounded
    guess at each rate index of ``rates``. One record per rate:
    ``{"rate", "psnr_0", "psnr_1", "sharpness_0", "sharpness_1"}``.
    """
    was_training = decoder.training
    decoder.eval()
    x = images.float() / 255
    originals = list(images.permute(0, 2, 3, 1).numpy())
    records = []
    for rate in rates:
        position = torch.full((len(x),), rate_position(rate, base.config.levels))
        latent = decoder_input(base, x, position)
        fidelity = _pixels(base.generator(latent).float() * 0.5 + 0.5)
        realistic = _pixels(decoder(latent, torch.ones(len(x)), noise_seeds=list(range(len(x)))))
        records.append({
            "rate": rate,
            "psnr_0": float(np.mean([psnr(o, d) for o, d in zip(originals, fidelity, strict=True)])),
            "psnr_1": float(np.mean([psnr(o, d) for o, d in zip(originals, realistic, strict=True)])),
            "sharpness_0": [round(float(v), 4) for v in sharpness_profile(originals, list(fidelity))],
            "sharpness_1": [round(float(v), 4) for v in sharpness_profile(originals, list(realistic))],
        })
    decoder.train(was_training)
    return records


def _save_samples(path: Path, base: ContextModel, decoder: RealismGenerator, images: torch.Tensor) -> None:
    """Originals on top, then per rate of 40 and 96: the fidelity decode and β = 1."""
    from PIL import Image

    was_training = decoder.training
    decoder.eval()
    x = images[:8].float() / 255
    rows = [x]
    with torch.no_grad():
        for rate in (40, 96):
            position = torch.full((len(x),), rate_position(rate, base.config.levels))
            latent = decoder_input(base, x, position)
            rows.append(base.generator(latent).float() * 0.5 + 0.5)
            rows.append(decoder(latent, torch.ones(len(x)), noise_seeds=list(range(len(x)))))
    decoder.train(was_training)
    grid = torch.cat([torch.cat(list(r.clamp(0, 1)), dim=2) for r in rows], dim=1)
    with atomic_writer(path, force=True) as f:
        Image.fromarray(_pixels(grid)).save(f, format="PNG")


def _validate(out: Path, nets: RealismNets, val: torch.Tensor, step: int, cpu_seconds: float,
              log: Callable[[str], None]) -> None:
    records = evaluate_realism(nets.base, nets.decoder, val)
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": step, "cpu_seconds": round(cpu_seconds, 1), "time": time.time(),
                            "val_realism": records}) + "\n")
    # Per rate: PSNR at beta 0 and 1, and the sharpness bands at beta 1 (1.0: the originals').
    log("val " + "  ".join(
        f"r{r['rate']}: {r['psnr_0']:.2f}/{r['psnr_1']:.2f} dB sharp "
        f"{'/'.join(f'{v:.2f}' for v in r['sharpness_1'])}" for r in records))
    _save_samples(out / "samples.png", nets.base, nets.decoder, val)
    save_realism_curve(out / "val.png", out / "log.jsonl")


def _start(ckpt: Path, options: RealismOptions | None, *, resume: bool,
           log: Callable[[str], None]) -> tuple[RealismNets, RealismOptions, dict[str, str]]:
    """The networks, optimisers, options and checkpoint metadata of a new or resumed run."""
    if resume:
        state = load_realism_checkpoint(ckpt, options=options)
        opts, meta, tensors = state.options, state.meta, state.tensors
        base = base_model(opts.realism_from, meta["base_model_id"])
        decoder, disc = state.decoder, state.disc
        log(f"resuming from step {state.step} ({float(meta.get('cpu_seconds', 0)) / 3600:.2f} "
            f"CPU-hours so far); realism decoder for model {base.info.name} ({base.id})")
    else:
        if options is None:
            raise ValueError("a new realism run needs its options (realism_from: the model)")
        opts, meta, tensors = options, {}, {}
        opts.validate()
        base = base_model(opts.realism_from)
        config = RealismConfig.for_base(base.config, noise=opts.noise)
        decoder = RealismGenerator.from_generator(config, base.network.generator)
        disc = new_discriminator(config, opts)
        log(f"realism decoder for model {base.info.name} ({base.id}, {base.path}); its encoder and "
            "entropy model stay frozen")
    opts.validate()
    # A copy: channels_last and training must not touch the registry's shared model.
    frozen = copy.deepcopy(base.network).eval().requires_grad_(False)
    nets = RealismNets(
        base=frozen.to(memory_format=torch.channels_last),
        decoder=decoder.train().to(memory_format=torch.channels_last),
        disc=disc.train().to(memory_format=torch.channels_last),
        optim_g=make_adam("adam_g", decoder, opts.lr, tensors, int(meta.get("adam_g_step", 0))),
        optim_d=make_adam("adam_d", disc, opts.disc_lr, tensors, int(meta.get("adam_d_step", 0))))
    meta.setdefault("base_model_id", base.id)
    return nets, opts, meta


def train_realism(data_dir: str | Path, out_dir: str | Path, *, options: RealismOptions | None = None,
                  val_dir: str | Path | None = None, resume: bool = False, force: bool = False,
                  cache_dir: str | Path | None = None, stop_at: int | None = None,
                  max_minutes: float | None = None, log: Callable[[str], None] = print,
                  on_step: Callable[[int, int], None] | None = None) -> Path:
    """Train a realism decoder for ``options.realism_from`` on ``data_dir``'s images; return the checkpoint.

    Parameters are those of :func:`gzcodec.train.train` (one process): on
    ``resume`` the options come from the checkpoint but for ``steps``,
    ``threads`` and ``checkpoint_minutes``.

    Raises
    ------
    ValueError
        Bad options, a base model that is not a hyperprior-context model, or a
        run folder that does not fit ``resume`` / ``force``.
    ModelNotFoundError
        The base model is not installed.
    """
    out = Path(out_dir)
    ckpt = out / "checkpoint.safetensors"
    check_run_folder(ckpt, resume=resume, force=force)
    nets, opts, meta = _start(ckpt, options, resume=resume, log=log)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    make_folders(out)
    size = nets.base.config.image_size
    data = load_images(data_dir, size, cache_dir=Path(cache_dir) if cache_dir else None, log=log)
    log(f"{len(data)} training images")
    val = validation_images(val_dir, size, log=log) if val_dir is not None else None
    step = start = int(meta.get("step", 0))
    end = opts.steps if stop_at is None else min(stop_at, opts.steps)
    if start >= end:
        log(f"the run is complete at step {start}; lengthen it with --steps")
    clock = _Clock(opts, float(meta.get("cpu_seconds", 0.0)), max_minutes)
    save = _saver(ckpt, nets, opts, meta["base_model_id"], clock)
    with StopFlag() as stop:
        while step < end and not stop.raised and not clock.out_of_time():
            x, position, beta = draw_realism_batch(data, opts, step, nets.base.config.levels)
            clock.add(realism_step(nets, x, position, beta, opts, step))
            step += 1
            if on_step is not None:
                on_step(step, end)
            if step % opts.log_every == 0:
                log(clock.progress(step, start))
            if val is not None and step % opts.val_every == 0:
                _validate(out, nets, val, step, clock.cpu_seconds(), log)
            if clock.checkpoint_due():
                save(step)
        save(step)
    if stop.raised:
        log(f"interrupted: checkpoint at step {step} saved; continue with --resume")
    return ckpt


def _saver(ckpt: Path, nets: RealismNets, opts: RealismOptions, base_id: str,
           clock: _Clock) -> Callable[[int], None]:
    def save(step: int) -> None:
        save_realism_checkpoint(ckpt, decoder=nets.decoder, disc=nets.disc, optim_g=nets.optim_g,
                                optim_d=nets.optim_d, step=step, cpu_seconds=clock.cpu_seconds(),
                                opts=opts, base_id=base_id)
        clock.last_save = time.time()

    return save


class _Clock:
    """A run's CPU time, its losses since the last log line, when to checkpoint and when to stop."""

    def __init__(self, opts: RealismOptions, cpu_before: float, max_minutes: float | None) -> None:
        self.opts, self.cpu_before = opts, cpu_before
        self.cpu0, self.wall0 = time.process_time(), time.time()
        self.last_save = self.wall0
        self.deadline = math.inf if max_minutes is None else self.wall0 + 60 * max_minutes
        self.losses: list[dict[str, float]] = []

    def cpu_seconds(self) -> float:
        return self.cpu_before + time.process_time() - self.cpu0

    def add(self, losses: dict[str, float]) -> None:
        self.losses.append(losses)

    def out_of_time(self) -> bool:
        return time.time() >= self.deadline

    def checkpoint_due(self) -> bool:
        return time.time() - self.last_save > self.opts.checkpoint_minutes * 60

    def progress(self, step: int, start: int) -> str:
        """The log line of the steps since the last one: mean losses, speed, learning rate, CPU time."""
        from .schedule import lr_at

        mean = {k: float(np.mean([d[k] for d in self.losses])) for k in self.losses[0]}
        self.losses.clear()
        speed = (step - start) / max(time.time() - self.wall0, 1e-9)
        return (f"step {step}/{self.opts.steps} distortion {mean['distortion']:.4f} adversarial "
                f"{mean['adversarial']:.3f} matching {mean['matching']:.3f} D {mean['discriminator']:.3f} "
                f"{speed:.2f} steps/s lr {lr_at(self.opts, step):.2e} cpu {self.cpu_seconds() / 3600:.2f} h")
