"""``report.md``: the bench's results as Markdown.

Rendered from a :class:`~gzcodec.bench.records.BenchRun` alone, so the report
can be rebuilt from ``results.json``
(:meth:`BenchRun.load <gzcodec.bench.records.BenchRun.load>`).
"""

from __future__ import annotations

import math
import os

from .metrics import MS_SSIM_SETTINGS, SSIM_SETTINGS
from .records import AgainstBestClassic, BDEntry, BenchRun, CacheStats, IdentityInfo, Mean, Meta
from .summary import CLASSIC_FAMILIES, against_best_classic

__all__ = ["render_markdown"]


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{digits}f}"


def _ms(seconds: float | None) -> str:
    return _f(None if seconds is None else seconds * 1e3, 1)


def _share(same: int | None, of: int) -> str:
    if same is None:
        return "–"
    return f"{100 * same / of:.0f} % ({same}/{of})" if of else "–"


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
        f"- Images: {_which_files(meta)} (sorted) of `{meta.image_dir}`, "
        f"{meta.images[0]} … {meta.images[-1]}",
        f"- Wall time: {meta.wall_time_s:.0f} s",
        *_cache_line(meta.classic_cache),
        *_gzcodec_cache_line(meta.gzcodec_cache),
        "",
    ]


def _which_files(meta: Meta) -> str:
    if not meta.skipped_images:
        return f"the first {meta.n_images} files"
    first = meta.skipped_images
    return f"files {first}-{first + meta.n_images - 1} ({meta.n_images}, counting from 0)"


def _cache_line(stats: CacheStats | None) -> list[str]:
    lines = []
    if stats is not None and stats.dir:
        lines.append(
            f"- Classic encodes: {stats.encoder_calls} run, {stats.cache_hits} replayed from the cache "
            f"`{stats.dir}` (their encode times are those measured when they were made)"
        )
    if stats is not None and stats.store:
        lines.append(
            f"- Classic results of {stats.stored_images} images replayed from the store `{stats.store}` "
            "(measured by an earlier run with the same codecs, settings and budgets)"
        )
    return lines


def _gzcodec_cache_line(stats: CacheStats | None) -> list[str]:
    if stats is None or not stats.dir:
        return []
    return [
        f"- gzcodec files: {stats.encoder_calls} encoded, {stats.cache_hits} replayed from the cache "
        f"`{stats.dir}` (their encode times are those measured when they were made: each its "
        "batch's time divided by the batch's images)"
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
    "For each byte budget, each image gets each codec's largest file within it, whole file "
    "(bisection over the setting), at whichever scale (1, 3/4, 1/2) gives the best PSNR. "
    "Means are over the images that codec could reach; *reached* says how many. gzcodec "
    "picks among its bits settings the same way (native scale only). Times are medians over "
    "the reached images at the chosen setting; the search's other encodes are not counted."
)


def _matched_section(run: BenchRun) -> list[str]:
    labels = run.family_labels()
    lines = ["## Matched rates", "", _MATCHED_INTRO, ""]
    header = ["Codec", "bpp", "PSNR (dB)", "SSIM", "MS-SSIM", "reached", "scale won (count)"]
    header += ["encode ms (median)", "decode ms (median)"]
    for block in run.matched.values():
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
                    _ms(mean.median_encode_s),
                    _ms(mean.median_decode_s),
                ]
            )
        lines += [f"### ≤ {block.budget_bytes} B ({block.target_bpp:.4f} bpp)", ""]
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
                _ms(m.median_encode_s),
                _ms(m.median_decode_s),
            ]
        )
    header = ["Setting", "bpp", "PSNR (dB)", "MSE", "SSIM", "MS-SSIM", "encode ms (median)"]
    header += ["decode ms (median)"]
    lines = [
        "## Fixed settings",
        "",
        "Every image at each gzcodec bits setting, and the poster's baselines; means over all images, "
        "times the medians per image.",
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


_BD_MODELS_INTRO = (
    "Bjøntegaard deltas of each gzcodec model's ladder against each other model's, both "
    "measured at fixed settings on every image (mean bpp, mean PSNR), each cut to its Pareto "
    "front, fitted as above (negative BD-rate = the first model needs fewer bits on these images)."
)


def _bd_rows(tables: dict[str, dict[str, BDEntry]], labels: dict[str, str]) -> list[list[str]]:
    """One row a comparison: test, anchor, the deltas, the points and the PSNR range they cover."""
    rows = []
    for name, table in tables.items():
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
    return rows


def _bd_section(run: BenchRun) -> list[str]:
    lines = []
    if run.bd:
        header = ["gzcodec", "against", "BD-rate (%)", "BD-PSNR (dB)", "points (anchor/gzcodec)"]
        header += ["shared PSNR range (dB)", "note"]
        rows = _bd_rows(run.bd, run.family_labels())
        lines += ["## BD-rate of gzcodec", "", _BD_INTRO, "", *_table(header, rows), ""]
    if run.bd_models:
        header = ["gzcodec model", "against model", "BD-rate (%)", "BD-PSNR (dB)", "points (anchor/model)"]
        header += ["shared PSNR range (dB)", "note"]
        table = _table(header, _bd_rows(run.bd_models, {}))
        lines += ["## BD-rate between the gzcodec models", "", _BD_MODELS_INTRO, "", *table, ""]
    return lines


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
        "- Encode/decode times: wall-clock per image, stated as the median over the images; the "
        "classic codecs run on one thread each, gzcodec on "
        f"{_threads(run.meta.gzcodec_threads)}, its batch encode time divided by the batch size.",
        *_identity_method(run.meta.identity),
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


def _threads(count: int | None) -> str:
    if count is None:
        return "the threads of its policy (one unless `--threads` or `GZCODEC_THREADS` says otherwise)"
    return f"{count} thread{'s' if count != 1 else ''} (torch's, this run)"


def _identity_method(info: IdentityInfo | None) -> list[str]:
    if info is None or info.status != "measured":
        return []
    return [
        "- Identity: dlib's HOG face detector and 5-point landmarks on the *original* (the whole "
        "128x128 image as the face box where it finds no face), dlib's face-recognition ResNet "
        "descriptor (128-D) of the original and of the decode, both aligned by the original's "
        f"landmarks; Euclidean distance < {info.threshold:g} (dlib's threshold) = the same person, "
        "a descriptor that cannot be computed on the decode = not. Judged for gzcodec's files and "
        "the best classic codec's at each budget "
        f"({info.seconds:.0f} s); each pick's distance is `face_distance` in `results.json`.",
    ]


_VERSUS_INTRO = (
    "At each budget (whole file, bytes), each face gets each codec's largest file within it "
    "(see Matched rates). The best classic codec is the one of {names} with the best mean PSNR on "
    "the faces it reaches, each at its best scale per face; it is compared with gzcodec on the "
    "faces both reach (*n*), gzcodec's own column is over every face its file fits. Δ: gzcodec "
    "minus the classic codec on those *n* faces. Times: medians per face."
)


def _versus_tables(run: BenchRun) -> dict[str, dict[str, AgainstBestClassic]]:
    if run.versus:
        return run.versus
    # A run made before the table was recorded: the same rule, from its matched picks.
    return {
        name: {key: against_best_classic(block, name) for key, block in run.matched.items()}
        for name in run.ladders
        if all(name in block.codecs for block in run.matched.values())
    }


def _versus_row(v: AgainstBestClassic, labels: dict[str, str]) -> list[str]:
    ours = f"{_f(v.gzcodec.psnr)} / {_f(v.gzcodec.ssim, 3)} ({v.gzcodec.n}/{v.n} fit)"
    if v.family is None:
        return [f"≤ {v.budget_bytes} B", ours, "none reaches a face", "–", "–", "–"]
    missed = v.classic_reached - v.shared
    where = f"{v.shared} face{'s' if v.shared != 1 else ''}"
    where += f" ({missed} more where gzcodec does not fit)" if missed else ""
    return [
        f"≤ {v.budget_bytes} B",
        ours,
        f"{labels.get(v.family, v.family)}: {_f(v.classic.psnr)} / {_f(v.classic.ssim, 3)} on {where}",
        f"{_f(v.gzcodec_on_shared.psnr)} / {_f(v.gzcodec_on_shared.ssim, 3)}",
        f"{v.delta_psnr_db:+.2f}" if math.isfinite(v.delta_psnr_db) else "–",
        f"{_ms(v.gzcodec.median_encode_s)} / {_ms(v.gzcodec.median_decode_s)}",
    ]


def _bd_line(run: BenchRun, name: str) -> str:
    labels = run.family_labels()
    parts = []
    against = [(run.bd.get(name, {}).get(family), labels.get(family, family)) for family in ("webp", "avif")]
    against += [(entry, f"the {other} model") for other, entry in run.bd_models.get(name, {}).items()]
    for entry, label in against:
        if entry is None:
            continue
        if math.isfinite(entry.bd_rate_pct) and entry.psnr_overlap_db:
            low, high = entry.psnr_overlap_db
            parts.append(f"**{entry.bd_rate_pct:+.1f} %** against {label} (over {low:.2f}-{high:.2f} dB)")
        else:
            parts.append(f"– against {label} ({entry.note or 'not computable'})")
    if not parts:
        return ""
    every = "[BD-rate of gzcodec](#bd-rate-of-gzcodec)"
    return f"BD-rate of {name}: {', '.join(parts)}; every family in {every}."


def _identity_section(run: BenchRun, name: str, table: dict[str, AgainstBestClassic]) -> list[str]:
    info = run.meta.identity
    if info is None or info.status != "measured":
        status = "not measured (a run made before the identity column)" if info is None else info.status
        if status == "not installed":
            status = "not installed (`pip install 'gzcodec[bench]'` adds dlib-bin, face_recognition_models)"
        elif status == "off":
            status = "off (`--no-identity`, or no gzcodec model)"
        return [f"Same person (identity): {status}.", ""]
    labels = run.family_labels()
    rows = []
    for v in table.values():
        family = labels.get(v.family, v.family) if v.family else "none reaches a face"
        rows.append(
            [
                f"≤ {v.budget_bytes} B",
                _share(v.gzcodec_same_person, v.gzcodec.n),
                f"{family}: {_share(v.classic_same_person, v.shared)}" if v.family else family,
                _share(v.gzcodec_same_person_on_shared, v.shared) if v.family else "–",
            ]
        )
    header = ["budget", f"{name}: same person (faces that fit)", "best classic: same person on its n faces"]
    header += [f"{name} on those n faces"]
    undetected = (
        f"dlib's detector found no face in {info.faces_without_detection} of the {run.meta.n_images} "
        "originals: their box is the whole image."
        if info.faces_without_detection
        else f"dlib's detector found the face in every one of the {run.meta.n_images} originals."
    )
    return [
        f"Same person (dlib's face-recognition network, distance < {info.threshold:g}; see Method); "
        + undetected,
        "",
        *_table(header, rows),
        "",
    ]


def _versus_section(run: BenchRun) -> list[str]:
    tables = _versus_tables(run)
    if not tables:
        return []
    labels = run.family_labels()
    names = ", ".join(labels.get(f, f) for f in CLASSIC_FAMILIES if f in labels)
    lines = ["## Against the best classic codec at each budget", "", _VERSUS_INTRO.format(names=names), ""]
    for name, table in tables.items():
        header = ["budget", f"{name} PSNR / SSIM (all faces)", "best classic: PSNR / SSIM on its n faces"]
        header += [f"{name} on those n faces", "Δ dB", f"{name} ms, encode / decode (median)"]
        lines += [f"### {name}", "", *_table(header, [_versus_row(v, labels) for v in table.values()]), ""]
        bd = _bd_line(run, name)
        lines += [bd, ""] if bd else []
        lines += _identity_section(run, name, table)
    return lines


def render_markdown(run: BenchRun) -> str:
    """The report: header, against the best classic codec, poster table, matched rates, BD-rates,
    fixed settings, method.

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
        _versus_section(run),
        _poster_section(run),
        _matched_section(run),
        _smallest_section(run),
        _bd_section(run),
        _points_section(run),
        _figures_section(run),
        _method_section(run),
    ]
    return "\n".join(line for section in sections for line in section)
