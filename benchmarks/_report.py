"""What the benchmark scripts share to report: the command and the machine that made a table,
and the table printed, and kept in ``--out`` if given."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from pathlib import Path


def command_line(script: str, *, runner: str = "python") -> str:
    """The report's first line: the command that made it, ``script`` with this run's arguments.

    ``script`` is the benchmark's ``__file__``; ``runner`` what ran it (``"nice -n 19 python"``).
    """
    return (f"Command: `{runner} benchmarks/{Path(script).name} "
            + " ".join(shlex.quote(a) for a in sys.argv[1:]) + "`")


def machine() -> str:
    """The machine a report's figures were measured on: its processor and how many CPUs it has."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def emit(text: str, out: Path | None) -> None:
    """Print ``text``; also write it to ``out`` (its folder made) when one is given."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
