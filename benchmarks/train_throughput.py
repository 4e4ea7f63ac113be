"""Training throughput: the old trainer's step against the new one's, side by side, in one run.

Rows (all one torch thread, synthetic data, timings interleaved round by round
so that a busy machine slows every row alike):

* ``v1 old``  - the first release's trainer step: ``face128``'s architecture,
  float32, contiguous layout, batch 16 of 64 x 64 crops;
* ``v1 new``  - the same model, batch and crops under the new trainer's
  settings: bfloat16 autocast on the transforms + ``channels_last``, fused Adam;
* ``v1 new+compile`` - the same, with the transforms ``torch.compile``d;
* ``v2``      - the v2 model on whole 128 x 128 faces, batch 8, bfloat16 +
  ``channels_last`` (the entropy model in float32);
* ``v2+compile`` - the same with the whole training forward ``torch.compile``d,
  as ``gzcodec train`` runs it by default.

The ratio that the face-model issue asks for is ``v1 new / v1 old`` (same
model, same work per step). ``v2`` does a different step (4x the pixels, a
context model), so compare it in images and pixels per second.

Usage::

    python benchmarks/train_throughput.py --rounds 5 > results/training-throughput.txt
"""

from __future__ import annotations

import argparse
import time

import torch

from gzcodec.models import FaceModel, ModelConfig, quantize_ste
from gzcodec.models.context_model import ContextModel, ContextModelConfig
from gzcodec.reversal import rate_distortion


def _v1_step(*, new: bool, compile_: bool = False):
    """``new``: bf16 autocast + ``channels_last`` + fused Adam; else the first release's step."""
    autocast = channels_last = new
    model = FaceModel(ModelConfig())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    if compile_:
        model.encoder = torch.compile(model.encoder)
        model.generator = torch.compile(model.generator)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, fused=new)
    x = torch.rand(16, 3, 64, 64).contiguous(memory_format=fmt)
    bits = 4
    step = model.config.step(bits)
    lam = model.config.level_lambdas[model.config.level(bits)]  # 0.0024, bits 4's level

    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            y = model.clip(model.encode_latent(x, bits), bits).float()
        rate = model.rate_bits(y + (torch.rand_like(y) - 0.5) * step, bits)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            x_hat = model.generate(quantize_ste(y, step), bits).float()
        loss = rate_distortion(rate, x_hat, x, lam=lam).mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return run, 16, 64


def _v2_step(compile_: bool):
    model = ContextModel(ContextModelConfig()).to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compile_ else model
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    x = torch.rand(8, 3, 128, 128).contiguous(memory_format=torch.channels_last)

    def run() -> None:
        position = torch.rand(8) * (model.config.levels - 1)
        x_hat, rate = forward(x, position, autocast=True)
        loss = rate_distortion(rate, x_hat, x, lam=model.lam(position)).mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return run, 8, 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per row per round")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = {
        "v1 old": _v1_step(new=False),
        "v1 new": _v1_step(new=True),
        "v2": _v2_step(False),
    }
    if not args.no_compile:
        rows["v1 new+compile"] = _v1_step(new=True, compile_=True)
        rows["v2+compile"] = _v2_step(True)
    for run, _, _ in rows.values():  # warm-up (and compilation) outside the timings
        for _ in range(3):
            run()
    seconds = {name: 0.0 for name in rows}
    for _ in range(args.rounds):
        for name, (run, _, _) in rows.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                run()
            seconds[name] += time.perf_counter() - t0
    n = args.rounds * args.steps
    base = n / seconds["v1 old"]
    print(f"torch {torch.__version__}, 1 thread, {args.rounds} interleaved rounds of {args.steps} steps")
    print(f"{'trainer':<16} {'batch':>5} {'size':>5} {'steps/s':>8} {'images/s':>9} "
          f"{'Mpixel/s':>9} {'steps/s vs v1 old':>18}")
    for name, (_, batch, size) in rows.items():
        rate = n / seconds[name]
        print(f"{name:<16} {batch:>5} {size:>5} {rate:>8.2f} {rate * batch:>9.1f} "
              f"{rate * batch * size * size / 1e6:>9.2f} {rate / base:>17.2f}x")


if __name__ == "__main__":
    main()
