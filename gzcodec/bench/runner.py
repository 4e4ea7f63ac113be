"""``run_bench``: measure every codec on the same faces and write the results.

The order of work:

1. Load the first ``n`` images of a folder (sorted), as gzcodec sees them
   (:func:`gzcodec.imageio.to_model_input`: centred square, 128x128 RGB).
2. gzcodec (each model) at every ``--bits`` of its ladder, in batches (with a
   cache folder, only the files not already there, each batch's written
   there as it is done).
3. Per image, every classic codec (:mod:`gzcodec.bench.classic_run`): the
   poster's fixed settings, then for each byte budget the largest file within
   it at each scale, keeping the scale with the best PSNR; for the first
   few faces also at the size of gzcodec's file (the grid). With ``grid_dir``
   the grid's faces are instead the first few images of that folder, encoded
   by gzcodec and the classic codecs only for the grid.
4. Identity (:mod:`gzcodec.bench.identity`, when dlib is installed): per
   image and budget, whether gzcodec's decode and the best classic codec's
   are still the same person.
5. Means, gzcodec against the best classic codec at each budget, the
   poster's table, BD-rates; then ``results.json``, ``report.md``, ``rd.png``
   and ``grid.png`` in ``out_dir``.

Every rate is computed from the real file bytes; every distortion on the
decoded image at 128x128 against the loaded original.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..fileio import write_atomic
from ..imageio import list_images, load_image, to_model_input
from ..threads import threads_for
from ..version import __version__
from .budgets import DEFAULT_BUDGETS, budget_bpp
from .classic import classic_codecs
from .classic_run import ClassicJob, ClassicResult, ClassicTotals, init_worker, run_classic_job
from .figures import grid_figure, rd_figure
from .grid import GRID_FACES, GridInput, Tile, grid_face, grid_headers, grid_inputs
from .identity import SAME_PERSON_DISTANCE, unavailable_reason
from .identity_run import judge_picks
from .interface import Codec, NeuralCodec
from .measure import IMAGE_SIZE
from .neural import gzcodec_codecs
from .neural_run import NeuralResult, run_neural
from .pool import worker_pool
from .poster import POSTER_IMAGES, poster_table
from .records import (
    BenchRun,
    CacheStats,
    CodecInfo,
    Grid,
    IdentityInfo,
    Machine,
    MatchedCodec,
    Measurement,
    Meta,
    Pick,
    RDPoint,
)
from .report import render_markdown
from .summary import (
    against_best_classic,
    bd_between_models,
    bd_tables,
    best_classic,
    matched_tables,
    rd_point,
    smallest_files,
)

__all__ = ["DEFAULT_BUDGETS", "run_bench"]


def _load_images(image_dir: Path, n: int, skip: int = 0) -> tuple[list[str], list[np.ndarray]]:
    paths = list_images(image_dir)[skip:skip + n]
    if not paths:
        raise FileNotFoundError(f"no images in {image_dir}" + (f" after the first {skip}" if skip else ""))
    arrays = [to_model_input(load_image(p), IMAGE_SIZE)[0] for p in paths]
    return [p.name for p in paths], arrays


def _classic_results(jobs: list[ClassicJob], codecs: list[Codec], workers: int) -> Iterator[ClassicResult]:
    """Run the classic codecs on each job, in order, in-process or in a process pool."""
    if workers <= 1:
        for job in jobs:
            yield run_classic_job(job, codecs)
        return
    with worker_pool(workers, initializer=init_worker, initargs=(codecs,)) as pool:
        yield from pool.map(run_classic_job, jobs)


def _classic_jobs(
    names: list[str],
    arrays: list[np.ndarray],
    targets: tuple[float, ...],
    faces: list[GridInput],
    *,
    own_grid: bool,
    cache_dir: str | None,
    keep_files: bool = False,
    store_dir: str | None = None,
) -> list[ClassicJob]:
    """One job per bench image, then (unless ``own_grid``: the grid's faces are
    the bench's first images) one per grid face, for the grid only."""
    budgets = [face.budget for face in faces] if own_grid else []
    jobs = [
        ClassicJob(
            name, ref, targets, budgets[i] if i < len(budgets) else None, cache_dir,
            keep_files=keep_files, store_dir=store_dir,
        )
        for i, (name, ref) in enumerate(zip(names, arrays, strict=True))
    ]
    if not own_grid:
        jobs += [ClassicJob(f.name, f.reference, (), f.budget, cache_dir, grid_only=True) for f in faces]
    return jobs


def _run_classic(
    jobs: list[ClassicJob], codecs: list[Codec], workers: int, bar: Progress
) -> tuple[ClassicTotals, list[ClassicResult]]:
    """Every classic codec on every job: the totals over the bench's images, and
    the grid faces' results in order."""
    totals, grid_results = ClassicTotals(), []
    task = bar.add_task("classic codecs", total=len(jobs))
    for job, result in zip(jobs, _classic_results(jobs, codecs, workers), strict=True):
        if job.grid_only:
            totals.count(result)
        else:
            totals.add(result)
        if job.grid_budget is not None:
            grid_results.append(result)
        bar.advance(task)
    return totals, grid_results


def _matched_picks(
    targets: tuple[float, ...], neural: dict[str, tuple[NeuralCodec, NeuralResult]], classic: ClassicTotals
) -> dict[float, dict[str, list[Pick]]]:
    """Per target, per family (gzcodec's first): one pick per image."""
    return {
        t: {
            **{codec.family: result.matched[t] for codec, result in neural.values()},
            **classic.matched.get(t, {}),
        }
        for t in targets
    }


def _machine() -> Machine:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return Machine(os.cpu_count(), cpu, platform.platform(), platform.python_version())


def _codec_info(codec: Codec) -> CodecInfo:
    values = list(codec.param_values)
    # A long contiguous range is written as its ends.
    ends = (values[0], values[-1]) if len(values) > 2 else tuple(values)
    return CodecInfo(codec.family, codec.label, codec.scale, codec.param_name, ends, codec.description)


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
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    command_line: str | None = None,
    progress: bool = True,
    workers: int = 1,
    neural_codecs: Sequence[NeuralCodec] | None = None,
    classic: Sequence[Codec] | None = None,
    cache: str | os.PathLike[str] | None = None,
    grid_dir: str | os.PathLike[str] | None = None,
    identity: bool = True,
    classic_store: str | os.PathLike[str] | None = None,
    skip: int = 0,
) -> BenchRun:
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
    budgets : sequence of int
        Byte budgets (whole files) of the matched-rate comparison:
        :data:`~gzcodec.bench.budgets.DEFAULT_BUDGETS` by default.
    command_line : str, optional
        The command that produced this run, written at the top of the report;
        ``sys.argv`` by default.
    progress : bool
        Show a rich progress bar.
    workers : int
        Processes for the classic codecs (one image each at a time). Each
        codec still runs on one thread, so their times stay comparable as
        long as there are no more workers than idle cores.
    neural_codecs : sequence of NeuralCodec, optional
        Codecs to use in gzcodec's place instead of loading ``models`` (tests,
        or ``[]`` for the classic codecs alone). Each is measured at every one
        of its ``param_values``; its ``info()`` goes in the report.
    classic : sequence of Codec, optional
        Classic codec variants; :func:`gzcodec.bench.classic.classic_codecs`
        by default.
    cache : path, optional
        Folder of the persistent cache of encodes, classic and gzcodec's
        (:mod:`gzcodec.bench.diskcache`; ``gzcodec bench`` uses
        :func:`~gzcodec.bench.diskcache.default_cache_dir`). Encodes found
        there are replayed without calling the encoder, with the encode time
        measured when they were made; new ones are added, gzcodec's batch by
        batch, so a run that is killed and run again with the same cache picks
        up where it stopped. ``None``: no cache.
    grid_dir : path, optional
        Folder whose first few images (sorted, loaded like the bench's) the
        grid shows instead of the bench's first faces, e.g. because the
        bench's images may not be redistributed. They are encoded only for
        the grid: by gzcodec at the grid's bits setting, and by each classic
        codec within that file's size. Every number outside the grid still
        comes from ``image_dir``. Unused without a gzcodec codec (no grid).
    identity : bool
        Judge whether each decode of gzcodec and of the best classic codec is
        still the same person (:mod:`gzcodec.bench.identity`), when dlib is
        installed; ``False``: skip it (the report says "off").
    classic_store : path, optional
        Folder of stored classic results (:mod:`gzcodec.bench.classicstore`):
        an image found there with the same codecs, settings and budgets is
        not searched again (its picks' files are encoded again, one each, only
        to judge identity); each image searched is added. Unlike ``cache``,
        it holds measurements only, so it may be committed beside a report.
    skip : int
        Leave out the first ``skip`` images in sorted order: ``skip=500,
        n=500`` measures files 500-999, e.g. a held-out part of ``val``.

    Returns
    -------
    BenchRun
        Everything written to ``results.json``.
    """
    start = time.perf_counter()
    names, arrays = _load_images(Path(image_dir), n, skip)
    # Loaded first, so that a bad folder fails before any encoding.
    grid_source = None if grid_dir is None else _load_images(Path(grid_dir), GRID_FACES)
    neural = list(gzcodec_codecs(models, bits=bits) if neural_codecs is None else neural_codecs)
    classic = list(classic_codecs() if classic is None else classic)
    budgets = tuple(sorted(int(b) for b in budgets))
    targets = tuple(budget_bpp(b) for b in budgets)  # the tables' rates: exactly these bytes
    judging = _identity_status(identity, neural)
    cache_dir = None if cache is None else str(cache)
    param, faces = None, []
    with _progress(progress) as bar:
        # gzcodec first: its ladder sets the grid's bits and byte budgets.
        # With cache_dir, gzcodec's files are also read from and written to the persistent cache.
        ladders = {c.name: (c, run_neural(c, names, arrays, targets, bar, cache_dir)) for c in neural}
        if neural:
            param, faces = grid_inputs(neural[0], ladders[neural[0].name][1], (names, arrays), grid_source)
        # With cache_dir, classic encodes are read from and written to that persistent cache.
        jobs = _classic_jobs(
            names, arrays, targets, faces, own_grid=grid_source is None, cache_dir=cache_dir,
            keep_files=judging.status == "measured",
            store_dir=None if classic_store is None else str(classic_store),
        )
        totals, grid_results = _run_classic(jobs, classic, workers, bar)
        picks = _matched_picks(targets, ladders, totals)
        if judging.status == "measured":
            picks, judging = _judge(picks, ladders, classic, totals, arrays, workers, bar)

    families: dict[str, list[Codec]] = {}
    for codec in classic:
        families.setdefault(codec.family, []).append(codec)
    points = _points(ladders, totals, classic)
    ladder_keys = {name: tuple(result.points) for name, (_, result) in ladders.items()}
    matched = matched_tables(picks)
    # gzcodec's family is its name in the run.
    versus = {
        name: {key: against_best_classic(block, name) for key, block in matched.items()} for name in ladders
    }
    smallest = {codec.family: result.smallest for codec, result in ladders.values()}
    built = [grid_face(neural[0], face, r) for face, r in zip(faces, grid_results, strict=True)]
    # With --grid-dir the report says these are not the bench's faces.
    shown = Path(grid_dir).as_posix() if grid_dir is not None and built else None
    meta = Meta(
        command=command_line or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=_machine(),
        workers=workers,
        classic_cache=CacheStats(
            cache_dir, totals.encoder_calls, totals.cache_hits,
            store=None if classic_store is None else Path(classic_store).as_posix(),
            stored_images=None if classic_store is None else totals.stored,
        ),
        gzcodec_cache=_gzcodec_cache(cache_dir, ladders) if neural else None,
        gzcodec_version=__version__,
        models={c.name: c.info() for c in neural},
        image_dir=str(image_dir),
        n_images=len(names),
        images=tuple(names),
        poster_images=tuple(names[:POSTER_IMAGES]),
        targets_bpp=targets,
        budgets_bytes=budgets,
        gzcodec_threads=_gzcodec_threads() if neural else None,
        identity=judging,
        skipped_images=skip or None,
    )
    run = BenchRun(
        meta=meta,
        codecs={c.name: _codec_info(c) for c in [*neural, *classic]},
        points=points,
        ladders=ladder_keys,
        matched=matched,
        smallest=smallest_files({**smallest, **totals.smallest}),
        bd=bd_tables(points, ladder_keys, families, matched, len(names)),
        grid=Grid(tuple(face for face, _ in built), neural[0].name, param, shown) if neural else Grid(),
        poster_table=poster_table(points, ladder_keys),
        versus=versus,
        bd_models=bd_between_models(points, ladder_keys),
    )
    figure = (grid_headers(neural[0], param, families), [row for _, row in built]) if built else None
    return _write(run, figure, Path(out_dir), start)


def _gzcodec_cache(cache_dir: str | None, ladders: dict[str, tuple[NeuralCodec, NeuralResult]]) -> CacheStats:
    """gzcodec's files in this run, every model's together: encoded, and read from the cache."""
    results = [result for _, result in ladders.values()]
    return CacheStats(cache_dir, sum(r.encoder_calls for r in results), sum(r.cache_hits for r in results))


def _gzcodec_threads() -> int:
    """Threads gzcodec's encodes ran on: its policy's count, else torch's own."""
    return threads_for("encode") or torch.get_num_threads()


def _identity_status(wanted: bool, neural: Sequence[NeuralCodec]) -> IdentityInfo:
    """Whether identity will be measured, or why not (nothing to judge without gzcodec)."""
    if not wanted or not neural:
        return IdentityInfo("off")
    reason = unavailable_reason()
    return IdentityInfo(reason) if reason else IdentityInfo("measured", SAME_PERSON_DISTANCE)


def _judge(
    picks: dict[float, dict[str, list[Pick]]],
    neural: dict[str, tuple[NeuralCodec, NeuralResult]],
    classic: list[Codec],
    totals: ClassicTotals,
    originals: list[np.ndarray],
    workers: int,
    bar: Progress,
) -> tuple[dict[float, dict[str, list[Pick]]], IdentityInfo]:
    """The picks, with the identity of gzcodec's decodes and of the best classic codec's.

    At each budget, the best classic codec is chosen as the report chooses it
    (:func:`gzcodec.bench.summary.best_classic`), so only its decodes and
    gzcodec's are judged (:func:`gzcodec.bench.identity_run.judge_picks`).
    """
    start = time.perf_counter()
    models = {codec.name: (codec, result) for codec, result in neural.values()}
    variants = {c.name: c for c in classic}
    chosen = {
        target: [
            *(codec.family for codec, _ in neural.values()),
            *filter(None, [best_classic({f: MatchedCodec.of(row) for f, row in by_family.items()})]),
        ]
        for target, by_family in picks.items()
    }

    def decode(image: int, found: Measurement) -> np.ndarray:
        if found.codec in models:
            codec, result = models[found.codec]
            return np.asarray(codec.decode(result.caches[image](found.param).data).convert("RGB"))
        data = totals.files[image][found.codec, found.param]
        return np.asarray(variants[found.codec].decode(data).convert("RGB"))

    task = bar.add_task("identity", total=len(originals))
    out, undetected = judge_picks(
        picks, chosen, originals, decode, workers=workers, advance=lambda: bar.advance(task)
    )
    return out, IdentityInfo("measured", SAME_PERSON_DISTANCE, undetected, time.perf_counter() - start)


def _points(
    neural: dict[str, tuple[NeuralCodec, NeuralResult]], classic: ClassicTotals, codecs: list[Codec]
) -> dict[str, RDPoint]:
    """Every fixed-setting point: each gzcodec ladder, then the poster's classic baselines."""
    points = {key: point for _, result in neural.values() for key, point in result.points.items()}
    variant = {c.name: c for c in codecs}
    for key, row in classic.fixed.items():
        points[key] = rd_point(variant[row[0].codec], row[0].param, row)
    return points


def _write(
    run: BenchRun, grid: tuple[list[str], list[list[Tile]]] | None, out: Path, start: float
) -> BenchRun:
    """Draw ``rd.png`` and ``grid.png`` (given its headers and rows), then write the run's
    wall time so far, ``results.json`` and ``report.md`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rd_figure(run, out / "rd.png")
    if grid is not None:
        grid_figure(grid[1], grid[0], out / "grid.png")
    meta = dataclasses.replace(run.meta, wall_time_s=time.perf_counter() - start)
    run = dataclasses.replace(run, meta=meta)
    run.save(out / "results.json")
    write_atomic(out / "report.md", render_markdown(run).encode("utf-8"), force=True)
    return run
