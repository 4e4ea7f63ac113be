"""The ``gzcodec`` command line (typer).

Every command reports a failure as one line on stderr, ``error: ...``, and
exit code 1 (130 when interrupted); usage errors (an unknown option, a value
out of range, a missing argument) too, never a boxed message or a traceback.
Outputs are written atomically and never overwritten without ``--force``;
an output never replaces one of the inputs, even with ``--force``. Commands
over many files go on past a failing file, report it, print a summary and
exit with code 1.

Only ``typer`` and gzcodec's light modules are imported at start-up: torch,
matplotlib, scikit-image and imagecodecs are imported by the commands that
need them, so ``gzcodec --help`` and ``gzcodec info`` start in a fraction of a
second.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # typer >= 0.2x carries its own copy of click; older ones use click itself
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_errors

from .cli_common import Loss, clean_errors
from .cli_decode import decode
from .cli_encode import encode
from .cli_info import info, models
from .cli_train import train

__all__ = ["app", "main", "Loss"]


class _Group(TyperGroup):
    """Typer's group, with usage errors as one ``error: ...`` line and exit code 1.

    Typer boxes usage errors and exits with 2; the README and
    ``spec/errors.md`` promise one line and 1 for every user error, so the
    group runs click in non-standalone mode and reports errors itself.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except _click_errors.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            code = 0
        except _click_errors.UsageError as exc:
            typer.echo(f"error: {_usage_message(exc)}", err=True)
            code = 1
        except _click_errors.ClickException as exc:
            typer.echo(f"error: {_one_line(exc.format_message())}", err=True)
            code = 1
        except typer.Abort:
            typer.echo("error: interrupted", err=True)
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


    def get_params(self, ctx):
        return _without_flag_types(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _without_flag_types(command.get_params(ctx))
        return command


def _without_flag_types(params: list) -> list:
    """``params``, their flags shown without a value type in the help (they take no value).

    Typer's rich help puts the flag's Python type beside it (``--force -f <bool>``)
    unless it has a metavar; an empty one shows nothing.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_message(exc: _click_errors.UsageError) -> str:
    message = _one_line(exc.format_message())
    ctx = exc.ctx
    if ctx is not None and ctx.command_path:
        return f"{message} (see '{ctx.command_path} --help')"
    return message


def _version(value: bool) -> None:
    if value:
        from .version import __version__

        typer.echo(f"gzcodec {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=_Group,
    help="gzcodec: data-specific generative image compression (.gzl files).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """gzcodec: data-specific generative image compression (.gzl files).

    Torch threads: one per process by default (fastest on a busy machine);
    set GZCODEC_THREADS or --threads to change it.
    """




# The commands, in the order the help lists them.
app.command()(encode)
app.command()(decode)
app.command()(info)
app.command()(models)
app.command()(train)


def _register_bench() -> None:
    # Always registered, so that a missing extra is explained instead of the command
    # vanishing; gzcodec.bench.cli imports only typer and light modules (the bench itself is imported
    # when the command runs).
    from .bench.cli import bench

    app.command("bench")(clean_errors(bench))


_register_bench()


def main() -> None:
    """Entry point of the ``gzcodec`` console script."""
    app()


if __name__ == "__main__":
    main()
