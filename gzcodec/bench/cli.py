"""The ``gzcodec bench`` command (registered by :mod:`gzcodec.cli`).

Examples
--------
::

    gzcodec bench /data/celeba128/val --n 200 --out results/celeba128-val200
    # The same, with the grid drawn from redistributable images instead of CelebA's:
    gzcodec bench /data/celeba128/val --n 200 --grid-dir examples --out results/celeba128-val200
    # Fill the cache of classic encodes once, without a model:
    gzcodec bench /data/celeba128/val --n 200 --classic-only --out /tmp/classic200
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


#: Modules of the ``bench`` extra (``pip install "gzcodec[bench]"``).
EXTRA_MODULES = ("matplotlib", "imagecodecs")


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
            help="Folder of the persistent cache of classic-codec encodes "
            "[default: $XDG_CACHE_HOME/gzcodec/bench, else ~/.cache/gzcodec/bench].",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Encode every classic file afresh; read and write no cache.")
    ] = False,
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
) -> None:
    """The poster's table, rate-distortion curves and pictures, against every classic codec.

    Measures gzcodec at each bits setting and JPEG, WebP, AVIF, JPEG XL and the
    poster's KNN baseline (each also downscaled) on the same images, at matched
    rates, and writes a Markdown report, a JSON of every measurement and PNG
    figures to OUT. Classic encodes are cached on disk (keyed by the image's
    pixels, the codec and its settings), so a rerun with another model only
    decodes and measures them.
    """
    _require_extra()
    from ..threads import set_threads
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
    run = run_bench(
        dir,
        out,
        n=n,
        bits=bits or None,
        models=model or None,
        command_line=_command_line(),
        workers=workers,
        neural_codecs=[] if classic_only else None,
        cache=None if no_cache else (cache or default_cache_dir()),
        grid_dir=grid_dir,
    )
    stats = run.meta.classic_cache
    typer.echo(
        f"wrote {out / 'report.md'} ({run.meta.n_images} images, {run.meta.wall_time_s:.0f} s; "
        f"classic encodes: {stats.encoder_calls} run, {stats.cache_hits} from cache)"
    )
