"""``report.md``: the bench's results as Markdown.

Rendered from a :class:`~gzcodec.bench.records.BenchRun` alone, so the report
can be rebuilt from ``results.json``
(:meth:`BenchRun.load <gzcodec.bench.records.BenchRun.load>`).
"""

from __future__ import annotations

import math
import os

from .metrics import MS_SSIM_SETTINGS, SSIM_SETTINGS
from .records import BenchRun, CacheStats, Mean

__all__ = ["render_markdown"]


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _header(run: BenchRun) -> list[str]:
    meta = run.meta
    machine = meta.machine
    models = [f"{k}: {m.name} id `{m.id}`, weights {m.weights_bytes} bytes" for k, m in meta.models.items()]
    command = meta.command
    rerun = "" if "--force" in command.split() else " (add `--force` to rerun it into this folder)"
    return [
        "# gzcodec benchmark",
        "",
        f"Produced by: `{command}`{rerun}",
        "",
        f"- Date: {meta.date}",
        f"- Machine: {machine.cpu}, {machine.cpu_count} CPUs, {machine.platform}, "
        f"Python {machine.python}; classic codecs in {meta.workers} process(es)",
        f"- gzcodec version: {meta.gzcodec_version}",
        f"- Model(s): {'; '.join(models) or 'none (classic codecs only)'}",
        f"- Images: the first {meta.n_images} files (sorted) of `{meta.image_dir}`, "
        f"{meta.images[0]} … {meta.images[-1]}",
        f"- Wall time: {meta.wall_time_s:.0f} s",
        *_cache_line(meta.classic_cache),
        "",
    ]


def _cache_line(stats: CacheStats | None) -> list[str]:
    if stats is None or not stats.dir:
        return []
    return [
        f"- Classic encodes: {stats.encoder_calls} run, {stats.cache_hits} replayed from the cache "
        f"`{stats.dir}` (their encode times are those measured when they were made)"
    ]


_POSTER_INTRO = (
    "The poster's figures (10 CelebA faces, 128x128) beside ours on the first {n} images of "
    "this run. The JPEG rows are Pillow JPEG at quality 1 and 10 (optimized), native size; KNN "
    "is our K=4 k-means palette PNG (see Method)."
)


def _poster_section(run: BenchRun) -> list[str]:
    n = len(run.meta.poster_images)
    rows = []
    for row in run.poster_table:
        ours, poster = row.ours or Mean(), row.poster  # no measurement: every cell '–'
        rows.append(
            [
                row.method,
                f"`{row.setting}`" + (f" ({row.note})" if row.note else ""),
                _f(ours.bpp, 4),
                _f(poster.bpp, 4),
                _f(ours.psnr),
                _f(poster.psnr),
                _f(ours.mse, 1),
                _f(poster.mse, 1),
                _f(ours.ssim, 4),
                _f(poster.ssim, 4),
                _f(ours.ms_ssim, 4),
            ]
        )
    header = ["Method", "Ours: setting", "BPP ours", "BPP poster", "PSNR ours", "PSNR poster"]
    header += ["MSE ours", "MSE poster", "SSIM ours", "SSIM poster", "MS-SSIM ours"]
    return ["## The poster's table", "", _POSTER_INTRO.format(n=n), "", *_table(header, rows), ""]


_MATCHED_INTRO = (
    "For each target, each image gets each codec's largest file not above the target "
    "(bisection over the setting), at whichever scale (1, 3/4, 1/2) gives the best PSNR. "
    "Means are over the images that codec could reach; *reached* says how many. gzcodec "
    "picks among its bits settings the same way (native scale only). Times are per image at "
    "the chosen setting; the search's other encodes are not counted."
)


def _matched_section(run: BenchRun) -> list[str]:
    labels = run.family_labels()
    lines = ["## Matched rates", "", _MATCHED_INTRO, ""]
    header = ["Codec", "bpp", "PSNR (dB)", "SSIM", "MS-SSIM", "reached", "scale won (count)"]
    header += ["encode ms", "decode ms"]
    for key, block in run.matched.items():
        rows = []
        for family, m in block.codecs.items():
            mean = m.mean
            wins = sorted(m.scale_wins.items(), reverse=True)
            rows.append(
                [
                    labels.get(family, family),
                    _f(mean.bpp, 4),
                    _f(mean.psnr),
                    _f(mean.ssim, 4),
                    _f(mean.ms_ssim, 4),
                    f"{m.n_reached}/{m.n}",
                    ", ".join(f"{s}: {c}" for s, c in wins) or "–",
                    _f(mean.encode_s * 1e3, 1),
                    _f(mean.decode_s * 1e3, 1),
                ]
            )
        lines += [f"### {key} bpp (at most {block.budget_bytes} bytes)", ""]
        lines += [*_table(header, rows), ""]
    return lines


def _smallest_section(run: BenchRun) -> list[str]:
    if not run.smallest:
        return []
    labels = run.family_labels()
    rows = [
        [
            labels.get(family, family),
            f"{s.median_bytes:.0f}",
            f"{s.min_bytes}-{s.max_bytes}",
            _f(s.median_bytes * 8 / (128 * 128), 3),
        ]
        for family, s in run.smallest.items()
    ]
    header = ["Codec", "median bytes", "range (bytes)", "median bpp"]
    return [
        "### The smallest file each codec can make",
        "",
        "At its lowest setting and best scale (gzcodec: lowest bits), per image. Targets below this "
        "cannot be reached.",
        "",
        *_table(header, rows),
        "",
    ]


def _points_section(run: BenchRun) -> list[str]:
    rows = []
    for key, p in run.points.items():
        m = p.mean
        rows.append(
            [
                f"`{key}`",
                _f(m.bpp, 4),
                _f(m.psnr),
                _f(m.mse, 1),
                _f(m.ssim, 4),
                _f(m.ms_ssim, 4),
                _f(m.encode_s * 1e3, 1),
                _f(m.decode_s * 1e3, 1),
            ]
        )
    header = ["Setting", "bpp", "PSNR (dB)", "MSE", "SSIM", "MS-SSIM", "encode ms", "decode ms"]
    lines = [
        "## Fixed settings",
        "",
        "Every image at each gzcodec bits setting, and the poster's baselines; means over all images.",
        "",
        *_table(header, rows),
    ]
    for name, m in run.meta.models.items():
        size = m.weights_bytes
        lines += [
            "",
            f"Model size of {name}: {size} bytes ({size / 2**20:.2f} MiB), the weights file "
            f"`{os.path.basename(m.path)}`, which the decoder needs as well.",
        ]
    return [*lines, ""]


_BD_INTRO = (
    "Bjøntegaard deltas of gzcodec's bits ladder (mean bpp, mean PSNR over all images) against "
    "each classic codec's matched-rate curve, using only the targets every image reached (a "
    "mean over a subset would flatter the codec). Each curve keeps only its Pareto-front points "
    "(a setting that costs more and gives a lower PSNR would bend the cubic fit arbitrarily). "
    "BD-rate: cubic fit of log-rate against PSNR, integrated over the PSNR range both curves "
    "cover (negative = gzcodec needs fewer bits). BD-PSNR: cubic fit of PSNR against log-rate "
    "over the shared rate range (positive = gzcodec better). '–' means fewer than four points "
    "or no overlap."
)


def _bd_section(run: BenchRun) -> list[str]:
    if not run.bd:
        return []
    labels = run.family_labels()
    rows = []
    for name, table in run.bd.items():
        for family, d in table.items():
            overlap = d.psnr_overlap_db
            rows.append(
                [
                    name,
                    labels.get(family, family),
                    _f(d.bd_rate_pct, 1),
                    _f(d.bd_psnr_db),
                    f"{d.anchor_points}/{d.test_points}",
                    f"{overlap[0]:.2f}-{overlap[1]:.2f}" if overlap else "–",
                    d.note,
                ]
            )
    header = ["gzcodec", "against", "BD-rate (%)", "BD-PSNR (dB)", "points (anchor/gzcodec)"]
    header += ["shared PSNR range (dB)", "note"]
    return ["## BD-rate of gzcodec", "", _BD_INTRO, "", *_table(header, rows), ""]


def _figures_section(run: BenchRun) -> list[str]:
    lines = ["## Figures", "", "![Rate-distortion curves](rd.png)", ""]
    grid = run.grid
    if grid.faces:
        lines += [
            f"Same byte budget: per face, each classic codec gets the size of {grid.codec}'s "
            f"file at bits={grid.param} and makes its largest file within it (best of its "
            "scales). Tiles are shown at 2x, nearest neighbour.",
            "",
        ]
        if grid.image_dir:
            shown = ", ".join(f"`{face.image}`" for face in grid.faces)
            lines += [
                f"The grid shows the images in `{grid.image_dir}/` ({shown}), not the bench's own "
                "images, whose terms may forbid redistributing them (CelebA's do). They are encoded "
                "for the grid only: every number above comes from the bench's images.",
                "",
            ]
        lines += [
            "![Side by side](grid.png)",
            "",
        ]
    return lines


def _method_section(run: BenchRun) -> list[str]:
    ssim = ", ".join(f"{k}={v}" for k, v in SSIM_SETTINGS.items())
    msssim = ", ".join(f"{k}={v}" for k, v in MS_SSIM_SETTINGS.items())
    lines = [
        "## Method",
        "",
        "- Rate: bits per pixel of the real file, header and container included: "
        "`len(file) * 8 / (128 * 128)`.",
        "- Images are loaded as gzcodec loads them (centred square, Lanczos to 128x128, RGB); "
        "every metric compares the decoded 128x128 image with that.",
        "- PSNR: `10 log10(255^2 / MSE)` per image, then averaged; MSE over all pixels and channels.",
        f"- SSIM: `skimage.metrics.structural_similarity({ssim})`, Wang et al.'s settings.",
        f"- MS-SSIM: `pytorch_msssim.ms_ssim({msssim})`, five scales with the default weights; "
        "the window is 7 pixels because the default 11 does not fit the fifth scale of a "
        "128-pixel image.",
        "- Scaled variants: the image is downscaled to 3/4 or 1/2 of its side with Lanczos "
        "before encoding and upscaled back with Lanczos after decoding.",
        "- Encode/decode times are wall-clock per image; the classic codecs run on one thread "
        "each, gzcodec on the threads of its policy (one unless `--threads` or "
        "`GZCODEC_THREADS` says otherwise), its batch time divided by the batch size.",
        "",
        "Codecs:",
        "",
    ]
    for name, info in run.codecs.items():
        if info.scale != 1.0:
            continue
        values = info.param_values
        if len(values) == 2 and values[1] - values[0] > 1:
            span = f"{values[0]}..{values[1]}"
        else:
            span = ", ".join(map(str, values))
        lines.append(f"- **{info.label}** (`{name}`, {info.param_name} {span}): {info.description}")
    return [*lines, ""]


def render_markdown(run: BenchRun) -> str:
    """The report: header, poster table, matched rates, BD-rates, fixed settings, method.

    Parameters
    ----------
    run : BenchRun
        What :func:`gzcodec.bench.run_bench` returns (or :meth:`BenchRun.load
        <gzcodec.bench.records.BenchRun.load>` reads from ``results.json``).

    Returns
    -------
    str
        Markdown whose first lines hold the command, date, machine, gzcodec
        version, model ids and wall time.
    """
    sections = [
        _header(run),
        _poster_section(run),
        _matched_section(run),
        _smallest_section(run),
        _bd_section(run),
        _points_section(run),
        _figures_section(run),
        _method_section(run),
    ]
    return "\n".join(line for section in sections for line in section)
