"""The bench's pictures: rate-distortion curves and a side-by-side grid.

:func:`rd_figure` draws from a :class:`~gzcodec.bench.records.BenchRun` alone
(so it can be redrawn from ``results.json``); :func:`grid_figure` lays out decoded images
with Pillow. Matplotlib runs on the Agg backend: no display is needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: set before pyplot is imported
import matplotlib.pyplot as plt
from PIL import Image, ImageDraw, ImageFont

from ..fileio import atomic_writer
from .poster import POSTER_BPP
from .records import BenchRun, Mean, PosterFigures

__all__ = ["grid_figure", "rd_figure"]

_POSTER_MARKERS = {"KNN (K=4)": "P", "JPEG (10%)": "X", "JPEG (1%)": "x"}


def rd_figure(run: BenchRun, path: str | os.PathLike[str]) -> None:
    """Draw bpp-PSNR and bpp-SSIM curves, one per codec, to a PNG.

    Classic codecs are drawn through their matched-rate means (hollow markers
    where some images could not reach the target, so the mean is over fewer
    images); gzcodec through its bits ladder; the poster's four figures as
    black markers.

    Parameters
    ----------
    run : BenchRun
        What :func:`gzcodec.bench.run_bench` returns.
    path : path
        Output PNG.
    """
    labels = run.family_labels()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    families: list[str] = []
    for block in run.matched.values():
        families += [f for f in block.codecs if f not in families]
    ladder_names = list(run.ladders)
    for metric, ax in zip(("psnr", "ssim"), axes, strict=True):
        for i, family in enumerate(f for f in families if f not in ladder_names):
            colour = colours[i % len(colours)]
            pts = [b.codecs[family] for b in run.matched.values() if b.codecs[family].n_reached > 0]
            if not pts:
                continue
            ax.plot(
                [m.mean.bpp for m in pts],
                [_metric(m.mean, metric) for m in pts],
                "-",
                color=colour,
                label=labels.get(family, family),
            )
            for m in pts:
                ax.plot(
                    m.mean.bpp,
                    _metric(m.mean, metric),
                    "o",
                    color=colour,
                    markerfacecolor=colour if m.n_reached == m.n else "white",
                )
        for j, name in enumerate(ladder_names):
            colour = "black" if j == 0 else colours[(len(families) + j) % len(colours)]
            ladder = sorted((run.points[k] for k in run.ladders[name]), key=lambda p: p.param)
            xs, ys = [p.mean.bpp for p in ladder], [_metric(p.mean, metric) for p in ladder]
            ax.plot(xs, ys, "-s", color=colour, linewidth=2, label=f"{name} (bits ladder)")
            for p, x, y in zip(ladder, xs, ys, strict=True):
                ax.annotate(str(p.param), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
        for row in run.poster_table:
            # One poster figure per method, however many gzcodec models share the GAN row.
            method = "GAN reversal" if row.method.startswith("GAN reversal") else row.method
            label = f"poster: {method}"
            if label in ax.get_legend_handles_labels()[1]:
                label = None
            marker = _POSTER_MARKERS.get(method, "*")
            x, y = row.poster.bpp, _metric(row.poster, metric)
            ax.plot(x, y, marker, color="dimgray", markersize=10, linestyle="none", label=label)
        ax.axvline(POSTER_BPP, color="gray", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (real file bytes)")
        ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM"}[metric])
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    n = run.meta.n_images
    fig.suptitle(f"128x128 faces, {n} images; hollow = mean over the images that reached the target")
    with atomic_writer(path, force=True) as f:  # a reader never sees half a figure
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


def _metric(values: Mean | PosterFigures, metric: str) -> float:
    """PSNR or SSIM, the two quantities the figure plots against the rate."""
    return values.psnr if metric == "psnr" else values.ssim


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def grid_figure(
    rows: Sequence[Sequence[tuple[Image.Image | None, str]]],
    headers: Sequence[str],
    path: str | os.PathLike[str],
    *,
    zoom: int = 2,
) -> None:
    """Lay out decoded images in a labelled grid and save it as a PNG.

    Parameters
    ----------
    rows : sequence of sequences of (image or None, caption)
        One row per face, one tile per column; ``None`` draws a grey tile
        (the codec could not make a file that small).
    headers : sequence of str
        Column titles.
    path : path
        Output PNG.
    zoom : int
        Nearest-neighbour magnification, so that pixels stay visible.
    """
    tile = max(im.width for row in rows for im, _ in row if im is not None) * zoom
    head, caption, pad = 26, 22, 6
    cols = len(headers)
    canvas = Image.new(
        "RGB", (cols * (tile + pad) + pad, head + len(rows) * (tile + caption + pad) + pad), "white"
    )
    draw = ImageDraw.Draw(canvas)
    font, small = _font(15), _font(12)
    for c, title in enumerate(headers):
        draw.text((pad + c * (tile + pad), 5), title, fill="black", font=font)
    for r, row in enumerate(rows):
        top = head + r * (tile + caption + pad)
        for c, (im, text) in enumerate(row):
            left = pad + c * (tile + pad)
            if im is None:
                draw.rectangle((left, top, left + tile - 1, top + tile - 1), fill=(200, 200, 200))
            else:
                canvas.paste(
                    im.convert("RGB").resize((im.width * zoom, im.height * zoom), Image.Resampling.NEAREST),
                    (left, top),
                )
            draw.text((left, top + tile + 3), text, fill="black", font=small)
    with atomic_writer(path, force=True) as f:
        canvas.save(f, format="PNG", optimize=True)
