"""What every ``gzcodec`` command shares: errors as one line, the outputs' plan, threads, progress.

The commands' own helpers (the names with an underscore are for the ``cli_*``
modules, not for users).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

import typer

from .errors import GzcodecError, OutputExistsError
from .losses import LOSS_NAMES

__all__ = ["Loss", "Size", "QrLevel", "clean_errors"]


#: ``--loss`` choices: :data:`gzcodec.losses.LOSS_NAMES` (``Loss.ms_ssim`` is ``"ms-ssim"``).
Loss = Enum("Loss", [(name.replace("-", "_"), name) for name in LOSS_NAMES], type=str)


class Size(str, Enum):
    model = "model"
    source = "source"


#: ``--qr-level`` choices: :data:`gzcodec.qr.LEVELS`.
QrLevel = Enum("QrLevel", [(level, level) for level in ("L", "M", "Q", "H")], type=str)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _quiet(line: str) -> None:
    """``-q``: the per-file lines are not printed."""


def _os_message(exc: OSError) -> str:
    name = f"{exc.filename}: " if exc.filename else ""
    return f"{name}{exc.strerror or exc}"


def clean_errors(command: Callable) -> Callable:
    """Turn the errors a user can cause into one line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return command(*args, **kwargs)
        except GzcodecError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            # The reader went away (`gzcodec info x.gzl | head`): nothing more to say to it,
            # and Python's own flush at exit must not complain either.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            raise typer.Exit(1) from None
        except OSError as exc:
            _fail(_os_message(exc))
        except KeyboardInterrupt:
            _fail("interrupted; finished files are complete, run again to resume", 130)

    return wrapper


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        from .threads import set_threads

        set_threads(threads)


_THREADS_HELP = ("Torch threads (default: GZCODEC_THREADS, else 1, which is fastest on a busy "
                 "machine; 0: torch's default, one per core).")


def _above_zero(value: float | None) -> float | None:
    """The option's value, refused if 0 (typer's ``min`` includes its bound; click's
    ``min_open`` is not an option of typer's)."""
    if value is not None and value <= 0:
        raise typer.BadParameter("must be above 0")
    return value


def _is_folder_spec(output: str) -> bool:
    """Whether ``-o`` names a folder: it ends with a separator, or is an existing folder."""
    seps = tuple(s for s in (os.sep, os.altsep, "/") if s)
    return output.endswith(seps) or Path(output).is_dir()


def _plan(files: list[Path], output: str | None, suffix: str, many: bool,
          file_suffixes: Iterable[str]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Each input's output path, and one error line per input that must not be written.

    ``-o`` names a folder (several inputs, or a name ending in a separator) or
    the one output file; the rules on outputs are :func:`gzcodec.fileio.plan_outputs`'s.
    """
    from .fileio import plan_outputs

    folder = None
    if output is not None:
        if many and not _is_folder_spec(output) and (
                Path(output).exists() or Path(output).suffix.lower() in file_suffixes):
            raise GzcodecError(f"-o {output}: several inputs need an output folder "
                                   f"(end it with '/' to make one)")
        if many or _is_folder_spec(output):
            folder = Path(output)
    one_file = output if output is not None and folder is None else None
    plan, refused = plan_outputs(files, folder, suffix=suffix, output=one_file)
    return plan, [f"{src}: {why}" for src, why in refused.items()]


def _report(errors: list[str], many: bool) -> int:
    """Print per-file errors; with a single input, its error is the command's error."""
    if errors and not many:
        raise GzcodecError(errors[0])
    for line in errors:
        typer.echo(f"error: {line}", err=True)
    return len(errors)


def _skip_existing(plan: list[tuple[Path, Path]], force: bool, many: bool
                   ) -> tuple[list[tuple[Path, Path]], int]:
    """The pairs to do; existing outputs are skipped in folders (resume) and refused for one file."""
    if force:
        return plan, 0
    todo, skipped = [], 0
    for src, dst in plan:
        if dst.exists() or dst.is_symlink():
            if not many:
                raise OutputExistsError(f"{dst} exists (use --force to overwrite)")
            skipped += 1
        else:
            todo.append((src, dst))
    return todo, skipped


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    # On stderr, and only on a terminal: stdout stays the results alone (it used to
    # start with a stray blank line when redirected).
    console = Console(stderr=True)
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                    disable=not enabled or not console.is_terminal, transient=True)


def _write(dst: Path, data: bytes, *, force: bool) -> str | None:
    """Write one output; the error line if it cannot be (the other files go on)."""
    from .fileio import write_atomic

    try:
        write_atomic(dst, data, force=force)
    except (GzcodecError, OSError) as exc:
        return _failure(exc)
    return None


def _failure(exc: BaseException) -> str:
    """One line of an image's failure (:attr:`gzcodec.outputs.Encoded.error`)."""
    return _os_message(exc) if isinstance(exc, OSError) and not isinstance(exc, GzcodecError) else str(exc)
