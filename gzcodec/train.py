"""Training a gzcodec v2 model on a folder of images: ``gzcodec train DIR``.

The encoder, generator, gains and context entropy model are trained together
on whole, aligned images to minimise, at a rate position ``r`` drawn uniformly
for every image,

    loss = bpp(r) + lambda(r) * 255**2 * MSE

(:meth:`gzcodec.models.context_model.ContextModel.forward` gives the rate and the image;
:func:`gzcodec.reversal.rate_distortion` is the objective, the one refinement
minimises too; ``TrainOptions.distortion`` may put another of its distortions
in MSE's place).

Fine-tuning. ``TrainOptions(init_from=...)`` (``gzcodec train --init-from``)
starts a new run from the weights of a checkpoint or of any v2 model the
registry finds, with a fresh optimiser and schedule: the bundled face model
adapted to another domain, or to another distortion.

Throughput on a CPU: the transforms run under bfloat16 autocast in
``channels_last`` layout (the entropy model stays float32), which made a step
about twice as fast on this project's AVX-512-BF16 machine
(``benchmarks/train_throughput.py``).

Long runs. A run is a folder: ``checkpoint.safetensors`` (weights, Adam's
moments, step, CPU time; never a pickle) written atomically every
``checkpoint_minutes`` and when the process is interrupted (Ctrl-C, SIGTERM),
``log.jsonl`` (training and validation records), ``val.png`` (the curve) and
``samples.png``. ``resume=True`` continues where the checkpoint left off with
the same data order; the run may be lengthened on resume.

Several processes. ``train(..., nproc=N)`` (``gzcodec train --nproc N``)
starts ``N`` processes on this machine, and ``torchrun -m gzcodec.cli train
...`` as many as torchrun is told, on one machine or several: each process
(``RANK``, ``WORLD_SIZE`` from the environment; gloo, CPU) trains on its part
of every batch and ``DistributedDataParallel`` averages the gradients, so
``batch_size`` stays the batch of the whole step (8 on 2 processes: 4 each)
and the optimisation is that of one process. Every process draws the step's
images and positions from the same generator, seeded by ``(seed, step)`` as in
one process, and takes its own slice of them. Rank 0 alone logs, validates and
writes the checkpoint, which has the format of a one-process run: a run may
be resumed on any number of processes. Ctrl-C, SIGTERM and ``max_minutes``
stop every process at the same step. Several processes also seed each step's
quantisation noise, by ``(seed, step, rank)``; one process draws it from
torch's unseeded generator as it always has, and never touches
``torch.distributed``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from .distributed import (
    ProcessGroup,
    environment_world_size,
    free_port,
    joined_group,
    process_rank,
    sync_replicas,
)
from .errors import GzcodecError, ImageInputError
from .fileio import atomic_writer, make_folders, write_atomic
from .imageio import list_images, load_image, tensor_to_pixels, to_model_input
from .models.context_model import ContextModel, ContextModelConfig
from .reversal import LOSSES, rate_distortion
from .train_options import VAL_IMAGES, TrainOptions

__all__ = ["TrainOptions", "train", "evaluate", "ValRecord", "load_checkpoint", "add_rate_level",
           "export_model", "save_curve", "process_rank", "val_positions", "validation_images",
           "VAL_IMAGES", "checkpoint_options", "load_images", "draw_batch", "noise_seed",
           "make_optimizer", "training_forward", "train_step"]

#: Gains are a few hundred scalars that must travel far: they learn this much faster.
FAST_LR_SCALE = 10.0


def val_positions(levels: int) -> tuple[float, ...]:
    """Validation rate positions: every other trained level, and the top one.

    >>> val_positions(9), val_positions(10)
    ((0.0, 2.0, 4.0, 6.0, 8.0), (0.0, 2.0, 4.0, 6.0, 8.0, 9.0))
    """
    even = [float(r) for r in range(0, levels, 2)]
    return tuple(even if even[-1] == levels - 1 else [*even, float(levels - 1)])


def _lr_at(opts: TrainOptions, step: int) -> float:
    if step < opts.warmup:
        return opts.lr * (step + 1) / opts.warmup
    decay_start = opts.steps * (1 - opts.decay_fraction)
    if step < decay_start:
        return opts.lr
    t = min((step - decay_start) / max(opts.steps - decay_start, 1), 1.0)
    return opts.lr_final + 0.5 * (opts.lr - opts.lr_final) * (1 + math.cos(math.pi * t))


# -- checkpoints -------------------------------------------------------------------------


def _save_checkpoint(path: Path, model: ContextModel, optim: torch.optim.Adam, *, step: int,
                     cpu_seconds: float, opts: TrainOptions) -> None:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    index = {id(p): n for n, p in model.named_parameters()}
    adam_step = 0
    for group in optim.param_groups:
        for p in group["params"]:
            state = optim.state.get(p)
            if state:
                name = index[id(p)]
                # bfloat16 moments: a third smaller checkpoint (it is committed after
                # every stretch); Adam's step is insensitive to their last bits.
                tensors[f"adam.exp_avg.{name}"] = state["exp_avg"].to(torch.bfloat16).contiguous()
                tensors[f"adam.exp_avg_sq.{name}"] = (
                    state["exp_avg_sq"].to(torch.bfloat16).contiguous())
                adam_step = int(state["step"])
    meta = {
        "step": str(step),
        "adam_step": str(adam_step),
        "cpu_seconds": f"{cpu_seconds:.1f}",
        "config": json.dumps(model.config.to_dict()),
        "options": json.dumps(dataclasses.asdict(opts)),
    }
    write_atomic(path, save(tensors, metadata=meta), force=True)


def _read_meta(path: Path) -> dict[str, str]:
    """The metadata of a checkpoint (step, options, ...), without reading its tensors."""
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def _check_run_folder(ckpt: Path, *, resume: bool, force: bool) -> None:
    if resume and not ckpt.exists():
        raise FileNotFoundError(f"nothing to resume: {ckpt} does not exist")
    if not resume and ckpt.exists() and not force:
        raise FileExistsError(f"{ckpt} exists: resume it with --resume, or replace it with --force")


def checkpoint_options(meta: dict[str, str], *, options: TrainOptions | None = None) -> TrainOptions:
    """The options a checkpoint was trained with, as a resumed run uses them.

    Parameters
    ----------
    meta : dict
        The checkpoint's metadata (:func:`load_checkpoint`).
    options : TrainOptions, optional
        The options given on resuming: their ``steps``, ``threads``,
        ``checkpoint_minutes`` and ``compile`` replace the stored ones.
    """
    stored = json.loads(meta["options"])
    if options is not None:
        # Only the length, the threads and the checkpoint interval may change
        # mid-run; anything else would make it a different experiment.
        stored.update(steps=options.steps, threads=options.threads,
                      checkpoint_minutes=options.checkpoint_minutes, compile=options.compile)
    return TrainOptions(**stored)


def load_checkpoint(path: str | Path) -> tuple[ContextModel, dict[str, torch.Tensor], dict[str, str]]:
    """The model, all tensors and the metadata of a training checkpoint."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    model = ContextModel(ContextModelConfig.from_dict(json.loads(meta["config"])))
    model.load_state_dict({k[6:]: v.float() for k, v in tensors.items() if k.startswith("model.")})
    return model, tensors, meta


def add_rate_level(checkpoint: str | Path, out: str | Path, *, lam: float | None = None,
                   force: bool = False) -> ContextModelConfig:
    """Extend a training checkpoint's rate ladder by one level above its top.

    The new level's gains continue the log-linear trend of the top two, its
    ``lambda`` is ``lam`` (by default the top one times the ratio of the top
    two) and its Adam moments start at zero. Resuming the run trains it: rate
    positions are drawn over the whole ladder, whose lower levels keep their
    positions (and so their meaning). Everything else is copied unchanged.

    Parameters
    ----------
    checkpoint, out : path
        The checkpoint to extend and where to write the extended one.
    lam : float, optional
        ``lambda`` of the new level; must be above the top one.
    force : bool
        Replace ``out`` if it exists.

    Returns
    -------
    ContextModelConfig
        The extended model's config.
    """
    tensors = load_file(str(checkpoint))
    meta = _read_meta(Path(checkpoint))
    config = ContextModelConfig.from_dict(json.loads(meta["config"]))
    top, below = config.level_lambdas[-1], config.level_lambdas[-2]
    lam = top * top / below if lam is None else float(lam)
    if not lam > top:
        raise ValueError(f"the new level's lambda {lam} must be above the top one ({top})")
    config = dataclasses.replace(config, level_lambdas=(*config.level_lambdas, lam))
    problem = ContextModelConfig.problem(config.to_dict())
    if problem:
        raise ValueError(f"cannot add a level: {problem}")
    for name in ("log_gain_enc", "log_gain_dec"):
        gains = tensors[f"model.{name}"]
        step_up = (gains[-1].float() - gains[-2].float()) * math.log(lam / top) / math.log(top / below)
        tensors[f"model.{name}"] = torch.cat([gains, (gains[-1] + step_up).to(gains.dtype)[None]])
        for moment in ("exp_avg", "exp_avg_sq"):
            key = f"adam.{moment}.{name}"
            if key in tensors:
                tensors[key] = torch.cat([tensors[key], torch.zeros_like(tensors[key][:1])])
    meta = {**meta, "config": json.dumps(config.to_dict())}
    write_atomic(out, save(tensors, metadata=meta), force=force)
    return config


def make_optimizer(model: ContextModel, lr: float, *,
                   checkpoint_tensors: dict[str, torch.Tensor] | None = None,
                   adam_step: int = 0) -> torch.optim.Adam:
    """Training's Adam: the gains in a group of their own that learns ``FAST_LR_SCALE`` times faster.

    ``fused``: one kernel for all parameters, 1.2 instead of 4.3 ms a step for
    the v2 face model on one thread of this CPU (``benchmarks/optimizer_step.py``),
    2-3 % of a training step.

    Parameters
    ----------
    model : ContextModel
        The network it optimises.
    lr : float
        The base learning rate (each step sets its own, see :func:`train_step`).
    checkpoint_tensors : dict, optional
        A checkpoint's tensors (:func:`load_checkpoint`): Adam starts from its
        moments, as a resumed run does; parameters without moments start afresh.
    adam_step : int
        Adam's step count in that checkpoint (its ``"adam_step"`` metadata).
    """
    fast = [p for n, p in model.named_parameters() if n.startswith("log_gain")]
    slow = [p for n, p in model.named_parameters() if not n.startswith("log_gain")]
    optim = torch.optim.Adam([{"params": slow, "lr_scale": 1.0},
                              {"params": fast, "lr_scale": FAST_LR_SCALE}], lr=lr, fused=True)
    tensors = checkpoint_tensors or {}
    for name, p in model.named_parameters():
        key = f"adam.exp_avg.{name}"
        if key in tensors:
            optim.state[p] = {
                "step": torch.tensor(float(adam_step)),
                "exp_avg": tensors[key].float().clone(),
                "exp_avg_sq": tensors[f"adam.exp_avg_sq.{name}"].float().clone(),
            }
    return optim


# -- data and the step ------------------------------------------------------------------
# Public, so that benchmarks/train_processes.py and the tests build the trainer's own step.


def _decode_folder(paths: list[Path], size: int, log: Callable[[str], None]) -> torch.Tensor:
    """Decode ``paths`` into one uint8 tensor, skipping (and naming) unreadable files."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    n = 0
    for path in paths:
        try:
            arr, _ = to_model_input(load_image(path), size)
        except ImageInputError as exc:
            log(f"skipped: {exc}")
            continue
        out[n] = torch.from_numpy(np.array(arr)).permute(2, 0, 1)
        n += 1
    if n == 0:
        raise ImageInputError(f"none of the {len(paths)} images could be read")
    return out[:n]


def _initial_weights(source: str, log: Callable[[str], None]) -> ContextModel:
    """A new run's network with the weights of ``source`` (checkpoint, weights file or name)."""
    path = Path(source)
    if path.is_file():
        try:
            meta = _read_meta(path) or {}
        except (SafetensorError, OSError):  # not a checkpoint: the registry explains below
            meta = {}
        if "adam_step" in meta:
            model, _, meta = load_checkpoint(path)
            log(f"starting from {source} (step {meta['step']} of its run, "
                f"{float(meta.get('cpu_seconds', 0)) / 3600:.2f} CPU-hours)")
            return model
    from .zoo import load_model

    loaded = load_model(source)
    if not loaded.is_context:
        raise ValueError(f"{source} is a version 1 model: only v2 models can start a run")
    model = ContextModel(loaded.config)
    model.load_state_dict(loaded.network.state_dict())
    log(f"starting from model {loaded.config.name} ({loaded.id}, {loaded.path})")
    return model


def validation_images(folder: str | Path, size: int, *,
                      log: Callable[[str], None] = lambda line: None) -> torch.Tensor:
    """The first ``VAL_IMAGES`` images of ``folder``: the faces every validation record uses."""
    return load_images(folder, size, log=log)[:VAL_IMAGES]


def load_images(folder: str | Path, size: int, *, cache_dir: Path | None = None,
                log: Callable[[str], None] = lambda line: None) -> torch.Tensor:
    """All images of ``folder`` as uint8 ``(N, 3, size, size)``: what a run trains on.

    Each image is centre-cropped and resized to ``size`` as the encoder does;
    unreadable files are skipped and named to ``log``.

    Parameters
    ----------
    folder : path
        The images.
    size : int
        The model's image side.
    cache_dir : path, optional
        Keep the decoded images here as one .npy file named by the folder's
        files and sizes, so that a later run on the same folder reads that.
    log : callable
        Receives a line per skipped file, and one when the cache is written.
    """
    paths = list_images(folder)
    if not paths:
        raise ImageInputError(f"no images found in {folder}")
    if cache_dir is None:
        return _decode_folder(paths, size, log)
    key = hashlib.sha256("\n".join(f"{p}:{p.stat().st_size}" for p in paths).encode())
    cache = cache_dir / f"images-{size}-{key.hexdigest()[:16]}.npy"
    if cache.exists():
        return torch.from_numpy(np.load(cache))
    log(f"decoding {len(paths)} images (cached in {cache} for later runs)")
    data = _decode_folder(paths, size, log)
    # Replaced if another run wrote it meanwhile: the same images make the same file.
    with atomic_writer(cache, force=True) as f:  # a file object: np.save would append ".npy" to a name
        np.save(f, data.numpy())
    return data


def draw_batch(data: torch.Tensor, opts: TrainOptions, step: int, levels: int, *, rank: int = 0,
               world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Process ``rank``'s images (float, ``channels_last``) and rate positions of ``step``.

    One generator per step keeps the data order identical across resumes, and
    across numbers of processes: each takes its slice of the same batch.
    """
    rng = np.random.default_rng([opts.seed, step])
    idx = torch.from_numpy(rng.integers(0, len(data), opts.batch_size))
    part = slice(rank * opts.batch_size // world, (rank + 1) * opts.batch_size // world)
    x = data[idx[part]].float().div_(255)
    if rng.random() < 0.5:
        x = x.flip(3)
    x = x.contiguous(memory_format=torch.channels_last)
    position = torch.from_numpy(rng.uniform(0, levels - 1, opts.batch_size)).float()
    return x, position[part]


def noise_seed(seed: int, step: int, rank: int) -> int:
    """The seed of a process's quantisation noise at ``step`` (several processes only)."""
    return int(np.random.default_rng([seed, step, 1 + rank]).integers(2**62))


def training_forward(model: ContextModel, opts: TrainOptions,
                     group: ProcessGroup) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The training forward pass: the model, under DDP on several processes, compiled if asked.

    Called like the model, ``forward(x, position, autocast=...)``; on several
    processes every one of ``group`` must make it.
    """
    if group.world > 1:
        # DDP's constructor gives every process rank 0's weights; backward averages the
        # gradients. Compiling DDP (not the reverse) is the supported order.
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        return torch.compile(ddp) if opts.compile else ddp
    # The compiled module shares the model's parameters; checkpoints keep the plain names.
    return torch.compile(model) if opts.compile else model


def train_step(forward: Callable[..., tuple[torch.Tensor, torch.Tensor]], model: ContextModel,
               optim: torch.optim.Adam, x: torch.Tensor, position: torch.Tensor,
               opts: TrainOptions, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step at ``step``; the (local) loss and mean bits per pixel.

    ``forward`` is :func:`training_forward`'s, ``optim`` :func:`make_optimizer`'s,
    ``x`` and ``position`` :func:`draw_batch`'s: the learning rate of ``step``
    (warm-up, cosine decay), the rate-distortion loss of ``opts.distortion``,
    gradients clipped to norm 5.
    """
    for group in optim.param_groups:
        group["lr"] = _lr_at(opts, step) * group["lr_scale"]
    x_hat, rate = forward(x, position, autocast=opts.autocast)
    bpp = rate / (x.shape[-1] * x.shape[-2])
    loss = rate_distortion(rate, x_hat, x, lam=model.lam(position),
                           distortion=LOSSES[opts.distortion]).mean()
    optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optim.step()
    return loss.detach(), bpp.detach().mean()


# -- evaluation --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ValRecord:
    """The encoder's guess on the validation images at one rate position (:func:`evaluate`).

    One element of a ``log.jsonl`` record's ``"val"`` list (:meth:`to_json`).

    Attributes
    ----------
    position : float
        The rate position, in ``[0, levels - 1]``.
    nbytes : float
        Estimated bytes per image: the information content of the guess under
        the context model, without the header (``"bytes"`` in JSON).
    psnr, ssim : float
        Mean PSNR (dB) and SSIM over the images, as the bench measures them
        (:mod:`gzcodec.metrics`): plain means of the per-image values, so PSNR
        is ``inf`` if any image came back exact (the bench's convention too).
    """

    position: float
    nbytes: float
    psnr: float
    ssim: float

    def to_json(self) -> dict[str, float]:
        """``{"position", "bytes", "psnr", "ssim"}``, as ``log.jsonl`` stores it."""
        return {"position": self.position, "bytes": self.nbytes, "psnr": self.psnr,
                "ssim": self.ssim}


def _mean_quality(decoded: torch.Tensor, images: torch.Tensor) -> tuple[float, float]:
    """The bench's PSNR and SSIM (:mod:`gzcodec.metrics`) of uint8 batches, each averaged."""
    from .metrics import psnr, ssim

    pairs = list(zip(images.permute(0, 2, 3, 1).numpy(), decoded.permute(0, 2, 3, 1).numpy(),
                     strict=True))
    return (float(np.mean([psnr(a, b) for a, b in pairs])),
            float(np.mean([ssim(a, b) for a, b in pairs])))


@torch.no_grad()
def evaluate(model: ContextModel, images: torch.Tensor,
             positions: tuple[float, ...] | None = None) -> list[ValRecord]:
    """Estimated bytes (information content, no header), PSNR and SSIM of the encoder's guess.

    ``images`` are uint8 ``(N, 3, S, S)``; one record per rate position (by
    default :func:`val_positions` of the model's levels; positions above the
    model's top level are left out).
    """
    if positions is None:
        positions = val_positions(model.config.levels)
    was_training = model.training
    model.eval()
    x = images.float() / 255
    y_u = model.analyse(x)  # the same at every rate
    records = []
    for r in positions:
        if r > model.config.levels - 1:
            continue
        guess = model.guess(y_u, torch.full((x.shape[0],), float(r)))
        # Rounded half to even, not half up as tensor_to_pixels and the decoder do: the two
        # differ by one level at halves (and, in float32, just below them); keeping this
        # keeps the logged metrics comparable with those of earlier runs.
        decoded = torch.round(model.synthesise(guess.q, guess.dec_gain).clamp(0, 1) * 255)
        psnr, ssim = _mean_quality(decoded.to(torch.uint8), images)
        records.append(ValRecord(position=r, nbytes=float(guess.bits.mean() / 8), psnr=psnr,
                                 ssim=ssim))
    model.train(was_training)
    return records


def _save_samples(path: Path, model: ContextModel, images: torch.Tensor) -> None:
    """Originals on top, then the guess at the lowest, middle and highest trained level."""
    from PIL import Image

    was_training = model.training
    model.eval()
    x = images[:8].float() / 255
    rows = [x]
    with torch.no_grad():
        y_u = model.analyse(x)
        for r in (0.0, (model.config.levels - 1) / 2, float(model.config.levels - 1)):
            guess = model.guess(y_u, torch.full((x.shape[0],), r))
            rows.append(model.synthesise(guess.q, guess.dec_gain).clamp(0, 1))
    model.train(was_training)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    with atomic_writer(path, force=True) as f:  # a reader never sees half a picture
        Image.fromarray(tensor_to_pixels(grid)).save(f, format="PNG")


def save_curve(path: Path, log_path: Path) -> None:
    """Plot validation PSNR and bytes against CPU-hours as a PNG at ``path`` (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    records = [r for r in records if "val" in r]
    if not records:
        return
    fig, (ax_psnr, ax_rate) = plt.subplots(1, 2, figsize=(10, 4))
    # By position: a level added mid-run (add_rate_level) has a shorter curve.
    for position in sorted({row["position"] for r in records for row in r["val"]}):
        points = [(r["cpu_seconds"] / 3600, row) for r in records for row in r["val"]
                  if row["position"] == position]
        hours = [h for h, _ in points]
        label = f"r={position:g}"
        ax_psnr.plot(hours, [row["psnr"] for _, row in points], label=label)
        ax_rate.plot(hours, [row["bytes"] for _, row in points], label=label)
    ax_psnr.set(xlabel="CPU-hours", ylabel="PSNR (dB), encoder guess", title="validation distortion")
    ax_rate.set(xlabel="CPU-hours", ylabel="bytes (information content)", title="validation rate")
    ax_psnr.legend(fontsize=7)
    fig.tight_layout()
    with atomic_writer(path, force=True) as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)


# -- several processes -------------------------------------------------------------------


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if the queue home surely carries it (Python's and gzcodec's), else its words."""
    if type(exc).__module__ == "builtins" or isinstance(exc, GzcodecError):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


#: Seconds a process of ``train(..., nproc=N)`` whose parent died has to stop with a
#: checkpoint before it leaves without one.
ORPHAN_GRACE_S = 60.0


def _follow_parent(queue: Any, grace_s: float = ORPHAN_GRACE_S) -> None:
    """Stop this process, with a checkpoint, when the one that spawned it dies.

    torch signals the processes it spawned when their parent dies, and they
    stop at the next step; but a process writing its log home when that
    happened blocked for ever once the pipe was full (nobody reads it any
    more), and never got to its next step. A thread watches the parent; once
    it is gone, it signals this process too and empties the pipe, so that the
    process gets on and stops. Still running ``grace_s`` later (blocked on a
    peer that died), the process is ended without a last checkpoint.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            while not queue.empty():
                queue.get()
            time.sleep(0.05)
        os._exit(1)

    threading.Thread(target=watch, name="gzcodec-parent-watch", daemon=True).start()


def _rank_main(rank: int, world: int, port: int, queue: Any, kwargs: dict[str, Any]) -> None:
    """One process of ``train(..., nproc=world)``: rank 0 sends its log and progress home."""
    _follow_parent(queue)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        train(**kwargs, log=lambda line: queue.put(("log", line)),
              on_step=lambda step, last: queue.put(("step", step, last)))
    except BaseException as exc:
        queue.put(("error", _portable(exc)))
        raise
    # The run is over (checkpoint written, gloo group left) and everything has been
    # sent home: leave without the interpreter's finalisation, where gloo's threads
    # aborted a finished process now and then ("terminate called without an active
    # exception", seen in CI) although its training had succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _spawn(nproc: int, kwargs: dict[str, Any], log: Callable[[str], None],
           on_step: Callable[[int, int], None] | None) -> Path:
    """Run :func:`train` on ``nproc`` new processes of this machine; return the checkpoint path.

    The processes meet on a free port of 127.0.0.1. Rank 0's log lines and
    progress come back to ``log`` and ``on_step`` here; a SIGINT or SIGTERM
    sent here is passed on to them (they stop together, with a checkpoint);
    the first error raised in any of them is raised here.
    """
    import multiprocessing as mp

    import torch.multiprocessing as tmp

    queue = mp.get_context("spawn").SimpleQueue()
    error: BaseException | None = None

    def drain() -> None:
        nonlocal error
        while not queue.empty():
            kind, *rest = queue.get()
            if kind == "log":
                log(rest[0])
            elif kind == "step" and on_step is not None:
                on_step(*rest)
            elif kind == "error" and error is None:
                error = rest[0]

    pids: list[int] = []
    with _StopFlag(forward_to=pids) as stop:
        context = tmp.start_processes(_rank_main, args=(nproc, free_port(), queue, kwargs),
                                      nprocs=nproc, join=False, start_method="spawn")
        pids.extend(p.pid for p in context.processes)
        try:
            while not context.join(timeout=0.1):
                drain()
        except (tmp.ProcessRaisedException, tmp.ProcessExitedException):
            drain()
            if error is not None:
                raise error from None
            if stop.raised:  # a process killed by the signal before it could say so
                raise KeyboardInterrupt from None
            raise
        except BaseException:
            # Here, not there (a log or on_step callback raised): stop them as a
            # signal would, with a checkpoint, before going.
            for process in context.processes:
                if process.is_alive():
                    process.terminate()
            while any(process.is_alive() for process in context.processes):
                while not queue.empty():
                    queue.get()  # unread, rank 0's last lines could block it
                time.sleep(0.05)
            for process in context.processes:
                process.join()
            raise
        drain()
    if error is not None:
        # torch's process wrapper exits with 0 after a KeyboardInterrupt (a Ctrl-C
        # before the training loop): the error sent home is the only trace of it.
        raise error
    return Path(kwargs["out_dir"]) / "checkpoint.safetensors"


# -- the loop ----------------------------------------------------------------------------


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag that the loop checks between steps.

    ``forward_to``: process ids that receive the same signal (the processes of
    a run started here); the list may be filled after the flag is set up.
    """

    def __init__(self, forward_to: list[int] | None = None) -> None:
        self.raised = False
        # What signal.signal returned: the handler in place before, to put back on exit.
        self._old: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}
        self._forward = forward_to if forward_to is not None else []

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread there are no handlers, and so no flag.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.raised = True
        for pid in self._forward:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


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
    _check_run_folder(ckpt, resume=resume, force=force)
    opts = checkpoint_options(_read_meta(ckpt), options=options) if resume else options or TrainOptions()
    opts.validate()
    _check_split(opts, nproc)
    kwargs = dict(data_dir=data_dir, out_dir=out_dir, config=config, options=options,
                  val_dir=val_dir, resume=resume, force=force, cache_dir=cache_dir,
                  stop_at=stop_at, max_minutes=max_minutes)
    return _spawn(nproc, kwargs, log, on_step)


def _check_split(opts: TrainOptions, world: int) -> None:
    if opts.batch_size % world:
        raise ValueError(f"the batch size ({opts.batch_size}) must be a multiple of the number "
                         f"of processes ({world})")


def _silent(line: str) -> None:
    """The log of the processes other than rank 0."""


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
    start, cpu_before = 0, 0.0
    tensors: dict[str, torch.Tensor] = {}
    _check_run_folder(ckpt, resume=resume, force=force)
    if resume:
        model, tensors, meta = load_checkpoint(ckpt)
        opts = checkpoint_options(meta, options=options)
        start, cpu_before = int(meta["step"]), float(meta.get("cpu_seconds", 0.0))
        if start >= opts.steps:
            log(f"the run is complete at step {start}; lengthen it with --steps")
        log(f"resuming from step {start} ({cpu_before / 3600:.2f} CPU-hours so far)")
    else:
        opts = options or TrainOptions()
        if opts.init_from:
            if config is not None:
                raise ValueError("a run started from another model has that model's "
                                 "architecture: leave the config out")
            model = _initial_weights(opts.init_from, log)
        else:
            model = ContextModel(config or ContextModelConfig())
    opts.validate()
    _check_split(opts, group.world)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    if group.lead:
        make_folders(out)  # a file in the way is "not a directory", not "File exists"
    if group.world > 1:
        log(f"{group.world} processes x {torch.get_num_threads()} threads, each on "
            f"{opts.batch_size // group.world} of every {opts.batch_size} images")

    size = model.config.image_size
    cache = Path(cache_dir) if cache_dir is not None else None
    if group.world > 1 and cache is not None and not group.lead:
        dist.barrier()  # rank 0 writes the cache; the others read it
    data = load_images(data_dir, size, cache_dir=cache, log=log)
    if group.world > 1 and cache is not None and group.lead:
        dist.barrier()
    log(f"{len(data)} training images")
    val = validation_images(val_dir, size, log=log) if val_dir is not None and group.lead else None

    model = model.to(memory_format=torch.channels_last)
    optim = make_optimizer(model, opts.lr, checkpoint_tensors=tensors,
                           adam_step=int(meta["adam_step"]) if tensors else 0)
    forward = training_forward(model, opts, group)

    levels = model.config.levels
    cpu0, wall0, last_save = time.process_time(), time.time(), time.time()
    deadline = math.inf if max_minutes is None else wall0 + 60 * max_minutes
    running: list[tuple[float, float]] = []
    # Several processes: the CPU time of all of them, added up at each step.
    cpu_all, cpu_mark = 0.0, cpu0

    def cpu_seconds() -> float:
        if group.world > 1:
            return cpu_before + cpu_all
        return cpu_before + time.process_time() - cpu0

    def cpu_since_mark() -> float:
        nonlocal cpu_mark
        now = time.process_time()
        spent, cpu_mark = now - cpu_mark, now
        return spent

    def checkpoint(step: int) -> None:
        nonlocal cpu_all
        if group.world > 1:
            cpu_all += group.sum([cpu_since_mark()])[0]
            drift = sync_replicas(model, group)
            if drift:
                log(f"the processes' weights had drifted apart (up to {drift:.3g}): "
                    "rank 0's copied to all")
        if group.lead:
            _save_checkpoint(ckpt, model, optim, step=step, cpu_seconds=cpu_seconds(), opts=opts)

    def stop_votes() -> list[float]:
        """This process's wish to stop: interrupted, out of time (several processes add them up)."""
        return [float(stop.raised), float(time.time() >= deadline)]

    step = start
    end = opts.steps if stop_at is None else min(stop_at, opts.steps)
    with _StopFlag() as stop:
        # Several processes decide together (any one's signal or clock stops all of
        # them at the same step); rank 0's clock decides when to checkpoint.
        votes = group.sum(stop_votes())
        halt = sum(votes) > 0
        while step < end and not halt:
            if group.world > 1:
                torch.manual_seed(noise_seed(opts.seed, step, group.rank))
            x, position = draw_batch(data, opts, step, levels, rank=group.rank, world=group.world)
            loss, bpp = train_step(forward, model, optim, x, position, opts, step)
            step += 1
            if on_step is not None:
                on_step(step, end)

            if group.world > 1:
                due = group.lead and time.time() - last_save > opts.checkpoint_minutes * 60
                total = group.sum([float(loss), float(bpp), cpu_since_mark(), float(due),
                                   *stop_votes()])
                running.append((total[0] / group.world, total[1] / group.world))
                cpu_all += total[2]
                due, votes = total[3] > 0, total[4:]
                halt = sum(votes) > 0
            else:
                running.append((float(loss), float(bpp)))
            if step % opts.log_every == 0:
                mean_loss, mean_bpp = np.mean(running, axis=0)
                rate_s = (step - start) / (time.time() - wall0)
                log(f"step {step}/{opts.steps} loss {mean_loss:.4f} bpp {mean_bpp:.3f} "
                    f"{rate_s:.2f} steps/s lr {_lr_at(opts, step):.2e} "
                    f"cpu {cpu_seconds() / 3600:.2f} h")
                running.clear()
            if step % opts.val_every == 0 and val is not None:
                records = evaluate(model, val)
                with open(out / "log.jsonl", "a") as f:
                    f.write(json.dumps({"step": step, "cpu_seconds": round(cpu_seconds(), 1),
                                        "time": time.time(),
                                        "val": [r.to_json() for r in records]}) + "\n")
                log("val " + " ".join(f"r{r.position:g}:{r.nbytes:.0f}B/{r.psnr:.2f}dB/"
                                      f"{r.ssim:.3f}"
                                      for r in records))
                _save_samples(out / "samples.png", model, val)
                save_curve(out / "val.png", out / "log.jsonl")
            if group.world == 1:
                due = time.time() - last_save > opts.checkpoint_minutes * 60
                votes = stop_votes()
                halt = sum(votes) > 0
            if due:
                checkpoint(step)
                last_save = time.time()
        checkpoint(step)
    if stop.raised or votes[0] > 0:
        log(f"interrupted: checkpoint at step {step} saved; continue with --resume")
    return ckpt


def export_model(checkpoint: str | Path, weights: str | Path, *, name: str, description: str = "",
                 force: bool = False, training: dict | None = None) -> str:
    """Write the model of a training checkpoint as a shippable weights file; return its id.

    ``training`` (data, wall time, ...) is stored in the file's metadata next to
    the step count and CPU time read from the checkpoint. The stored config is
    renamed ``name`` too, so that the registry and the bench name the model
    alike. An existing ``weights`` file is replaced only with ``force``: files
    made with it name its id, and could no longer be decoded.
    """
    from .zoo.weights_file import save_weights

    model, _, meta = load_checkpoint(checkpoint)
    model.config = dataclasses.replace(model.config, name=name)
    info = {"steps": int(meta["step"]), "cpu_hours": round(float(meta.get("cpu_seconds", 0)) / 3600, 2),
            "options": json.loads(meta["options"])}
    info.update(training or {})
    return save_weights(model, weights, name=name, description=description, training=info,
                        force=force)
