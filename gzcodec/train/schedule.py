"""The optimiser of a training run and its learning rate at each step (warm-up, cosine decay)."""

from __future__ import annotations

import math

import torch

from ..models.context_model import ContextModel
from ..train_options import TrainOptions

__all__ = ["FAST_LR_SCALE", "lr_at", "make_optimizer"]

#: Gains are a few hundred scalars that must travel far: they learn this much faster.
FAST_LR_SCALE = 10.0


def lr_at(opts: TrainOptions, step: int) -> float:
    if step < opts.warmup:
        return opts.lr * (step + 1) / opts.warmup
    decay_start = opts.steps * (1 - opts.decay_fraction)
    if step < decay_start:
        return opts.lr
    t = min((step - decay_start) / max(opts.steps - decay_start, 1), 1.0)
    return opts.lr_final + 0.5 * (opts.lr - opts.lr_final) * (1 + math.cos(math.pi * t))


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
