"""Training a gzcodec v2 model on a folder of images: ``gzcodec train DIR``.

The encoder, generator, gains and context entropy model are trained together
on whole, aligned images to minimise, at a rate position ``r`` drawn uniformly
for every image,

    loss = bpp(r) + lambda(r) * 255**2 * MSE

(:meth:`gzcodec.models.ContextModel.forward` gives the rate and the image;
:func:`gzcodec.reversal.rate_distortion` is the objective, the one refinement
minimises too).

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
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from .errors import ImageInputError
from .fileio import write_atomic
from .imageio import list_images, load_image, to_model_input
from .models.context_model import ContextModel, ContextModelConfig
from .models.context_prior import HYPER_BITS
from .payload import symbol_range
from .reversal import rate_distortion

__all__ = ["TrainOptions", "train", "evaluate", "load_checkpoint", "export_model", "save_curve",
           "VAL_POSITIONS"]

#: Gains are a few hundred scalars that must travel far: they learn this much faster.
FAST_LR_SCALE = 10.0
#: Validation rate positions (levels 0, 2, 4, 6, 8 of the default 9-level model).
VAL_POSITIONS = (0.0, 2.0, 4.0, 6.0, 8.0)


@dataclasses.dataclass
class TrainOptions:
    """Options of one training run (stored in each checkpoint).

    ``steps`` is the planned length: the learning rate stays at ``lr`` (after
    ``warmup``) and decays along a cosine to ``lr_final`` over the last
    ``decay_fraction`` of it, so a long run can be lengthened on resume as
    long as it has not entered its decay.
    """

    steps: int = 400_000
    batch_size: int = 8
    lr: float = 2e-4
    lr_final: float = 1e-5
    warmup: int = 500
    decay_fraction: float = 0.15
    seed: int = 0
    checkpoint_minutes: float = 5.0
    val_every: int = 2000
    log_every: int = 200
    threads: int = 0
    autocast: bool = True
    #: ``torch.compile`` the training forward pass: x1.15 steps/s for the v2 face model
    #: here, after a compilation of about 40 s (``benchmarks/train_throughput.py``).
    compile: bool = True

    def validate(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch size must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0 and math.isfinite(self.lr_final)
                and self.lr_final >= 0):
            raise ValueError(f"learning rates must be finite and positive, not {self.lr}")
        if not 0 <= self.decay_fraction <= 1:
            raise ValueError("decay fraction must be in [0, 1]")
        if not self.checkpoint_minutes > 0:
            raise ValueError("checkpoint interval must be positive")


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


def load_checkpoint(path: str | Path) -> tuple[ContextModel, dict[str, torch.Tensor], dict[str, str]]:
    """The model, all tensors and the metadata of a training checkpoint."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    model = ContextModel(ContextModelConfig.from_dict(json.loads(meta["config"])))
    model.load_state_dict({k[6:]: v.float() for k, v in tensors.items() if k.startswith("model.")})
    return model, tensors, meta


def _restore_adam(optim: torch.optim.Adam, model: ContextModel, tensors: dict[str, torch.Tensor],
                  adam_step: int) -> None:
    for name, p in model.named_parameters():
        key = f"adam.exp_avg.{name}"
        if key in tensors:
            optim.state[p] = {
                "step": torch.tensor(float(adam_step)),
                "exp_avg": tensors[key].float().clone(),
                "exp_avg_sq": tensors[f"adam.exp_avg_sq.{name}"].float().clone(),
            }


# -- data --------------------------------------------------------------------------------


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


def _load_images(folder: str | Path, size: int, cache_dir: Path | None,
                 log: Callable[[str], None]) -> torch.Tensor:
    """All images of ``folder`` as uint8 ``(N, 3, size, size)``, cached as .npy when asked."""
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
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".part")
    with open(tmp, "wb") as f:  # a file object: np.save would append ".npy" to a name
        np.save(f, data.numpy())
    tmp.rename(cache)
    return data


# -- evaluation --------------------------------------------------------------------------


def _psnr(mse: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))


@torch.no_grad()
def evaluate(model: ContextModel, images: torch.Tensor,
             positions: tuple[float, ...] = VAL_POSITIONS) -> list[dict[str, float]]:
    """Estimated bytes (information content, no header) and PSNR of the encoder's guess.

    ``images`` are uint8 ``(N, 3, S, S)``; one row per rate position.
    """
    was_training = model.training
    model.eval()
    x = images.float() / 255
    rows = []
    for r in positions:
        if r > model.config.levels - 1:
            continue
        position = torch.full((x.shape[0],), float(r))
        enc_gain, dec_gain = model.gains(position)
        y_u = model.analyse(x)
        q = torch.round(y_u * enc_gain)
        features = None
        rate = torch.zeros(x.shape[0])
        if model.config.hyper_channels:
            z = torch.round(model.prior.analyse_hyper(y_u, position)).clamp(
                *symbol_range(HYPER_BITS))
            rate = rate + model.prior.hyper_rate_bits(z)
            features = model.prior.hyper_features(z)
        rate = rate + model.prior.rate_bits(q, q, enc_gain, position, features)
        x_hat = torch.round(model.synthesise(q, dec_gain).clamp(0, 1) * 255) / 255
        mse = ((x_hat - x) ** 2).mean(dim=(1, 2, 3))
        rows.append({"position": r, "bytes": float(rate.mean() / 8),
                     "psnr": float(_psnr(mse).mean())})
    model.train(was_training)
    return rows


def _save_samples(path: Path, model: ContextModel, images: torch.Tensor) -> None:
    """Originals on top, then the guess at the lowest, middle and highest trained level."""
    from PIL import Image

    was_training = model.training
    model.eval()
    x = images[:8].float() / 255
    rows = [x]
    with torch.no_grad():
        for r in (0.0, (model.config.levels - 1) / 2, float(model.config.levels - 1)):
            position = torch.full((x.shape[0],), r)
            enc_gain, dec_gain = model.gains(position)
            q = torch.round(model.analyse(x) * enc_gain)
            rows.append(model.synthesise(q, dec_gain).clamp(0, 1))
    model.train(was_training)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    arr = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    Image.fromarray(arr).save(path)


def save_curve(path: Path, log_path: Path) -> None:
    """Plot validation PSNR and bytes against CPU-hours (skipped without matplotlib)."""
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
    hours = [r["cpu_seconds"] / 3600 for r in records]
    for i, row in enumerate(records[-1]["val"]):
        label = f"r={row['position']:g}"
        ax_psnr.plot(hours, [r["val"][i]["psnr"] for r in records], label=label)
        ax_rate.plot(hours, [r["val"][i]["bytes"] for r in records], label=label)
    ax_psnr.set(xlabel="CPU-hours", ylabel="PSNR (dB), encoder guess", title="validation distortion")
    ax_rate.set(xlabel="CPU-hours", ylabel="bytes (information content)", title="validation rate")
    ax_psnr.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- the loop ----------------------------------------------------------------------------


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag that the loop checks between steps."""

    def __init__(self) -> None:
        self.raised = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread there are no handlers, and so no flag.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.raised = True

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
        Continue from ``out_dir/checkpoint.safetensors``.
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
    log : callable
        Receives each line of the training log.
    on_step : callable, optional
        Called with ``(step, last_step)`` after every step (progress bars).

    Examples
    --------
    >>> train("faces/train", "runs/face", options=TrainOptions(steps=100))  # doctest: +SKIP
    """
    out = Path(out_dir)
    ckpt = out / "checkpoint.safetensors"
    start, cpu_before = 0, 0.0
    tensors: dict[str, torch.Tensor] = {}
    if resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"nothing to resume: {ckpt} does not exist")
        model, tensors, meta = load_checkpoint(ckpt)
        stored = json.loads(meta["options"])
        if options is not None:
            # Only the length, the threads and the checkpoint interval may change
            # mid-run; anything else would make it a different experiment.
            stored.update(steps=options.steps, threads=options.threads,
                          checkpoint_minutes=options.checkpoint_minutes, compile=options.compile)
        opts = TrainOptions(**stored)
        start, cpu_before = int(meta["step"]), float(meta.get("cpu_seconds", 0.0))
        if start >= opts.steps:
            log(f"the run is complete at step {start}; lengthen it with --steps")
        log(f"resuming from step {start} ({cpu_before / 3600:.2f} CPU-hours so far)")
    else:
        if ckpt.exists() and not force:
            raise FileExistsError(f"{ckpt} exists: resume it with --resume, or replace it with --force")
        model = ContextModel(config or ContextModelConfig())
        opts = options or TrainOptions()
    opts.validate()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    out.mkdir(parents=True, exist_ok=True)

    size = model.config.image_size
    cache = Path(cache_dir) if cache_dir is not None else None
    data = _load_images(data_dir, size, cache, log)
    log(f"{len(data)} training images")
    val = _load_images(val_dir, size, None, log)[:16] if val_dir is not None else None

    model = model.to(memory_format=torch.channels_last)
    # The compiled module shares the model's parameters; checkpoints keep the plain names.
    forward = torch.compile(model) if opts.compile else model
    fast = [p for n, p in model.named_parameters() if n.startswith("log_gain")]
    slow = [p for n, p in model.named_parameters() if not n.startswith("log_gain")]
    optim = torch.optim.Adam([{"params": slow, "lr_scale": 1.0},
                              {"params": fast, "lr_scale": FAST_LR_SCALE}], lr=opts.lr)
    if tensors:
        _restore_adam(optim, model, tensors, int(meta["adam_step"]))

    levels = model.config.levels
    cpu0, wall0, last_save = time.process_time(), time.time(), time.time()
    deadline = math.inf if max_minutes is None else wall0 + 60 * max_minutes
    running: list[tuple[float, float]] = []

    def cpu_seconds() -> float:
        return cpu_before + time.process_time() - cpu0

    def checkpoint(step: int) -> None:
        _save_checkpoint(ckpt, model, optim, step=step, cpu_seconds=cpu_seconds(), opts=opts)

    step = start
    end = opts.steps if stop_at is None else min(stop_at, opts.steps)
    with _StopFlag() as stop:
        while step < end and not stop.raised and time.time() < deadline:
            # One generator per step keeps the data order identical across resumes.
            rng = np.random.default_rng([opts.seed, step])
            idx = torch.from_numpy(rng.integers(0, len(data), opts.batch_size))
            x = data[idx].float().div_(255)
            if rng.random() < 0.5:
                x = x.flip(3)
            x = x.contiguous(memory_format=torch.channels_last)
            position = torch.from_numpy(rng.uniform(0, levels - 1, opts.batch_size)).float()
            for group in optim.param_groups:
                group["lr"] = _lr_at(opts, step) * group["lr_scale"]

            x_hat, rate = forward(x, position, autocast=opts.autocast)
            bpp = rate / (size * size)
            loss = rate_distortion(rate, x_hat, x, lam=model.config.lam(position)).mean()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optim.step()
            step += 1
            if on_step is not None:
                on_step(step, end)

            running.append((float(loss.detach()), float(bpp.detach().mean())))
            if step % opts.log_every == 0:
                mean_loss, mean_bpp = np.mean(running, axis=0)
                rate_s = (step - start) / (time.time() - wall0)
                log(f"step {step}/{opts.steps} loss {mean_loss:.4f} bpp {mean_bpp:.3f} "
                    f"{rate_s:.2f} steps/s lr {_lr_at(opts, step):.2e} "
                    f"cpu {cpu_seconds() / 3600:.2f} h")
                running.clear()
            if step % opts.val_every == 0 and val is not None:
                rows = evaluate(model, val)
                with open(out / "log.jsonl", "a") as f:
                    f.write(json.dumps({"step": step, "cpu_seconds": round(cpu_seconds(), 1),
                                        "time": time.time(), "val": rows}) + "\n")
                log("val " + " ".join(f"r{r['position']:g}:{r['bytes']:.0f}B/{r['psnr']:.2f}dB"
                                      for r in rows))
                _save_samples(out / "samples.png", model, val)
                save_curve(out / "val.png", out / "log.jsonl")
            if time.time() - last_save > opts.checkpoint_minutes * 60:
                checkpoint(step)
                last_save = time.time()
        checkpoint(step)
    if stop.raised:
        log(f"interrupted: checkpoint at step {step} saved; continue with --resume")
    return ckpt


def export_model(checkpoint: str | Path, weights: str | Path, *, name: str, description: str = "",
                 force: bool = False, training: dict | None = None) -> str:
    """Write the model of a training checkpoint as a shippable weights file; return its id.

    ``training`` (data, wall time, ...) is stored in the file's metadata next to
    the step count and CPU time read from the checkpoint. An existing
    ``weights`` file is replaced only with ``force``: files made with it name
    its id, and could no longer be decoded.
    """
    from .zoo.weights_file import save_weights

    model, _, meta = load_checkpoint(checkpoint)
    info = {"steps": int(meta["step"]), "cpu_hours": round(float(meta.get("cpu_seconds", 0)) / 3600, 2),
            "options": json.loads(meta["options"])}
    info.update(training or {})
    return save_weights(model, weights, name=name, description=description, training=info,
                        force=force)
