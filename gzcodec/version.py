"""The installed package's version (``gzcodec.__version__``), without importing the rest."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("gzcodec")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"
