"""Training checkpoints: one safetensors file of weights, Adam's moments, step and CPU time.

Never a pickle. Written atomically; a checkpoint of any number of processes has the
format of a one-process run's.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from ..fileio import write_atomic
from ..models import network_class
from ..models.config import config_class
from ..models.context_model import ContextModel, ContextModelConfig
from ..train_options import TrainOptions

__all__ = ["save_checkpoint", "read_meta", "check_run_folder", "checkpoint_options", "checkpoint_config",
           "load_checkpoint", "add_rate_level", "initial_weights"]


def save_checkpoint(path: Path, model: ContextModel, optim: torch.optim.Adam, *, step: int,
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


def read_meta(path: Path) -> dict[str, str]:
    """The metadata of a checkpoint (step, options, ...), without reading its tensors."""
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def check_run_folder(ckpt: Path, *, resume: bool, force: bool) -> None:
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
        ``checkpoint_minutes``, ``compile`` and ``lambda_cap`` replace the stored ones.
    """
    stored = json.loads(meta["options"])
    if options is not None:
        # Only the length, the threads, the checkpoint interval and the loss's lambda cap
        # may change mid-run (the cap is a correction of a drifting run, logged when it
        # starts); anything else would make it a different experiment.
        stored.update(steps=options.steps, threads=options.threads,
                      checkpoint_minutes=options.checkpoint_minutes, compile=options.compile,
                      lambda_cap=options.lambda_cap)
    return TrainOptions(**stored)


def checkpoint_config(meta: dict[str, str]) -> ContextModelConfig:
    """The model config a checkpoint's metadata stores: a :class:`ContextModelConfig`, or the
    class its ``kind`` names (``"enhanced"``)."""
    stored = json.loads(meta["config"])
    cls = config_class(stored) if stored.get("kind") not in (None, "context") else ContextModelConfig
    return cls.from_dict(stored)


def load_checkpoint(path: str | Path) -> tuple[ContextModel, dict[str, torch.Tensor], dict[str, str]]:
    """The model, all tensors and the metadata of a training checkpoint."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    config = checkpoint_config(meta)
    model = network_class(config)(config)
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
    meta = read_meta(Path(checkpoint))
    config = checkpoint_config(meta)
    top, below = config.level_lambdas[-1], config.level_lambdas[-2]
    lam = top * top / below if lam is None else float(lam)
    if not lam > top:
        raise ValueError(f"the new level's lambda {lam} must be above the top one ({top})")
    config = dataclasses.replace(config, level_lambdas=(*config.level_lambdas, lam))
    problem = type(config).problem(config.to_dict())
    if problem:
        raise ValueError(f"cannot add a level: {problem}")
    # Every per-level gain: the base's, and an enhanced model's enhancement gains.
    for name in sorted(k[6:] for k in tensors if k.startswith("model.log_gain")):
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


def initial_weights(source: str, log: Callable[[str], None]) -> ContextModel:
    """A new run's network with the weights of ``source`` (checkpoint, weights file or name)."""
    path = Path(source)
    if path.is_file():
        try:
            meta = read_meta(path) or {}
        except (SafetensorError, OSError):  # not a checkpoint: the registry explains below
            meta = {}
        if "adam_step" in meta:
            model, _, meta = load_checkpoint(path)
            log(f"starting from {source} (step {meta['step']} of its run, "
                f"{float(meta.get('cpu_seconds', 0)) / 3600:.2f} CPU-hours)")
            return model
    from ..zoo import load_model

    loaded = load_model(source)
    if not loaded.is_context:
        raise ValueError(f"{source} is a version 1 model: only v2 models can start a run")
    model = network_class(loaded.config)(loaded.config)
    model.load_state_dict(loaded.network.state_dict())
    log(f"starting from model {loaded.config.name} ({loaded.id}, {loaded.path})")
    return model
