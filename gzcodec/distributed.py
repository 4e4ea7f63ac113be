"""The processes of one training run: who this process is among them, and what they share.

A run of several processes (``gzcodec train --nproc N``, or ``torchrun``)
meets in a gloo group (CPU) set up from the environment that torchrun and
:func:`gzcodec.train.train` set: ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``. :func:`joined_group` joins it for the duration of a run, and
the :class:`ProcessGroup` it yields is what the trainer asks of it: this
process's rank, whether it leads (logs, validates, writes the checkpoint),
sums over all processes, and the weights brought back together
(:func:`sync_replicas`). A process alone (``WORLD_SIZE`` unset or 1) gets
``ProcessGroup()`` and never touches ``torch.distributed``.

The training step itself (the batch each process takes, its noise, DDP) is
:mod:`gzcodec.train`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["ProcessGroup", "joined_group", "process_rank", "environment_world_size",
           "sync_replicas", "free_port"]


@dataclasses.dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the processes of a run (``world == 1``: alone)."""

    rank: int = 0
    world: int = 1

    @property
    def lead(self) -> bool:
        """Rank 0: the process that logs, validates and writes the checkpoint."""
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """``values`` summed over the processes (one collective; all must call it)."""
        if self.world == 1:
            return values
        total = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(total)
        return total.tolist()


def environment_world_size() -> int:
    """The number of processes of the run, as the environment says (``WORLD_SIZE``, else 1)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_rank() -> int:
    """This process's rank in a training run of several processes (``RANK``), else 0.

    ``torchrun`` and ``train(..., nproc=N)`` set ``RANK`` and ``WORLD_SIZE``; the
    command line shows its progress bar and exports the model on rank 0 only.
    """
    return int(os.environ.get("RANK", "0")) if environment_world_size() > 1 else 0


@contextlib.contextmanager
def joined_group() -> Iterator[ProcessGroup]:
    """The process group of the run: one already set up, else one from the environment.

    ``WORLD_SIZE`` > 1 (torchrun, or the processes of ``train(..., nproc=N)``)
    joins a gloo group through ``MASTER_ADDR``/``MASTER_PORT`` for the call,
    and leaves it afterwards; otherwise the process is alone and
    ``torch.distributed`` is not touched.
    """
    if dist.is_available() and dist.is_initialized():
        yield ProcessGroup(dist.get_rank(), dist.get_world_size())
    elif environment_world_size() == 1:
        yield ProcessGroup()
    else:
        dist.init_process_group("gloo")
        try:
            yield ProcessGroup(dist.get_rank(), dist.get_world_size())
            # Leave together: a rank that tore gloo down while rank 0 still wrote the
            # checkpoint aborted ("terminate called without an active exception") in
            # about 1 run of 5. Not on errors, where a peer may never arrive.
            dist.barrier()
        finally:
            dist.destroy_process_group()


def sync_replicas(model: nn.Module, group: ProcessGroup) -> float:
    """Give every process rank 0's weights; return the largest difference there was.

    Averaged gradients keep the copies identical on one machine (the check
    finds 0.0); machines with different arithmetic could drift apart by
    rounding, and a checkpoint is where they are brought back together.
    Every process of ``group`` must call it.
    """
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    lead = flat.clone()
    dist.broadcast(lead, src=0)
    drift = torch.tensor([float((lead - flat).abs().max())], dtype=torch.float64)
    dist.all_reduce(drift, op=dist.ReduceOp.MAX)
    if drift.item() > 0:
        with torch.no_grad():
            offset = 0
            for p in params:
                p.copy_(lead[offset:offset + p.numel()].view(p.shape))
                offset += p.numel()
    return drift.item()


def free_port() -> int:
    """A TCP port of 127.0.0.1 free now: where the processes of a run on this machine meet."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
