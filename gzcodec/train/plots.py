"""The pictures of a run folder: ``samples.png`` (the guesses) and ``val.png`` (the curve)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..fileio import atomic_writer
from ..imageio import tensor_to_pixels
from ..models.context_model import ContextModel

__all__ = ["save_samples", "save_curve"]


def save_samples(path: Path, model: ContextModel, images: torch.Tensor) -> None:
    """Originals on top, then the guess at the lowest, middle and highest trained level."""
    from PIL import Image

    was_training = model.training
    model.eval()
    x = images[:8].float() / 255
    rows = [x]
    with torch.no_grad():
        y_u = model.analyse(x)
        for r in (0.0, (model.config.levels - 1) / 2, float(model.config.levels - 1)):
            guess = model.guess(y_u, torch.full((x.shape[0],), r))
            rows.append(model.reconstruct(guess).clamp(0, 1))
    model.train(was_training)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    with atomic_writer(path, force=True) as f:  # a reader never sees half a picture
        Image.fromarray(tensor_to_pixels(grid)).save(f, format="PNG")


def save_curve(path: Path, log_path: Path) -> None:
    """Plot validation PSNR and bytes against CPU-hours as a PNG at ``path`` (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    records = [r for r in records if "val" in r]
    if not records:
        return
    fig, (ax_psnr, ax_rate) = plt.subplots(1, 2, figsize=(10, 4))
    # By position: a level added mid-run (add_rate_level) has a shorter curve.
    for position in sorted({row["position"] for r in records for row in r["val"]}):
        points = [(r["cpu_seconds"] / 3600, row) for r in records for row in r["val"]
                  if row["position"] == position]
        hours = [h for h, _ in points]
        label = f"r={position:g}"
        ax_psnr.plot(hours, [row["psnr"] for _, row in points], label=label)
        ax_rate.plot(hours, [row["bytes"] for _, row in points], label=label)
    ax_psnr.set(xlabel="CPU-hours", ylabel="PSNR (dB), encoder guess", title="validation distortion")
    ax_rate.set(xlabel="CPU-hours", ylabel="bytes (information content)", title="validation rate")
    ax_psnr.legend(fontsize=7)
    fig.tight_layout()
    with atomic_writer(path, force=True) as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
