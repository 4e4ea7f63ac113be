"""The ``gzcodec bench`` command (registered by :mod:`gzcodec.cli`).

Examples
--------
::

    gzcodec bench /data/celeba128/val --n 200 --out results/celeba128-val200
    # Only two byte budgets (whole files), e.g. a quick look:
    gzcodec bench /data/celeba128/val --n 4 --budgets 205,441 --no-cache --out /tmp/quick
    # The same, with the grid drawn from redistributable images instead of CelebA's:
    gzcodec bench /data/celeba128/val --n 200 --grid-dir examples --out results/celeba128-val200
    # Fill the cache of classic encodes once, without a model:
    gzcodec bench /data/celeba128/val --n 200 --classic-only --out /tmp/classic200
    # One file decoded at realism 0 and 1, and WebP, at 100, 150, 205 and 441 B (issue 22):
    gzcodec bench /data/celeba128/val --n 200 --realism 0,1 --grid-dir examples --out results/realism
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..options import BITS_LADDER

__all__ = ["bench"]


def _command_line() -> str:
    # The report's first lines must say exactly how to regenerate it.
    return shlex.join(["gzcodec", *sys.argv[1:]])


#: Modules of the ``bench`` extra (``pip install "gzcodec[bench]"``) that the bench cannot run
#: without; the extra's dlib (the identity column) is optional: without it the column says so.
EXTRA_MODULES = ("matplotlib", "imagecodecs")


def _budgets(text: str | None) -> tuple[int, ...] | None:
    """``--budgets``, parsed; a bad list is a one-line usage error."""
    from .budgets import parse_budgets

    if text is None:
        return None
    try:
        return parse_budgets(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--budgets") from None


def _betas(text: str | None) -> tuple[float, ...] | None:
    """``--realism``, parsed: realism weights in [0, 1], comma-separated, sorted."""
    if text is None:
        return None
    try:
        values = sorted({float(v) for v in text.split(",") if v.strip()})
    except ValueError:
        values = []
    if not values or not all(0 <= v <= 1 for v in values):
        raise typer.BadParameter(f"give realism weights from 0 to 1, comma-separated, not {text!r}",
                                 param_hint="--realism")
    return tuple(values)


def _run_realism(dir: Path, out: Path, *, betas: tuple[float, ...], n: int, budgets: tuple[int, ...] | None,
                 model: list[str] | None, realism_weights: Path | None, grid_dir: Path | None,
                 identity: bool, cache: Path | None) -> None:
    """``--realism``: :func:`gzcodec.bench.realism_run.run_realism_bench`."""
    from .realism_run import REALISM_BUDGETS, run_realism_bench

    if model and len(model) > 1:
        raise typer.BadParameter("--realism measures one model", param_hint="--model")
    results = run_realism_bench(dir, out, n=n, budgets=budgets or REALISM_BUDGETS, betas=betas,
                                model=model[0] if model else None, realism_weights=realism_weights,
                                grid_dir=grid_dir, identity=identity, cache=cache,
                                command_line=_command_line(), log=typer.echo)
    typer.echo(f"wrote {out / 'report.md'} ({results['images']} images, {results['wall_time_s']:.0f} s)")


def _require_extra() -> None:
    """Say what to install when the bench extra is missing (the command is always listed)."""
    import importlib.util

    from ..errors import GzcodecError

    missing = [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise GzcodecError(f"gzcodec bench needs {' and '.join(missing)}: "
                           "pip install 'gzcodec[bench]'")


def bench(
    dir: Annotated[
        Path,
        typer.Argument(help="Folder of images; the first N files in sorted order are used."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder: report.md, results.json, rd.png, grid.png."),
    ] = Path("results/bench"),
    n: Annotated[int, typer.Option("--n", help="Number of images.", min=1)] = 200,
    budgets: Annotated[
        str | None,
        typer.Option(
            "--budgets",
            help="Byte budgets of the matched-rate comparison, whole files, comma-separated "
            "[default: 100,150,205,307,441,614,1024,1536,2048,3072].",
            show_default=False,
        ),
    ] = None,
    bits: Annotated[
        list[int] | None,
        typer.Option(min=BITS_LADDER[0], max=BITS_LADDER[-1],
                     help=f"gzcodec bits setting, {BITS_LADDER[0]}..{BITS_LADDER[-1]} as for "
                     "`gzcodec encode` (repeatable); default: the model's trained ladder "
                     "(a v2 model's, the default's included: every 8th rate index and 255)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(help="gzcodec model id, name or path (repeatable); default: the default model."),
    ] = None,
    skip: Annotated[
        int,
        typer.Option(
            min=0,
            help="Leave out the first K files (sorted): --skip 500 --n 500 measures files 500-999, "
            "a held-out set.",
        ),
    ] = 0,
    workers: Annotated[
        int,
        typer.Option(help="Processes for the classic codecs; at most the number of idle cores.", min=1),
    ] = 1,
    force: Annotated[
        bool, typer.Option("--force", help="Write into an existing non-empty output folder.")
    ] = False,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the persistent cache of encodes, classic and gzcodec's: files found "
            "there are not encoded again, and gzcodec's are written batch by batch, so a killed "
            "run given the same --cache picks up where it stopped "
            "(default: $XDG_CACHE_HOME/gzcodec/bench, else ~/.cache/gzcodec/bench).",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Encode every file afresh; read and write no cache.")
    ] = False,
    classic_store: Annotated[
        Path | None,
        typer.Option(
            help="Folder of stored classic results: measurements only, no files, so it may be "
            "committed; images found there are not encoded again, new ones are added. Fill it "
            "over several sessions with --classic-only.",
            show_default=False,
        ),
    ] = None,
    classic_only: Annotated[
        bool,
        typer.Option(
            "--classic-only",
            help="Only the classic codecs (no gzcodec model): e.g. to fill the cache ahead of a model.",
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Torch threads for gzcodec in the main process (default: GZCODEC_THREADS, else 1; "
            "0: torch's default). Classic-codec workers always run one thread each.",
        ),
    ] = None,
    grid_dir: Annotated[
        Path | None,
        typer.Option(
            "--grid-dir",
            help="Draw grid.png from the first 4 images of this folder instead of DIR's (e.g. when "
            "DIR's images may not be redistributed); every number still comes from DIR.",
        ),
    ] = None,
    realism: Annotated[
        str | None,
        typer.Option(
            "--realism",
            help="Realism weights to decode each gzcodec file at, comma-separated (e.g. 0,1), "
            "against WebP at the same bytes: PSNR, SSIM, identity, sharpness, KID and grids "
            "[budgets default: 100,150,205,441].",
        ),
    ] = None,
    realism_weights: Annotated[
        Path | None,
        typer.Option(help="--realism: the realism file to use (default: the one installed for the model)."),
    ] = None,
    identity: Annotated[
        bool,
        typer.Option(
            "--identity/--no-identity",
            help="Judge whether each decode of gzcodec and of the best classic codec is the same "
            "person (dlib, from the bench extra; without it the report says 'not installed').",
        ),
    ] = True,
) -> None:
    """gzcodec against the best classic codec at each byte budget, the poster's table, figures.

    Measures gzcodec at each bits setting and JPEG, WebP, AVIF, JPEG XL and the
    poster's KNN baseline (each also downscaled) on the same images, at each
    byte budget (each codec's largest file within it), with the share of
    decodes that are still the same person (dlib, when installed), and writes
    a Markdown report, a JSON of every measurement and PNG figures to OUT.
    Encodes are cached on disk (keyed by the image's pixels, the codec and its
    settings; gzcodec's by the model's id, the encode options, the package
    version and the encoder's source), so a rerun with another model only
    decodes and measures the classic files, and a run that is killed picks up
    where it stopped.
    """
    chosen_budgets = _budgets(budgets)  # before the extra: a typo fails fast, whatever is installed
    betas = _betas(realism)
    _require_extra()
    from ..threads import set_threads
    from .budgets import DEFAULT_BUDGETS
    from .diskcache import default_cache_dir
    from .runner import run_bench  # late: keeps `gzcodec --help` fast

    if threads is not None:
        set_threads(threads)
    if not dir.is_dir():
        raise typer.BadParameter(f"not a folder: {dir}", param_hint="DIR")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise typer.BadParameter(
            f"{out} exists and is not empty; use --force to write into it", param_hint="--out"
        )
    if classic_only and (bits or model):
        raise typer.BadParameter("--classic-only measures no model", param_hint="--bits/--model")
    if grid_dir is not None and not grid_dir.is_dir():
        raise typer.BadParameter(f"not a folder: {grid_dir}", param_hint="--grid-dir")
    if no_cache and cache is not None:
        raise typer.BadParameter("give --cache or --no-cache, not both", param_hint="--cache")
    if classic_only and grid_dir is not None:
        typer.echo("--classic-only draws no grid (it needs gzcodec's file sizes): --grid-dir is unused")
    if betas is not None:
        if classic_store is not None or skip:
            raise typer.BadParameter("--realism takes neither --classic-store nor --skip",
                                     param_hint="--classic-store/--skip")
        if classic_only or bits:
            raise typer.BadParameter("--realism measures one model's files at its budgets",
                                     param_hint="--classic-only/--bits")
        _run_realism(dir, out, betas=betas, n=n, budgets=chosen_budgets, model=model,
                     realism_weights=realism_weights, grid_dir=grid_dir, identity=identity,
                     cache=None if no_cache else (cache or default_cache_dir()))
        return
    run = run_bench(
        dir,
        out,
        n=n,
        budgets=chosen_budgets or DEFAULT_BUDGETS,
        bits=bits or None,
        models=model or None,
        command_line=_command_line(),
        workers=workers,
        neural_codecs=[] if classic_only else None,
        cache=None if no_cache else (cache or default_cache_dir()),
        grid_dir=grid_dir,
        identity=identity,
        classic_store=classic_store,
        skip=skip,
    )
    stats, gz = run.meta.classic_cache, run.meta.gzcodec_cache
    stored = f", {stats.stored_images} images from the store" if stats.store else ""
    neural = f"; gzcodec files: {gz.encoder_calls} encoded, {gz.cache_hits} from cache" if gz else ""
    typer.echo(
        f"wrote {out / 'report.md'} ({run.meta.n_images} images, {run.meta.wall_time_s:.0f} s; "
        f"classic encodes: {stats.encoder_calls} run, {stats.cache_hits} from cache{stored}{neural})"
    )
