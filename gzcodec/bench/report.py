"""The bench's written outputs: ``results.json`` and ``report.md``.

Both are rendered from the one results dictionary :func:`run_bench
<gzcodec.bench.runner.run_bench>` returns, so the report can be rebuilt from
the JSON alone. Non-finite numbers (PSNR of a lossless file, a BD-rate that
cannot be computed) are written to JSON as ``null``, which strict JSON
readers accept.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from .metrics import MS_SSIM_SETTINGS, SSIM_SETTINGS

__all__ = [
    "POSTER_BPP",
    "family_labels",
    "POSTER_ROWS",
    "pick_poster_point",
    "poster_table",
    "render_markdown",
    "to_jsonable",
    "write_json",
]

POSTER_BPP = 0.2152
"""The poster's GAN-reversal rate, the rate gzcodec is held to in its row."""

POSTER_ROWS: tuple[tuple[str, str | None, dict[str, float]], ...] = (
    ("KNN (K=4)", "knn colours=4", {"bpp": 1.486, "psnr": 23.012, "mse": 342.46, "ssim": 0.7145}),
    (
        "JPEG (10%)",
        "jpeg quality=10",
        {"bpp": 0.4848, "psnr": 26.161, "mse": 161.87, "ssim": 0.7711},
    ),
    ("JPEG (1%)", "jpeg quality=1", {"bpp": 0.2176, "psnr": 20.465, "mse": 589.15, "ssim": 0.5280}),
    ("GAN reversal", None, {"bpp": POSTER_BPP, "psnr": 21.192, "mse": 540.06, "ssim": 0.7073}),
)
"""The poster's table (CS229 poster, 10 CelebA faces at 128x128): method, our
matching measurement (``None``: gzcodec, chosen by :func:`pick_poster_point`),
the poster's figures."""


def pick_poster_point(ladder: Mapping[str, Mapping[str, Any]]) -> tuple[str, bool]:
    """The ladder point standing in for the poster's GAN reversal.

    Parameters
    ----------
    ladder : mapping
        gzcodec's points by key, each with ``param`` and
        ``mean_poster_images`` (means over the poster's first 10 images).

    Returns
    -------
    key : str
        The largest ``bits`` whose mean bpp over those images is at most
        :data:`POSTER_BPP`; the smallest ``bits`` when none is.
    fits : bool
        Whether that point is within the poster's rate.
    """
    keys = sorted(ladder, key=lambda k: ladder[k]["param"])
    fits = [k for k in keys if ladder[k]["mean_poster_images"]["bpp"] <= POSTER_BPP]
    return (fits[-1], True) if fits else (keys[0], False)


def poster_table(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The poster's four rows with our measurements on its first 10 images beside them.

    Returns
    -------
    list of dict
        One row per poster method (one GAN-reversal row per gzcodec model):
        ``method``, ``point`` (our measurement's key or ``None``),
        ``setting``, ``note`` (how gzcodec's setting was chosen), ``poster``
        and ``ours`` (means).
    """
    points = results["points"]
    rows = []
    for method, key, poster in POSTER_ROWS:
        if key is not None:
            point = points.get(key)
            rows.append(
                {
                    "method": method,
                    "point": key if point else None,
                    "setting": key,
                    "note": "",
                    "poster": poster,
                    "ours": point["mean_poster_images"] if point else None,
                }
            )
            continue
        for name, keys in results["ladders"].items():
            chosen, fits = pick_poster_point({k: points[k] for k in keys})
            note = (
                f"largest bits with mean bpp <= {POSTER_BPP}"
                if fits
                else f"no bits setting reaches {POSTER_BPP} bpp; smallest shown"
            )
            rows.append(
                {
                    "method": f"{method} ({name})",
                    "point": chosen,
                    "setting": chosen,
                    "note": note,
                    "poster": poster,
                    "ours": points[chosen]["mean_poster_images"],
                }
            )
    return rows


def to_jsonable(value: Any) -> Any:
    """``value`` with floats to 6 significant digits, non-finite ones as ``None``, tuples as lists."""
    if isinstance(value, float):
        # Six significant digits: far beyond what the measurements resolve, and it
        # keeps the committed JSON of a 200-image run a few MB smaller.
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def _dumps(value: Any, depth: int) -> str:
    # One measurement per line: readable, diffable, and a fraction of the size of
    # a fully indented file (a 200-image run holds ~15,000 measurements).
    is_record = isinstance(value, Mapping) and "image" in value
    if is_record or not isinstance(value, (Mapping, list)) or not value:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, Mapping):
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if all(not isinstance(v, (Mapping, list)) for v in value):
        return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return "[\n" + ",\n".join(inner + _dumps(v, depth + 1) for v in value) + "\n" + pad + "]"


def write_json(results: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``results`` as strict JSON, one measurement per line.

    Floats are kept to 6 significant digits and non-finite ones written as
    ``null`` (see :func:`to_jsonable`).
    """
    with open(path, "w", encoding="utf-8") as f:
        f.write(_dumps(to_jsonable(results), 0))
        f.write("\n")


def _f(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def family_labels(results: Mapping[str, Any]) -> dict[str, str]:
    """Display label of each codec family (its native-scale variant's label)."""
    labels: dict[str, str] = {}
    for info in results["codecs"].values():
        if info["scale"] == 1.0 or info["family"] not in labels:
            labels[info["family"]] = info["label"]
    return labels


def _header(results: Mapping[str, Any]) -> list[str]:
    meta = results["meta"]
    machine = meta["machine"]
    models = [
        f"{name}: {m.get('name', '?')} id `{m.get('id', '?')}`, weights {m.get('weights_bytes', '?')} bytes"
        for name, m in (meta["models"] or {}).items()
    ]
    command = meta["command"]
    rerun = "" if "--force" in command.split() else " (add `--force` to rerun it into this folder)"
    return [
        "# gzcodec benchmark",
        "",
        f"Produced by: `{command}`{rerun}",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {machine['cpu']}, {machine['cpu_count']} CPUs, {machine['platform']}, "
        f"Python {machine['python']}; classic codecs in {meta.get('workers', 1)} process(es)",
        f"- gzcodec version: {meta['gzcodec_version']}",
        f"- Model(s): {'; '.join(models) or 'none (classic codecs only)'}",
        f"- Images: the first {meta['n_images']} files (sorted) of `{meta['image_dir']}`, "
        f"{meta['images'][0]} … {meta['images'][-1]}",
        f"- Wall time: {meta['wall_time_s']:.0f} s",
        *_cache_line(meta.get("classic_cache")),
        "",
    ]


def _cache_line(stats: Mapping[str, Any] | None) -> list[str]:
    if not stats or not stats.get("dir"):
        return []
    return [
        f"- Classic encodes: {stats['encoder_calls']} run, {stats['cache_hits']} replayed from the cache "
        f"`{stats['dir']}` (their encode times are those measured when they were made)"
    ]


_POSTER_INTRO = (
    "The poster's figures (10 CelebA faces, 128x128) beside ours on the first {n} images of "
    "this run. The JPEG rows are Pillow JPEG at quality 1 and 10 (optimized), native size; KNN "
    "is our K=4 k-means palette PNG (see Method)."
)


def _poster_section(results: Mapping[str, Any]) -> list[str]:
    n = len(results["meta"]["poster_images"])
    rows = []
    for row in results["poster_table"]:
        ours, poster = row["ours"] or {}, row["poster"]
        rows.append(
            [
                row["method"],
                f"`{row['setting']}`" + (f" ({row['note']})" if row["note"] else ""),
                _f(ours.get("bpp"), 4),
                _f(poster["bpp"], 4),
                _f(ours.get("psnr")),
                _f(poster["psnr"]),
                _f(ours.get("mse"), 1),
                _f(poster["mse"], 1),
                _f(ours.get("ssim"), 4),
                _f(poster["ssim"], 4),
                _f(ours.get("ms_ssim"), 4),
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


def _matched_section(results: Mapping[str, Any]) -> list[str]:
    labels = family_labels(results)
    lines = ["## Matched rates", "", _MATCHED_INTRO, ""]
    header = ["Codec", "bpp", "PSNR (dB)", "SSIM", "MS-SSIM", "reached", "scale won (count)"]
    header += ["encode ms", "decode ms"]
    for key, block in results["matched"].items():
        rows = []
        for family, m in block["codecs"].items():
            mean = m["mean"]
            wins = sorted(m["scale_wins"].items(), reverse=True)
            rows.append(
                [
                    labels.get(family, family),
                    _f(mean["bpp"], 4),
                    _f(mean["psnr"]),
                    _f(mean["ssim"], 4),
                    _f(mean["ms_ssim"], 4),
                    f"{m['n_reached']}/{m['n']}",
                    ", ".join(f"{s}: {c}" for s, c in wins) or "–",
                    _f(mean["encode_s"] * 1e3, 1),
                    _f(mean["decode_s"] * 1e3, 1),
                ]
            )
        lines += [f"### {key} bpp (at most {block['budget_bytes']} bytes)", ""]
        lines += [*_table(header, rows), ""]
    return lines


def _smallest_section(results: Mapping[str, Any]) -> list[str]:
    smallest = results.get("smallest") or {}
    if not smallest:
        return []
    labels = family_labels(results)
    rows = [
        [
            labels.get(family, family),
            f"{s['median_bytes']:.0f}",
            f"{s['min_bytes']}-{s['max_bytes']}",
            _f(s["median_bytes"] * 8 / (128 * 128), 3),
        ]
        for family, s in smallest.items()
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


def _points_section(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for key, p in results["points"].items():
        m = p["mean"]
        rows.append(
            [
                f"`{key}`",
                _f(m["bpp"], 4),
                _f(m["psnr"]),
                _f(m["mse"], 1),
                _f(m["ssim"], 4),
                _f(m["ms_ssim"], 4),
                _f(m["encode_s"] * 1e3, 1),
                _f(m["decode_s"] * 1e3, 1),
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
    for name, m in (results["meta"]["models"] or {}).items():
        if "weights_bytes" in m:
            size = m["weights_bytes"]
            weights = os.path.basename(str(m.get("path", "")))
            lines += [
                "",
                f"Model size of {name}: {size} bytes ({size / 2**20:.2f} MiB), the weights file "
                f"`{weights}`, which the decoder needs as well.",
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


def _bd_section(results: Mapping[str, Any]) -> list[str]:
    if not results["bd"]:
        return []
    labels = family_labels(results)
    rows = []
    for name, table in results["bd"].items():
        for family, d in table.items():
            overlap = d.get("psnr_overlap_db")
            rows.append(
                [
                    name,
                    labels.get(family, family),
                    _f(d["bd_rate_pct"], 1),
                    _f(d["bd_psnr_db"]),
                    f"{d['anchor_points']}/{d['test_points']}",
                    f"{overlap[0]:.2f}-{overlap[1]:.2f}" if overlap else "–",
                    d.get("note", ""),
                ]
            )
    header = ["gzcodec", "against", "BD-rate (%)", "BD-PSNR (dB)", "points (anchor/gzcodec)"]
    header += ["shared PSNR range (dB)", "note"]
    return ["## BD-rate of gzcodec", "", _BD_INTRO, "", *_table(header, rows), ""]


def _figures_section(results: Mapping[str, Any]) -> list[str]:
    lines = ["## Figures", "", "![Rate-distortion curves](rd.png)", ""]
    grid = results.get("grid") or {}
    if grid.get("faces"):
        lines += [
            f"Same byte budget: per face, each classic codec gets the size of {grid['codec']}'s "
            f"file at bits={grid['param']} and makes its largest file within it (best of its "
            "scales). Tiles are shown at 2x, nearest neighbour.",
            "",
        ]
        if grid.get("image_dir"):
            shown = ", ".join(f"`{face['image']}`" for face in grid["faces"])
            lines += [
                f"The grid shows the images in `{grid['image_dir']}/` ({shown}), not the bench's own "
                "images, whose terms may forbid redistributing them (CelebA's do). They are encoded "
                "for the grid only: every number above comes from the bench's images.",
                "",
            ]
        lines += [
            "![Side by side](grid.png)",
            "",
        ]
    return lines


def _method_section(results: Mapping[str, Any]) -> list[str]:
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
    for name, info in results["codecs"].items():
        if info["scale"] != 1.0:
            continue
        values = info["param_values"]
        if len(values) == 2 and values[1] - values[0] > 1:
            span = f"{values[0]}..{values[1]}"
        else:
            span = ", ".join(map(str, values))
        label, what = info["label"], info["param_name"]
        lines.append(f"- **{label}** (`{name}`, {what} {span}): {info['description']}")
    return [*lines, ""]


def render_markdown(results: Mapping[str, Any]) -> str:
    """The report: header, poster table, matched rates, BD-rates, fixed settings, method.

    Parameters
    ----------
    results : mapping
        What :func:`gzcodec.bench.run_bench` returns (or ``results.json``).

    Returns
    -------
    str
        Markdown whose first lines hold the command, date, machine, gzcodec
        version, model ids and wall time.
    """
    sections = [
        _header(results),
        _poster_section(results),
        _matched_section(results),
        _smallest_section(results),
        _bd_section(results),
        _points_section(results),
        _figures_section(results),
        _method_section(results),
    ]
    return "\n".join(line for section in sections for line in section)
