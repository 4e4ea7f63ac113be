"""``run_bench``: measure every codec on the same faces and write the results.

The order of work:

1. Load the first ``n`` images of a folder (sorted), as gzcodec sees them
   (:func:`gzcodec.imageio.to_model_input`: centred square, 128x128 RGB).
2. gzcodec (each model) at every ``--bits`` of its ladder, in batches.
3. Per image, every classic codec (:mod:`gzcodec.bench.classic_run`): the
   poster's fixed settings, then for each target rate the largest file within
   budget at each scale, keeping the scale with the best PSNR; for the first
   few faces also at the size of gzcodec's file (the grid). With ``grid_dir``
   the grid's faces are instead the first few images of that folder, encoded
   by gzcodec and the classic codecs only for the grid.
4. Means, the poster's table, BD-rates; then ``results.json``,
   ``report.md``, ``rd.png`` and ``grid.png`` in ``out_dir``.

Every rate is computed from the real file bytes; every distortion on the
decoded image at 128x128 against the loaded original.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import math
import multiprocessing
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..imageio import list_images, load_image, to_model_input
from .classic import classic_codecs
from .classic_run import GRID_FAMILIES, ClassicJob, ClassicResult, init_worker, run_classic_job
from .figures import grid_figure, rd_figure
from .interface import Codec
from .measure import IMAGE_SIZE, Record, budget_bytes, measure
from .metrics import bd_psnr, bd_rate, pareto_front
from .pick import best_within
from .ratecontrol import EncodeCache, Trial
from .report import pick_poster_point, poster_table, render_markdown, write_json

__all__ = ["DEFAULT_TARGETS", "run_bench"]

DEFAULT_TARGETS: tuple[float, ...] = (0.1, 0.15, 0.2152, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)
"""Target rates in bpp: the poster's 0.2152 and a ladder around it, enough
points for a cubic BD fit."""

# Images per gzcodec encode_batch call: enough to amortise, few enough to show progress.
BATCH = 16
POSTER_IMAGES = 10  # the poster's test set: the first 10 images
GRID_FACES = 4
METRIC_KEYS = ("bpp", "mse", "psnr", "ssim", "ms_ssim", "encode_s", "decode_s")

Tile = tuple[Image.Image | None, str]


def _load_images(image_dir: Path, n: int) -> tuple[list[str], list[np.ndarray]]:
    paths = list_images(image_dir)[:n]
    if not paths:
        raise FileNotFoundError(f"no images in {image_dir}")
    arrays = [to_model_input(load_image(p), IMAGE_SIZE)[0] for p in paths]
    return [p.name for p in paths], arrays


def _means(records: Iterable[Record]) -> dict[str, float]:
    rows = [r for r in records if r.get("reached", True)]
    out: dict[str, float] = {"n": len(rows)}
    for key in METRIC_KEYS:
        out[key] = float(np.mean([r[key] for r in rows])) if rows else math.nan
    return out


def _point(codec: Codec, param: int, records: list[Record]) -> Record:
    return {
        "codec": codec.name,
        "family": codec.family,
        "param_name": codec.param_name,
        "param": param,
        "images": records,
        "mean": _means(records),
        "mean_poster_images": _means(records[:POSTER_IMAGES]),
    }


def _encode_ladder(
    codec: Codec, images: list[Image.Image], advance: Callable[[int], None]
) -> list[EncodeCache]:
    """Every image at every setting of ``codec``, batched when the codec can."""
    caches = [EncodeCache(codec, im) for im in images]
    batch_encode = getattr(codec, "encode_batch", None)
    for param in codec.param_values:
        for lo in range(0, len(images), BATCH):
            chunk = images[lo : lo + BATCH]
            start = time.perf_counter()
            if batch_encode is not None:
                blobs = list(batch_encode(chunk, param=param))
            else:
                blobs = [codec.encode(im, param=param) for im in chunk]
            # A batch's time is shared equally among its images.
            share = (time.perf_counter() - start) / len(chunk)
            for cache, data in zip(caches[lo : lo + BATCH], blobs, strict=True):
                cache.add(Trial(param, bytes(data), share))
            advance(len(chunk))
    return caches


def _encode_once(codec: Codec, images: list[Image.Image], param: int) -> list[Trial]:
    """``images`` at one setting of ``codec``, batched as the ladder is (the grid's own images)."""
    batch_encode = getattr(codec, "encode_batch", None)
    start = time.perf_counter()
    if batch_encode is not None:
        blobs = list(batch_encode(images, param=param))
    else:
        blobs = [codec.encode(im, param=param) for im in images]
    share = (time.perf_counter() - start) / max(len(images), 1)
    return [Trial(param, bytes(data), share) for data in blobs]


def _classic_results(jobs: list[ClassicJob], codecs: list[Codec], workers: int) -> Iterator[ClassicResult]:
    """Run the classic codecs on each job, in order, in-process or in a process pool."""
    if workers <= 1:
        for job in jobs:
            yield run_classic_job(job, codecs)
        return
    # spawn, not fork: the parent has torch's OpenMP pool running, which fork breaks.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=init_worker, initargs=(codecs,)
    ) as pool:
        yield from pool.map(run_classic_job, jobs)


class _Run:
    """The state of one bench run, filled step by step by :func:`run_bench`."""

    def __init__(
        self,
        names: list[str],
        arrays: list[np.ndarray],
        neural: list[Codec],
        classic: list[Codec],
        targets: tuple[float, ...],
        bar: Progress,
        grid_source: tuple[list[str], list[np.ndarray]] | None = None,
    ) -> None:
        self.names, self.arrays = names, arrays
        self.grid_source = grid_source  # the grid's own images, if not the bench's first faces
        self.images = [Image.fromarray(a, "RGB") for a in arrays]
        self.neural, self.classic, self.targets, self.bar = neural, classic, targets, bar
        self.families: dict[str, list[Codec]] = {}
        for codec in classic:
            self.families.setdefault(codec.family, []).append(codec)
        self.points: dict[str, Record] = {}  # fixed-setting measurements, "<codec> <param>=<v>"
        self.ladders: dict[str, list[str]] = {}  # gzcodec name -> its point keys
        self.neural_caches: dict[str, list[EncodeCache]] = {}
        self.matched: dict[float, dict[str, list[Record]]] = {t: {} for t in targets}
        self.grid: Record = {"faces": []}
        self.grid_rows: list[list[Tile]] = []
        self.smallest: dict[str, list[int]] = {}  # family -> per image, bytes
        self.encoder_calls = 0  # classic encodes run
        self.cache_hits = 0  # classic encodes replayed from the persistent cache

    def run_neural(self, codec: Codec) -> None:
        """gzcodec's ladder on every image, and its matched-rate picks from that ladder."""
        total = len(self.names) * len(codec.param_values)
        task = self.bar.add_task(f"{codec.name} encode", total=total)
        caches = _encode_ladder(codec, self.images, lambda k: self.bar.advance(task, k))
        self.neural_caches[codec.name] = caches
        task = self.bar.add_task(f"{codec.name} decode", total=total)
        keys = []
        for param in codec.param_values:
            records = []
            for cache, ref, name in zip(caches, self.arrays, self.names, strict=True):
                records.append(measure(codec, cache(param), ref, name))
                self.bar.advance(task)
            key = f"{codec.name} {codec.param_name}={param}"
            self.points[key] = _point(codec, param, records)
            keys.append(key)
        self.ladders[codec.name] = keys
        self.smallest[codec.family] = [cache(codec.param_values[0]).nbytes for cache in caches]
        # The matched-rate picks reuse the ladder's measurements: same file, same numbers.
        measured = [
            {(codec.name, self.points[k]["param"]): self.points[k]["images"][i] for k in keys}
            for i in range(len(self.names))
        ]
        for target in self.targets:
            self.matched[target][codec.family] = [
                best_within([cache], budget_bytes(target), ref, name, measured[i])
                for i, (cache, ref, name) in enumerate(zip(caches, self.arrays, self.names, strict=True))
            ]

    def run_classic(self, workers: int, cache_dir: Path | None = None) -> None:
        """Every classic codec on every image: fixed settings, matched rates, grid budgets.

        With ``cache_dir``, encodes are read from and written to that persistent cache.
        """
        # The grid's faces: (name, image, reference, gzcodec's file, its measurement).
        grid: list[tuple[str, Image.Image, np.ndarray, bytes, Record]] = []
        if self.neural:
            codec = self.neural[0]
            chosen, _ = pick_poster_point({k: self.points[k] for k in self.ladders[codec.name]})
            param = self.points[chosen]["param"]
            self.grid.update(codec=codec.name, param=param)
            if self.grid_source is None:
                k = min(GRID_FACES, len(self.names))
                faces = list(zip(self.names[:k], self.images[:k], self.arrays[:k], strict=True))
                trials = [self.neural_caches[codec.name][i](param) for i in range(k)]
            else:
                names, arrays = self.grid_source
                faces = [(name, Image.fromarray(a, "RGB"), a) for name, a in zip(names, arrays, strict=True)]
                trials = _encode_once(codec, [image for _, image, _ in faces], param)
            for (name, image, ref), trial in zip(faces, trials, strict=True):
                grid.append((name, image, ref, trial.data, measure(codec, trial, ref, name)))
        cache = None if cache_dir is None else str(cache_dir)
        own_grid = self.grid_source is None  # the grid's faces are the first bench images
        budgets = [gz["bytes"] for *_, gz in grid] if own_grid else []
        jobs = [
            ClassicJob(name, ref, self.targets, budgets[i] if i < len(budgets) else None, cache)
            for i, (name, ref) in enumerate(zip(self.names, self.arrays, strict=True))
        ]
        if not own_grid:
            jobs += [
                ClassicJob(name, ref, (), gz["bytes"], cache, grid_only=True) for name, _, ref, _, gz in grid
            ]
        fixed: dict[str, list[Record]] = {}
        task = self.bar.add_task("classic codecs", total=len(jobs))
        for i, result in enumerate(_classic_results(jobs, self.classic, workers)):
            j = i if own_grid else i - len(self.names)  # index among the grid's faces
            if i < len(self.names):
                for key, record in result.fixed.items():
                    fixed.setdefault(key, []).append(record)
                for target, picks in result.matched.items():
                    for family, entry in picks.items():
                        self.matched[target].setdefault(family, []).append(entry)
                for family, nbytes in result.smallest.items():
                    self.smallest.setdefault(family, []).append(nbytes)
            self.encoder_calls += result.encoder_calls
            self.cache_hits += result.cache_hits
            if 0 <= j < len(grid):
                self._grid_row(*grid[j], result)
            self.bar.advance(task)
        variant = {c.name: c for c in self.classic}
        for key, records in fixed.items():
            self.points[key] = _point(variant[records[0]["codec"]], records[0]["param"], records)

    def _grid_row(
        self, name: str, image: Image.Image, ref: np.ndarray, data: bytes, gz: Record, result: ClassicResult
    ) -> None:
        codec = self.neural[0]
        row: list[Tile] = [
            (image, name),
            (codec.decode(data), f"{gz['bytes']} B, {gz['psnr']:.1f} dB"),
        ]
        tiles: Record = {codec.name: gz}
        for family, (entry, picture) in result.grid.items():
            tiles[family] = entry
            if entry["reached"]:
                scale = "" if entry["scale"] == 1.0 else f" x{entry['scale']:g}"
                row.append((picture, f"{entry['bytes']} B{scale}, {entry['psnr']:.1f} dB"))
            else:
                row.append((None, f"none <= {gz['bytes']} B (min {entry['min_bytes']})"))
        self.grid["faces"].append({"image": name, "budget_bytes": gz["bytes"], "tiles": tiles})
        self.grid_rows.append(row)

    def grid_headers(self) -> list[str]:
        """Column titles of the grid figure."""
        codec = self.neural[0]
        labels = [self.families[f][0].label for f in GRID_FAMILIES if f in self.families]
        return ["original", f"{codec.name} {codec.param_name}={self.grid['param']}", *labels]

    def matched_summary(self) -> dict[str, Record]:
        """Per target and codec family: reach, means over reached images, scales that won."""
        out: dict[str, Record] = {}
        for target in self.targets:
            per_family: dict[str, Record] = {}
            for family, entries in self.matched[target].items():
                wins: dict[str, int] = {}
                for e in entries:
                    if e["reached"]:
                        wins[f"{e['scale']:g}"] = wins.get(f"{e['scale']:g}", 0) + 1
                per_family[family] = {
                    "n_reached": sum(e["reached"] for e in entries),
                    "n": len(entries),
                    "mean": _means(entries),
                    "scale_wins": wins,
                    "images": entries,
                }
            out[f"{target:g}"] = {
                "target_bpp": target,
                "budget_bytes": budget_bytes(target),
                "codecs": per_family,
            }
        return out

    def smallest_summary(self) -> dict[str, Record]:
        """Per codec family: the smallest file it can make, over the images (bytes)."""
        return {
            family: {
                "median_bytes": float(np.median(sizes)),
                "min_bytes": int(min(sizes)),
                "max_bytes": int(max(sizes)),
            }
            for family, sizes in self.smallest.items()
        }

    def bd_tables(self, matched: dict[str, Record]) -> dict[str, Record]:
        """BD-rate and BD-PSNR of each gzcodec ladder against each classic family."""
        n = len(self.names)
        out: dict[str, Record] = {}
        for name, keys in self.ladders.items():
            test = _frontier([(self.points[k]["mean"]["bpp"], self.points[k]["mean"]["psnr"]) for k in keys])
            out[name] = {}
            for family in self.families:
                # Only targets every image reached: a mean over a subset would flatter a codec.
                anchor = _frontier(
                    [
                        (m["codecs"][family]["mean"]["bpp"], m["codecs"][family]["mean"]["psnr"])
                        for m in matched.values()
                        if m["codecs"][family]["n_reached"] == n
                    ]
                )
                out[name][family] = _bd_entry(anchor, test)
        return out


def _frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (rate, PSNR) points on the curve's Pareto front, by increasing rate."""
    keep = pareto_front([p[0] for p in points], [p[1] for p in points])
    return [points[i] for i in keep]


def _bd_entry(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> Record:
    curves = ([a[0] for a in anchor], [a[1] for a in anchor], [t[0] for t in test], [t[1] for t in test])
    low = max(min(curves[1], default=math.inf), min(curves[3], default=math.inf))
    high = min(max(curves[1], default=-math.inf), max(curves[3], default=-math.inf))
    if len(anchor) < 4 or len(test) < 4:
        note = "fewer than 4 points on a curve"
    elif not high > low:
        note = "PSNR ranges do not overlap"
    else:
        note = ""
    return {
        "bd_rate_pct": bd_rate(*curves),
        "bd_psnr_db": bd_psnr(*curves),
        "anchor_points": len(anchor),
        "test_points": len(test),
        "psnr_overlap_db": [low, high] if high > low else None,
        "note": note,
    }


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _version() -> str:
    import gzcodec

    return str(getattr(gzcodec, "__version__", "unknown"))


def _default_neural(models: Sequence[str] | None, bits: Sequence[int] | None) -> list[Codec]:
    from .neural import GzcodecCodec

    specs: list[str | None] = list(models) if models else [None]
    codecs = [GzcodecCodec(spec, bits=bits) for spec in specs]
    if len(codecs) > 1:
        for codec in codecs:
            codec.name = codec.family = codec.label = f"gzcodec[{codec.model.id[:8]}]"
    return codecs


def _codec_info(codec: Codec) -> Record:
    values = list(codec.param_values)
    return {
        "family": codec.family,
        "label": codec.label,
        "scale": codec.scale,
        "param_name": codec.param_name,
        # A long contiguous range is written as its ends.
        "param_values": [values[0], values[-1]] if len(values) > 2 else values,
        "description": codec.description,
    }


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def run_bench(
    image_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    n: int = 200,
    bits: Sequence[int] | None = None,
    models: Sequence[str] | None = None,
    targets: Sequence[float] = DEFAULT_TARGETS,
    command_line: str | None = None,
    progress: bool = True,
    workers: int = 1,
    neural_codecs: Sequence[Codec] | None = None,
    classic: Sequence[Codec] | None = None,
    cache: str | os.PathLike[str] | None = None,
    grid_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Benchmark gzcodec against the classic codecs and write the results.

    Parameters
    ----------
    image_dir : path
        Folder of images; the first ``n`` in sorted order are used.
    out_dir : path
        Folder for ``results.json``, ``report.md``, ``rd.png`` and
        ``grid.png`` (created; existing files are overwritten).
    n : int
        Number of images.
    bits : sequence of int, optional
        gzcodec settings to measure; each model's trained ladder by default.
    models : sequence of str, optional
        gzcodec models (id, name or path); the default model if not given.
    targets : sequence of float
        Target rates in bpp for the matched-rate comparison.
    command_line : str, optional
        The command that produced this run, written at the top of the report;
        ``sys.argv`` by default.
    progress : bool
        Show a rich progress bar.
    workers : int
        Processes for the classic codecs (one image each at a time). Each
        codec still runs on one thread, so their times stay comparable as
        long as there are no more workers than idle cores.
    neural_codecs : sequence of Codec, optional
        Codecs to use in gzcodec's place instead of loading ``models`` (tests,
        or ``[]`` for the classic codecs alone). Each is measured at every one
        of its ``param_values``; ``info()``, if it has one, goes in the report.
    classic : sequence of Codec, optional
        Classic codec variants; :func:`gzcodec.bench.classic.classic_codecs`
        by default.
    cache : path, optional
        Folder of the persistent cache of classic encodes
        (:mod:`gzcodec.bench.diskcache`; ``gzcodec bench`` uses
        :func:`~gzcodec.bench.diskcache.default_cache_dir`). Encodes found
        there are replayed without calling the encoder, with the encode time
        measured when they were made; new ones are added. ``None``: no cache.
    grid_dir : path, optional
        Folder whose first few images (sorted, loaded like the bench's) the
        grid shows instead of the bench's first faces, e.g. because the
        bench's images may not be redistributed. They are encoded only for
        the grid: by gzcodec at the grid's bits setting, and by each classic
        codec within that file's size. Every number outside the grid still
        comes from ``image_dir``. Unused without a gzcodec codec (no grid).

    Returns
    -------
    dict
        Everything written to ``results.json``.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    names, arrays = _load_images(Path(image_dir), n)
    # Loaded first, so that a bad folder fails before any encoding.
    grid_source = None if grid_dir is None else _load_images(Path(grid_dir), GRID_FACES)
    neural = list(_default_neural(models, bits) if neural_codecs is None else neural_codecs)
    classic = list(classic_codecs() if classic is None else classic)
    targets = tuple(sorted(float(t) for t in targets))
    with _progress(progress) as bar:
        run = _Run(names, arrays, neural, classic, targets, bar, grid_source)
        # gzcodec first: its ladder sets the grid's bits and byte budgets.
        for codec in neural:
            run.run_neural(codec)
        run.run_classic(workers, None if cache is None else Path(cache))

    if grid_dir is not None and run.grid["faces"]:
        run.grid["image_dir"] = Path(grid_dir).as_posix()  # the report: these are not the bench's faces
    matched = run.matched_summary()
    results: dict[str, Any] = {
        "meta": {
            "command": command_line or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": _machine(),
            "workers": workers,
            "classic_cache": {
                "dir": None if cache is None else str(cache),
                "encoder_calls": run.encoder_calls,
                "cache_hits": run.cache_hits,
            },
            "gzcodec_version": _version(),
            "models": {c.name: c.info() if hasattr(c, "info") else {} for c in neural},
            "image_dir": str(image_dir),
            "n_images": len(names),
            "images": names,
            "poster_images": names[:POSTER_IMAGES],
            "targets_bpp": list(targets),
        },
        "codecs": {c.name: _codec_info(c) for c in [*neural, *classic]},
        "points": run.points,
        "ladders": run.ladders,
        "matched": matched,
        "smallest": run.smallest_summary(),
        "bd": run.bd_tables(matched),
        "grid": run.grid,
    }
    results["poster_table"] = poster_table(results)
    out.mkdir(parents=True, exist_ok=True)
    rd_figure(results, out / "rd.png")
    if run.grid_rows:
        grid_figure(run.grid_rows, run.grid_headers(), out / "grid.png")
    results["meta"]["wall_time_s"] = time.perf_counter() - start
    write_json(results, out / "results.json")
    (out / "report.md").write_text(render_markdown(results), encoding="utf-8")
    return results
