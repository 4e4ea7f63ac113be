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

Realism decoders. :func:`train_realism` (``gzcodec train --realism-from MODEL``)
trains a β-conditioned copy of a model's generator against a discriminator,
the model frozen (:mod:`gzcodec.train.realism`, one step in
:mod:`gzcodec.train.realism_step`); :func:`export_realism` writes it as the
model's realism file.
"""

from __future__ import annotations

from ..distributed import process_rank
from ..train_options import VAL_IMAGES, RealismOptions, TrainOptions
from .checkpoints import add_rate_level, checkpoint_options, load_checkpoint
from .data import draw_batch, load_images, validation_images
from .export import export_model
from .loop import train
from .plots import save_curve
from .processes import ORPHAN_GRACE_S
from .realism import train_realism
from .realism_checkpoints import export_realism
from .schedule import FAST_LR_SCALE, make_optimizer
from .step import noise_seed, train_step, training_forward
from .validation import ValRecord, evaluate, val_positions

__all__ = ["TrainOptions", "train", "evaluate", "ValRecord", "load_checkpoint", "add_rate_level",
           "export_model", "save_curve", "process_rank", "val_positions", "validation_images",
           "VAL_IMAGES", "checkpoint_options", "load_images", "draw_batch", "noise_seed",
           "make_optimizer", "training_forward", "train_step", "FAST_LR_SCALE", "ORPHAN_GRACE_S",
           "RealismOptions", "train_realism", "export_realism"]
