"""Adam's step on the v2 face model: foreach (torch's default) against fused, one thread.

Run from the repository root::

    nice -n 19 python benchmarks/optimizer_step.py > results/throughput/optimizer-step.txt

Random gradients on every parameter of a default ``ContextModel``; the
figure is the median of 5 passes of 30 steps each, the two kinds taking turns.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from gzcodec.models.context_model import ContextModel, ContextModelConfig


def main() -> None:
    torch.set_num_threads(1)
    model = ContextModel(ContextModelConfig())
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    kinds = {"foreach": {}, "fused": {"fused": True}}
    optims = {k: torch.optim.Adam(model.parameters(), lr=1e-4, **kw) for k, kw in kinds.items()}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(5):
        for name, optim in optims.items():
            optim.step()  # warm-up of this pass
            start = time.perf_counter()
            for _ in range(30):
                optim.step()
            times[name].append((time.perf_counter() - start) / 30 * 1e3)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, 1 thread, v2 face model ({params:,} parameters)")
    for name, t in times.items():
        print(f"Adam {name:8s} {float(np.median(t)):6.2f} ms/step")


if __name__ == "__main__":
    main()
