"""The pictures of a run folder: ``samples.png`` (the guesses) and ``val.png`` (the curve).

A realism decoder's run (:mod:`gzcodec.train.realism`) has its own curve,
:func:`save_realism_curve`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import torch

from ..fileio import atomic_writer
from ..imageio import tensor_to_pixels
from ..models.context_model import ContextModel
from ..realism_metrics import BAND_EDGES

__all__ = ["save_curve", "save_realism_curve", "save_samples"]


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


def _pyplot():  # noqa: ANN202 (matplotlib's module, or None without it)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _records(log_path: Path, key: str) -> list[dict]:
    """The validation records of a run's ``log.jsonl`` that hold ``key``."""
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    return [r for r in records if key in r]


def _save_figure(fig, path: Path) -> None:  # noqa: ANN001 (a matplotlib Figure)
    with atomic_writer(path, force=True) as f:
        fig.savefig(f, format="png", dpi=90)


def save_curve(path: Path, log_path: Path) -> None:
    """Plot validation PSNR and bytes against CPU-hours as a PNG at ``path`` (skipped without matplotlib)."""
    plt = _pyplot()
    records = _records(log_path, "val")
    if plt is None or not records:
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
    _save_figure(fig, path)
    plt.close(fig)


def save_realism_curve(path: Path, log_path: Path) -> None:
    """Plot a realism run's validation against CPU-hours as a PNG at ``path`` (skipped without matplotlib).

    Left, per validated rate, PSNR at β = 0 (the fidelity decode, dashed: it
    does not train) and at β = 1; right, the β = 1 sharpness of each band at
    the lowest rate, where the realism decoder matters most, with the band
    0.7-1.3 that issue 22 asks of it (1.0: as sharp as the originals).
    """
    plt = _pyplot()
    records = _records(log_path, "val_realism")
    if plt is None or not records:
        return
    hours = [r["cpu_seconds"] / 3600 for r in records]
    fig, (ax_psnr, ax_sharp) = plt.subplots(1, 2, figsize=(10, 4))
    rates = [row["rate"] for row in records[-1]["val_realism"]]
    for rate in rates:
        rows = [next(row for row in r["val_realism"] if row["rate"] == rate) for r in records]
        line, = ax_psnr.plot(hours, [row["psnr_1"] for row in rows], label=f"rate {rate}, β=1")
        ax_psnr.plot(hours, [row["psnr_0"] for row in rows], "--", color=line.get_color(),
                     label=f"rate {rate}, β=0")
    lowest = [next(row for row in r["val_realism"] if row["rate"] == min(rates)) for r in records]
    for band, (lo, hi) in enumerate(itertools.pairwise(BAND_EDGES)):
        ax_sharp.plot(hours, [row["sharpness_1"][band] for row in lowest],
                      label=f"{lo:.2f}-{hi:.2f} of Nyquist")
    ax_sharp.axhspan(0.7, 1.3, color="0.9", zorder=0)
    ax_psnr.set(xlabel="CPU-hours", ylabel="PSNR (dB)", title="validation PSNR")
    ax_sharp.set(xlabel="CPU-hours", ylabel="band power / originals'",
                 title=f"sharpness at β=1, rate {min(rates)}")
    ax_psnr.legend(fontsize=6, ncol=2)
    ax_sharp.legend(fontsize=7)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
