"""Writing output files so that a reader never sees half of one.

Every file gzcodec writes goes to a temporary name in the target folder first
and is then renamed over the target, which POSIX and Windows do atomically.
Without ``force`` the final step is a hard link (or an exclusive create), so
an output that appeared meanwhile is never overwritten either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import OutputExistsError

__all__ = ["write_atomic"]


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask (mkstemp makes 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; refuse to replace it unless ``force``.

    Raises :class:`OutputExistsError` if ``path`` exists and ``force`` is false.
    """
    target = Path(path)
    if not force and target.exists():
        raise OutputExistsError(f"{target} exists (use --force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _file_mode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise OutputExistsError(f"{target} exists (use --force to overwrite)") from None
            except OSError:  # file systems without hard links
                if target.exists():
                    raise OutputExistsError(
                        f"{target} exists (use --force to overwrite)") from None
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target
