"""A realism run's checkpoint (decoder, discriminator, both Adams) and its export as a realism file.

One safetensors file, never a pickle, written atomically: ``decoder.*``,
``disc.*``, ``adam_g.exp_avg.*`` / ``adam_g.exp_avg_sq.*`` and ``adam_d.*``
(bfloat16 moments, as the trainer's), and metadata ``kind`` = ``realism``,
``step``, Adam's steps, ``cpu_seconds``, ``options`` (JSON of
:class:`~gzcodec.train_options.RealismOptions`), ``realism_config`` and
``base_model_id``. The base model is not in it: it is frozen, and found again
by ``options.realism_from`` (or its id) on resume and export.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from ..errors import ModelMismatchError, ModelNotFoundError
from ..fileio import write_atomic
from ..models.config import RealismConfig
from ..models.discriminator import ConditionalDiscriminator
from ..models.realism import RealismGenerator
from ..train_options import RealismOptions

__all__ = ["RealismCheckpoint", "base_model", "export_realism", "load_realism_checkpoint",
           "make_adam", "new_discriminator", "save_realism_checkpoint", "stored_realism_options"]


def _adam_tensors(prefix: str, module: torch.nn.Module, optim: torch.optim.Adam
                  ) -> tuple[dict[str, torch.Tensor], int]:
    tensors, step = {}, 0
    for name, p in module.named_parameters():
        state = optim.state.get(p)
        if state:
            tensors[f"{prefix}.exp_avg.{name}"] = state["exp_avg"].to(torch.bfloat16).contiguous()
            tensors[f"{prefix}.exp_avg_sq.{name}"] = state["exp_avg_sq"].to(torch.bfloat16).contiguous()
            step = int(state["step"])
    return tensors, step


def save_realism_checkpoint(path: Path, *, decoder: RealismGenerator, disc: ConditionalDiscriminator,
                            optim_g: torch.optim.Adam, optim_d: torch.optim.Adam, step: int,
                            cpu_seconds: float, opts: RealismOptions, base_id: str) -> None:
    """Write the run's state at ``step`` to ``path`` (atomically)."""
    tensors = {f"decoder.{k}": v.detach().contiguous() for k, v in decoder.state_dict().items()}
    tensors.update({f"disc.{k}": v.detach().contiguous() for k, v in disc.state_dict().items()})
    adam_g, step_g = _adam_tensors("adam_g", decoder, optim_g)
    adam_d, step_d = _adam_tensors("adam_d", disc, optim_d)
    meta = {"kind": "realism", "step": str(step), "adam_g_step": str(step_g),
            "adam_d_step": str(step_d), "cpu_seconds": f"{cpu_seconds:.1f}",
            "options": json.dumps(dataclasses.asdict(opts)),
            "realism_config": json.dumps(decoder.config.to_dict()), "base_model_id": base_id}
    write_atomic(path, save({**tensors, **adam_g, **adam_d}, metadata=meta), force=True)


@dataclasses.dataclass
class RealismCheckpoint:
    """What a realism checkpoint holds (:func:`load_realism_checkpoint`)."""

    decoder: RealismGenerator
    disc: ConditionalDiscriminator
    tensors: dict[str, torch.Tensor]
    meta: dict[str, str]
    options: RealismOptions

    @property
    def step(self) -> int:
        return int(self.meta["step"])


def new_discriminator(config: RealismConfig, opts: RealismOptions) -> ConditionalDiscriminator:
    """A run's discriminator, from scratch (conditioned on the decoder input's channels)."""
    return ConditionalDiscriminator(config.latent_channels, channels=opts.disc_channels)


def stored_realism_options(path: str | Path) -> RealismOptions | None:
    """The options of the realism run whose checkpoint is ``path``; ``None`` if it is not one (or absent)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return RealismOptions(**json.loads(meta["options"])) if meta.get("kind") == "realism" else None
    except (SafetensorError, OSError, KeyError, ValueError, TypeError):
        return None


def load_realism_checkpoint(path: str | Path, *, options: RealismOptions | None = None
                            ) -> RealismCheckpoint:
    """The decoder, discriminator, tensors, metadata and options of a realism checkpoint.

    ``options`` given on resuming replace the stored ``steps``, ``threads``
    and ``checkpoint_minutes`` (nothing else may change mid-run).

    Raises
    ------
    ValueError
        Not a realism run's checkpoint.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: not a training checkpoint ({exc})") from None
    if meta.get("kind") != "realism":
        raise ValueError(f"{path} is a model's training checkpoint, not a realism decoder's: "
                         "resume it without --realism-from")
    stored = json.loads(meta["options"])
    if options is not None:
        stored.update(steps=options.steps, threads=options.threads,
                      checkpoint_minutes=options.checkpoint_minutes)
    opts = RealismOptions(**stored)
    config = RealismConfig.from_dict(json.loads(meta["realism_config"]))
    tensors = load_file(str(path))
    decoder, disc = RealismGenerator(config), new_discriminator(config, opts)
    decoder.load_state_dict({k[8:]: v.float() for k, v in tensors.items() if k.startswith("decoder.")})
    disc.load_state_dict({k[5:]: v.float() for k, v in tensors.items() if k.startswith("disc.")})
    return RealismCheckpoint(decoder, disc, tensors, meta, opts)


def make_adam(prefix: str, module: torch.nn.Module, lr: float, tensors: dict[str, torch.Tensor],
              adam_step: int) -> torch.optim.Adam:
    """Adam over ``module``, starting from a checkpoint's moments (``prefix``: ``adam_g`` or ``adam_d``).

    Adam's default betas, as HiFiC trains both its generator and its discriminator.
    """
    optim = torch.optim.Adam(module.parameters(), lr=lr)
    for name, p in module.named_parameters():
        key = f"{prefix}.exp_avg.{name}"
        if key in tensors:
            optim.state[p] = {"step": torch.tensor(float(adam_step)),
                              "exp_avg": tensors[key].float().clone(),
                              "exp_avg_sq": tensors[f"{prefix}.exp_avg_sq.{name}"].float().clone()}
    return optim


def base_model(spec: str, expected_id: str | None = None) -> Any:
    """The frozen base model of a run (a ``LoadedModel``): ``spec``, or the installed one of ``expected_id``.

    Raises
    ------
    ModelNotFoundError
        Neither is found.
    ValueError
        The model is not a hyperprior-context model (the only family with realism decoders).
    """
    from ..zoo import load_model

    try:
        lm = load_model(spec)
    except ModelNotFoundError:
        if expected_id is None:
            raise
        lm = load_model(expected_id)
    if expected_id is not None and lm.id != expected_id:
        try:
            lm = load_model(expected_id)
        except ModelNotFoundError:
            raise ModelMismatchError(f"{spec} is now model {lm.id}; this run's decoder was "
                                     f"trained for model {expected_id}, which is not installed") from None
    if lm.family != "hyperprior-context":  # an enhanced model's generator is another
        raise ValueError(f"{spec} is of the {lm.family} family: realism decoders are made for "
                         "hyperprior-context models (face128-v2 and later)")
    return lm


def export_realism(checkpoint: str | Path, weights: str | Path, *, name: str, description: str = "",
                   force: bool = False, training: dict | None = None) -> str:
    """Write the decoder of a realism checkpoint as a realism weights file; return its id.

    The file names its base model by id (:mod:`gzcodec.zoo.realism_file`);
    ``training`` (data, wall time, ...) goes in its metadata next to the step
    count, CPU time and options read from the checkpoint.
    """
    from ..zoo.realism_file import save_realism

    ckpt = load_realism_checkpoint(checkpoint)
    base = base_model(ckpt.options.realism_from, ckpt.meta["base_model_id"])
    info = {"steps": ckpt.step, "cpu_hours": round(float(ckpt.meta.get("cpu_seconds", 0)) / 3600, 2),
            "options": dataclasses.asdict(ckpt.options)}
    info.update(training or {})
    return save_realism(ckpt.decoder.eval(), weights, base=base, name=name, description=description,
                        training=info, force=force)
