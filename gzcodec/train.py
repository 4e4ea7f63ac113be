"""Training a gzcodec model on a folder of images: ``gzcodec train DIR``.

The encoder, generator, gains and prior are trained together to minimise, at a
rate level drawn at random for each batch,

    loss = bpp + lambda_level * 255**2 * MSE

where the rate is the prior's information content of the latent with uniform
noise of one quantization step (a differentiable stand-in for rounding), and
the distortion is measured on the generator's output from the *rounded* latent
(straight-through), so that the generator learns from the values it will
really be given. Most steps use random crops, which are four times cheaper on a
CPU; the last ``full_fraction`` of the run uses whole images so that the
networks also learn the borders of the frame.

Checkpoints are safetensors files (weights and Adam's moments, never a
pickle) written atomically every ``checkpoint_every`` steps; ``resume=True``
continues from the newest one with the same data order and schedule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .imageio import list_images, load_training_images
from .models.generator import FaceModel, ModelConfig, quantize_ste

__all__ = ["TrainOptions", "train", "export_model"]

FAST_LR_SCALE = 10.0


@dataclasses.dataclass
class TrainOptions:
    """Options of one training run (all stored in each checkpoint)."""

    steps: int = 16_000
    batch_size: int = 16
    crop: int = 64
    full_fraction: float = 0.1
    lr: float = 3e-4
    lr_final: float = 1e-5
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 100
    threads: int = 0


def _lr_at(opts: TrainOptions, step: int) -> float:
    t = min(step / max(opts.steps, 1), 1.0)
    return opts.lr_final + 0.5 * (opts.lr - opts.lr_final) * (1 + math.cos(math.pi * t))


def _save_checkpoint(path: Path, model: FaceModel, optim: torch.optim.Adam, step: int,
                     opts: TrainOptions) -> None:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    names = dict(model.named_parameters())
    index = {id(p): n for n, p in names.items()}
    adam_step = 0
    for group in optim.param_groups:
        for p in group["params"]:
            state = optim.state.get(p)
            if not state:
                continue
            name = index[id(p)]
            tensors[f"adam.exp_avg.{name}"] = state["exp_avg"].contiguous()
            tensors[f"adam.exp_avg_sq.{name}"] = state["exp_avg_sq"].contiguous()
            adam_step = int(state["step"])
    meta = {
        "step": str(step),
        "adam_step": str(adam_step),
        "config": json.dumps(model.config.to_dict()),
        "options": json.dumps(dataclasses.asdict(opts)),
    }
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def _load_checkpoint(path: Path) -> tuple[FaceModel, dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    model = FaceModel(ModelConfig.from_dict(json.loads(meta["config"])))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    return model, tensors, meta


def _restore_adam(optim: torch.optim.Adam, model: FaceModel, tensors: dict[str, torch.Tensor],
                  adam_step: int) -> None:
    for name, p in model.named_parameters():
        key = f"adam.exp_avg.{name}"
        if key in tensors:
            optim.state[p] = {
                "step": torch.tensor(float(adam_step)),
                "exp_avg": tensors[key].clone(),
                "exp_avg_sq": tensors[f"adam.exp_avg_sq.{name}"].clone(),
            }


def _psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def evaluate(model: FaceModel, images: torch.Tensor) -> list[dict[str, float]]:
    """Rate (estimated from the prior) and PSNR of the encoder's guess, per level."""
    model.eval()
    x = images.float() / 255
    rows = []
    for bits in model.config.level_bits:
        y = model.clip(model.encode_latent(x, bits), bits)
        step = model.config.step(bits)
        yq = torch.round(y / step) * step
        xh = model.generate(yq, bits).clamp(0, 1)
        mse = ((torch.round(xh * 255) / 255 - x) ** 2).mean(dim=(1, 2, 3))
        rate = model.rate_bits(yq, bits) / 8
        rows.append({
            "bits": bits,
            "bytes": float(rate.mean()),
            "psnr": float(np.mean([_psnr(float(m)) for m in mse])),
        })
    model.train()
    return rows


def _save_grid(path: Path, model: FaceModel, images: torch.Tensor) -> None:
    from PIL import Image

    model.eval()
    x = images[:6].float() / 255
    rows = [x]
    with torch.no_grad():
        ladder = model.config.level_bits
        for bits in (ladder[0], ladder[len(ladder) // 2], ladder[-1]):
            y = model.clip(model.encode_latent(x, bits), bits)
            step = model.config.step(bits)
            rows.append(model.generate(torch.round(y / step) * step, bits).clamp(0, 1))
    model.train()
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    arr = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    Image.fromarray(arr).save(path)


def _save_val_figure(path: Path, log_path: Path) -> None:
    """Plot the validation curve of every level (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    fig, (ax_psnr, ax_rate) = plt.subplots(1, 2, figsize=(10, 4))
    for i, bits in enumerate(r["bits"] for r in records[-1]["val"]):
        steps = [rec["step"] for rec in records]
        ax_psnr.plot(steps, [rec["val"][i]["psnr"] for rec in records], label=f"bits {bits}")
        ax_rate.plot(steps, [rec["val"][i]["bytes"] for rec in records], label=f"bits {bits}")
    ax_psnr.set(xlabel="step", ylabel="PSNR (dB), encoder guess", title="validation distortion")
    ax_rate.set(xlabel="step", ylabel="bytes (prior estimate, no header)", title="validation rate")
    ax_psnr.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    config: ModelConfig | None = None,
    options: TrainOptions | None = None,
    val_dir: str | Path | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train a model on the images of ``data_dir``; return the final checkpoint path.

    Parameters
    ----------
    data_dir : path
        Folder of training images (any size; centre-cropped and resized to the
        model's ``image_size``).
    out_dir : path
        Where the checkpoint (``checkpoint.safetensors``), the validation log
        (``log.jsonl``) and figure (``val.png``) and a sample grid
        (``samples.png``: originals, then lowest, middle and highest level) go.
    config, options : optional
        Model architecture and training options. On ``resume`` both come from
        the checkpoint, except ``options.steps``, ``options.full_fraction``
        and ``options.threads``, which may lengthen or shorten the run.
    val_dir : path, optional
        Folder whose first 16 images are evaluated at every checkpoint.
    resume : bool
        Continue from ``out_dir/checkpoint.safetensors``.

    Examples
    --------
    >>> train("faces/train", "runs/face", options=TrainOptions(steps=100))  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.safetensors"
    start = 0
    tensors: dict[str, torch.Tensor] = {}
    if resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"nothing to resume: {ckpt} does not exist")
        model, tensors, meta = _load_checkpoint(ckpt)
        stored = json.loads(meta["options"])
        if options is not None:
            # Only the length, the full-image share and the thread count may
            # change mid-run; the rest would make it a different experiment.
            stored.update(steps=options.steps, threads=options.threads,
                          full_fraction=options.full_fraction)
        options = TrainOptions(**stored)
        start = int(meta["step"])
        log(f"resuming from step {start}")
    else:
        model = FaceModel(config or ModelConfig())
        options = options or TrainOptions()
    opts = options
    if opts.threads:
        torch.set_num_threads(opts.threads)

    size = model.config.image_size
    log(f"loading images from {data_dir}")
    data = load_training_images(list_images(data_dir), size=size)
    log(f"{len(data)} training images")
    val = None
    if val_dir is not None:
        val = load_training_images(list_images(val_dir)[:16], size=size)

    # The gains and the prior are a few hundred scalars each that must travel
    # far (log-scales of several units): they learn ten times faster.
    fast = [p for n, p in model.named_parameters() if n.startswith(("log_gain", "prior."))]
    slow = [p for n, p in model.named_parameters() if not n.startswith(("log_gain", "prior."))]
    optim = torch.optim.Adam([{"params": slow, "lr_scale": 1.0},
                              {"params": fast, "lr_scale": FAST_LR_SCALE}], lr=opts.lr)
    if tensors:
        _restore_adam(optim, model, tensors, int(meta["adam_step"]))

    levels = model.config.level_bits
    lambdas = model.config.level_lambdas
    t0 = time.time()
    running: dict[int, list[float]] = {}
    for step in range(start, opts.steps):
        # One generator per step keeps the data order identical across resumes.
        rng = np.random.default_rng([opts.seed, step])
        idx = torch.from_numpy(rng.integers(0, len(data), opts.batch_size))
        full = step >= opts.steps * (1 - opts.full_fraction)
        crop = size if full else opts.crop
        oy, ox = rng.integers(0, size - crop + 1, 2)
        x = data[idx, :, oy:oy + crop, ox:ox + crop].float() / 255
        if rng.random() < 0.5:
            x = x.flip(3)
        li = int(rng.integers(0, len(levels)))
        bits, lam = levels[li], lambdas[li]
        step_size = model.config.step(bits)
        for group in optim.param_groups:
            group["lr"] = _lr_at(opts, step) * group["lr_scale"]

        y = model.clip(model.encode_latent(x, bits), bits)
        noise = (torch.rand_like(y) - 0.5) * step_size
        rate = model.rate_bits(y + noise, bits)
        x_hat = model.generate(quantize_ste(y, step_size), bits)
        mse = ((x_hat - x) ** 2).mean(dim=(1, 2, 3))
        bpp = rate / (crop * crop)
        loss = (bpp + lam * 255**2 * mse).mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optim.step()

        running.setdefault(bits, []).append(float(bpp.detach().mean()))
        if (step + 1) % opts.log_every == 0:
            rate_txt = " ".join(f"{b}:{np.mean(v):.3f}" for b, v in sorted(running.items()))
            log(f"step {step + 1}/{opts.steps} loss {float(loss):.4f} bpp[{rate_txt}] "
                f"{(step + 1 - start) / (time.time() - t0):.2f} steps/s lr {_lr_at(opts, step):.2e}")
            running.clear()
        if (step + 1) % opts.checkpoint_every == 0 or step + 1 == opts.steps:
            _save_checkpoint(ckpt, model, optim, step + 1, opts)
            if val is not None:
                rows = evaluate(model, val)
                with open(out / "log.jsonl", "a") as f:
                    f.write(json.dumps({"step": step + 1, "time": time.time(), "val": rows}) + "\n")
                log("val " + " ".join(f"{r['bits']}b:{r['bytes']:.0f}B/{r['psnr']:.2f}dB" for r in rows))
                _save_grid(out / "samples.png", model, val)
                _save_val_figure(out / "val.png", out / "log.jsonl")
    return ckpt


def export_model(checkpoint: str | Path, weights: str | Path, *, name: str,
                 description: str = "", training: dict | None = None) -> str:
    """Write the model of a training checkpoint as a shippable weights file.

    Returns the new model's id. ``training`` (data, wall time, ...) is stored in
    the file's metadata next to the step count read from the checkpoint.
    """
    from .zoo.weights_file import save_weights

    model, _, meta = _load_checkpoint(Path(checkpoint))
    info = {"steps": int(meta["step"]), "options": json.loads(meta["options"])}
    info.update(training or {})
    return save_weights(model, weights, name=name, description=description, training=info)
