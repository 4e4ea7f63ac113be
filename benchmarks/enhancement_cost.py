"""What the enhancement latent and a wider generator cost: decode time and training step time.

The v3 models of the next architecture round, at their real sizes: arm C's checkpoint
(``results/training-face-v3/checkpoint.safetensors``) as it is, and grown
(``gzcodec.models.growth.enhance``) with an enhancement latent (48 channels at 16 x 16,
checkerboard, and variants) or with 96-channel 16- and 32-px generator stages. A grown
enhancement starts at zero (no bytes); here the last layers of its encoder branch, its
injection and its entropy model get small random weights instead, so that every
enhancement symbol is coded and the image changes (timing does not depend on training; the
enhancement's bytes do, so the sizes below are not what a trained model writes).

Each face is encoded at each rate (effort none), then every file is decoded on one torch
thread, the models interleaved round by round: ``gzcodec.decode`` (what a user waits
for) and ``gzcodec.codec.decode_symbols`` (container, entropy decoding, the canonical
payload check); the figure is the median over rounds of the mean CPU time per file (the
process's, one torch thread: on a busy machine wall time mostly measures the wait for a core). A training
step is the trainer's (batch 8 of 128 x 128, bf16 autocast, channels_last, fused Adam,
not compiled), the models interleaved too, median over rounds.

    python benchmarks/enhancement_cost.py --faces examples --rounds 7 \\
        --out results/v3-architecture/enhancement-cost.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _report import command_line, emit, machine

import gzcodec
from gzcodec.codec import decode_symbols
from gzcodec.models.growth import enhance
from gzcodec.train import TrainOptions, load_checkpoint, make_optimizer, train_step
from gzcodec.zoo.weights_file import save_weights

ROOT = Path(__file__).resolve().parent.parent
#: Each variant: how arm C is grown (``None``: not at all).
VARIANTS = {
    "C (arm C as it is)": None,
    "C + E48 checkerboard": dict(enhancement_channels=48),
    "C + E48 one pass": dict(enhancement_channels=48, checkerboard=False),
    "C + E32 checkerboard": dict(enhancement_channels=32),
    "C + wider generator 96,96": dict(enhancement_channels=0, generator_widths=(96, 96)),
}


def _models(checkpoint: Path, folder: Path) -> dict:
    base, _, _ = load_checkpoint(checkpoint)
    out = {}
    for i, (name, growth) in enumerate(VARIANTS.items()):
        torch.manual_seed(i)
        model = base if growth is None else enhance(base, enhancement_level=7, **growth)
        if growth and growth["enhancement_channels"]:
            with torch.no_grad():  # grown, e = 0 and costs nothing: as if trained instead
                for layer in (model.enhancement_encoder[-1], model.enhancement_injection[-1],
                              model.enhancement_prior.head[-1]):
                    layer.weight.normal_(0, 0.02)
        save_weights(model, folder / f"{i}.safetensors", name=f"variant-{i}", force=True)
        out[name] = gzcodec.load_model(folder / f"{i}.safetensors")
    return out


#: The clock: CPU time of this process (one torch thread), which a busy machine inflates far
#: less than wall time (waiting for a core is not counted).
_clock = time.process_time


def _decode_ms(model, files: list[bytes]) -> tuple[float, float]:
    """Mean CPU ms per file of ``gzcodec.decode`` and of ``decode_symbols``."""
    total = symbols = 0.0
    for data in files:
        t0 = _clock()
        gzcodec.decode(data, model=model)
        t1 = _clock()
        decode_symbols(data, model=model)
        total, symbols = total + t1 - t0, symbols + _clock() - t1
    return total / len(files) * 1e3, symbols / len(files) * 1e3


def _stepper(model: torch.nn.Module):
    """A function that makes one training step of ``model`` and returns its ms."""
    model = model.train().requires_grad_(True).to(memory_format=torch.channels_last)
    opts = TrainOptions(compile=False)
    optim = make_optimizer(model, opts.lr)
    x = torch.rand(8, 3, 128, 128).contiguous(memory_format=torch.channels_last)

    def step() -> float:
        position = torch.rand(8) * (model.config.levels - 1)
        t0 = _clock()
        train_step(model, model, optim, x, position, opts, 1000)
        return (_clock() - t0) * 1e3

    step()  # the first step allocates
    return step


def _lines(args: argparse.Namespace, rates: list[int], table: dict, sizes: dict, steps: dict,
           params: dict) -> list[str]:
    lines = [
        command_line(__file__),
        "",
        f"{len(args.images)} faces of `{args.faces}`, effort none; one torch thread; CPU time, median "
        f"over {args.rounds} rounds of the mean per file; {machine()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end, "
        f"{time.strftime('%Y-%m-%d')}. Random enhancement weights: the bytes are not a trained "
        "model's; the enhancement is coded from rate 149 (level 7 of 13).",
        "",
        "| model | parameters | training step (CPU ms, batch 8) | "
        + " | ".join(f"rate {r}: bytes, decode CPU ms (entropy decoding)" for r in rates) + " |",
        "|---|---:|---:|" + "---:|" * len(rates),
    ]
    for name in table:
        cells = [f"{sizes[name][r]:.0f} B, {table[name][r][0]:.1f} ({table[name][r][1]:.1f})"
                 for r in rates]
        lines.append(f"| {name} | {params[name] / 1e6:.2f} M | {statistics.median(steps[name]):.0f} | "
                     + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path,
                        default=ROOT / "results" / "training-face-v3" / "checkpoint.safetensors")
    parser.add_argument("--faces", type=Path, default=ROOT / "examples")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--rates", default="128,200,255")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["GZCODEC_THREADS"] = "1"  # gzcodec's own calls, one thread too
    rates = [int(r) for r in args.rates.split(",")]
    args.images = sorted(p for p in args.faces.iterdir() if p.suffix.lower() in {".png", ".jpg"})[:args.n]
    with tempfile.TemporaryDirectory() as tmp:
        models = _models(args.checkpoint, Path(tmp))
        files = {name: {r: gzcodec.encode_batch([str(p) for p in args.images], model=m, rate=r,
                                                effort="none") for r in rates}
                 for name, m in models.items()}
        sizes = {name: {r: statistics.mean(map(len, f[r])) for r in rates} for name, f in files.items()}
        runs: dict = {name: {r: [] for r in rates} for name in models}
        for _ in range(args.rounds):
            for name, m in models.items():
                for r in rates:
                    runs[name][r].append(_decode_ms(m, files[name][r]))
        table = {name: {r: tuple(statistics.median(v[i] for v in runs[name][r]) for i in (0, 1))
                        for r in rates} for name in models}
        params = {name: sum(p.numel() for p in m.network.parameters()) for name, m in models.items()}
        steppers = {name: _stepper(m.network) for name, m in models.items()}
        steps: dict = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, step in steppers.items():
                steps[name].append(step())
    emit("\n".join(_lines(args, rates, table, sizes, steps, params)) + "\n", args.out)


if __name__ == "__main__":
    main()
