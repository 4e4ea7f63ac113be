"""Training steps/s on 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread.

The step is ``gzcodec train``'s, built from its own pieces (``gzcodec/train.py``:
the batch drawn per step and split over the processes, ``DistributedDataParallel``
over gloo on several processes, bfloat16 autocast + ``channels_last``,
``torch.compile`` unless ``--no-compile``, the per-step collective of the
loss, the CPU time and the stop votes): the v2 face model
(``ContextModelConfig()``, 128 x 128), a global batch of 8.

Data: synthetic, uniformly random 8-bit images (a tensor, not a folder), so
that only the arithmetic is timed; the step's cost does not depend on the
pixels.

Each configuration is a group of processes started once, warmed up (and
compiled) once, then timed in stretches of ``--steps`` steps, one group at a
time, round after round (the order rotating), so that whatever else the
machine does slows every row alike and the ratios stay fair. Run it on an
otherwise idle machine: the question is whether 2 processes x 1 thread beat
1 process x 2 threads on 2 cores.

Usage::

    python benchmarks/train_processes.py --rounds 5 --steps 20 \\
        --out results/throughput/train-processes.txt

``--tiny`` swaps in a 32 x 32 toy model: a check that the script runs, not a
measurement.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from gzcodec.distributed import free_port, joined_group
from gzcodec.models.context_model import ContextModel, ContextModelConfig
from gzcodec.train import (
    TrainOptions,
    draw_batch,
    make_optimizer,
    noise_seed,
    train_step,
    training_forward,
)

#: (name, processes, threads per process)
ROWS = [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2),
        ("2 processes x 1 thread", 2, 1)]
TINY = ContextModelConfig(image_size=32, channels=8, latent_channels=8, slices=(4, 4),
                          context_hidden=8, position_channels=2, hyper_channels=0)


def _worker(rank: int, world: int, threads: int, port: int, commands: list[Any], results: Any,
            settings: dict[str, Any]) -> None:
    """One process of a group: warm up, then run ``("run", n)`` commands until ``None``."""
    if world > 1:
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    config = TINY if settings["tiny"] else ContextModelConfig()
    opts = TrainOptions(batch_size=settings["batch"], compile=settings["compile"], warmup=0)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    size = config.image_size
    data = torch.randint(0, 256, (256, 3, size, size), dtype=torch.uint8, generator=generator)
    with joined_group() as group:
        model = ContextModel(config).to(memory_format=torch.channels_last)
        optim = make_optimizer(model, opts.lr)
        forward = training_forward(model, opts, group)
        step = 0

        def run(n: int) -> None:
            nonlocal step
            for _ in range(n):
                if group.world > 1:
                    torch.manual_seed(noise_seed(opts.seed, step, group.rank))
                x, position = draw_batch(data, opts, step, config.levels, rank=group.rank,
                                          world=group.world)
                loss, bpp = train_step(forward, model, optim, x, position, opts, step)
                # The trainer's per-step collective: loss, bpp, CPU time, checkpoint, stop votes.
                group.sum([float(loss), float(bpp), time.process_time(), 0.0, 0.0, 0.0])
                step += 1

        run(settings["warmup"])
        results.put(("ready", rank))
        while (command := commands[rank].get()) is not None:
            group.sum([0.0])  # start together
            t0 = time.perf_counter()
            run(command)
            group.sum([0.0])
            results.put(("done", rank, time.perf_counter() - t0))


class _Group:
    """A started group of worker processes, driven through queues."""

    def __init__(self, world: int, threads: int, settings: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.commands = [ctx.SimpleQueue() for _ in range(world)]
        self.results = ctx.SimpleQueue()
        self.world = world
        self.context = torch.multiprocessing.start_processes(
            _worker, args=(world, threads, free_port(), self.commands, self.results, settings),
            nprocs=world, join=False, start_method="spawn")

    def wait(self, kind: str) -> list[tuple]:
        """One ``kind`` message from every process (raises if one of them failed)."""
        got: list[tuple] = []
        while len(got) < self.world:
            if self.results.empty():
                self.context.join(timeout=0.05)  # raises if a process died
                continue
            message = self.results.get()
            assert message[0] == kind, message
            got.append(message)
        return got

    def time(self, steps: int) -> float:
        for q in self.commands:
            q.put(steps)
        return max(m[2] for m in self.wait("done"))

    def close(self) -> None:
        for q in self.commands:
            q.put(None)
        self.context.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per row per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    parser.add_argument("--batch", type=int, default=8, help="global batch (split over processes)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a toy model: checks that it runs")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    settings = {"tiny": args.tiny, "compile": not args.no_compile, "batch": args.batch,
                "warmup": args.warmup}
    load_before = os.getloadavg()
    groups = {}
    t0 = time.perf_counter()
    for name, world, threads in ROWS:  # one group at a time: their compilations do not overlap
        groups[name] = _Group(world, threads, settings)
        groups[name].wait("ready")
    setup = time.perf_counter() - t0
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in ROWS}
    for r in range(args.rounds):
        order = ROWS[r % len(ROWS):] + ROWS[:r % len(ROWS)]
        for name, _, _ in order:
            seconds[name].append(groups[name].time(args.steps))
    for group in groups.values():
        group.close()

    config = "32x32 toy model (--tiny)" if args.tiny else "ContextModelConfig() (face-v2), 128x128"
    cores = os.cpu_count()
    lines = [
        f"# python benchmarks/train_processes.py --rounds {args.rounds} --steps {args.steps} "
        f"--warmup {args.warmup} --batch {args.batch}" + (" --no-compile" if args.no_compile else "")
        + (" --tiny" if args.tiny else ""),
        f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {cores} cores; load average "
        f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after",
        f"# {config}, global batch {args.batch}, bf16 autocast + channels_last, "
        f"{'compiled' if settings['compile'] else 'not compiled'}; synthetic random images; "
        f"set-up and warm-up {setup:.0f} s",
        f"# {args.rounds} interleaved rounds of {args.steps} steps per row",
        f"{'configuration':<24} {'steps/s':>8} {'images/s':>9} {'min':>6} {'max':>6} "
        f"{'vs 1x1':>7} {'vs 1x2':>7}",
    ]
    rate = {name: args.rounds * args.steps / sum(s) for name, s in seconds.items()}
    for name, _, _ in ROWS:
        per_round = [args.steps / s for s in seconds[name]]
        lines.append(f"{name:<24} {rate[name]:>8.2f} {rate[name] * args.batch:>9.1f} "
                     f"{min(per_round):>6.2f} {max(per_round):>6.2f} "
                     f"{rate[name] / rate[ROWS[0][0]]:>6.2f}x {rate[name] / rate[ROWS[1][0]]:>6.2f}x")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
