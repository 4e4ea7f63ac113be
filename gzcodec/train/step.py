"""One training step: the forward pass (under DDP on several processes) and the optimiser's step.

Public, so that ``benchmarks/train_processes.py`` and the tests build the trainer's own step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..distributed import ProcessGroup
from ..models.context_model import ContextModel
from ..reversal import LOSSES, rate_distortion
from ..train_options import TrainOptions
from .schedule import lr_at

__all__ = ["noise_seed", "training_forward", "train_step"]


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
    (warm-up, cosine decay), the rate-distortion loss of ``opts.distortion``
    (each image's weighed down to ``opts.lambda_cap`` where its ``lambda`` is
    above it), gradients clipped to norm 5.
    """
    for group in optim.param_groups:
        group["lr"] = lr_at(opts, step) * group["lr_scale"]
    x_hat, rate = forward(x, position, autocast=opts.autocast)
    bpp = rate / (x.shape[-1] * x.shape[-2])
    lam = model.lam(position)
    per_image = rate_distortion(rate, x_hat, x, lam=lam, distortion=LOSSES[opts.distortion])
    if opts.lambda_cap > 0:
        per_image = per_image * (opts.lambda_cap / lam).clamp(max=1.0)
    loss = per_image.mean()
    optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optim.step()
    return loss.detach(), bpp.detach().mean()
