"""Where the registry looks for models and their realism decoders (no torch).

In order of precedence: each folder of ``GZCODEC_MODEL_PATH``
(``os.pathsep``-separated), the user cache folder
(``$XDG_CACHE_HOME/gzcodec/models``, by default ``~/.cache/gzcodec/models``)
and the models bundled in this package (:data:`BUNDLED_DIR`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fileio import user_cache_folder

__all__ = ["BUNDLED_DIR", "search_folders"]

#: The models bundled in this package.
BUNDLED_DIR = Path(__file__).parent / "weights"


def search_folders() -> list[Path]:
    """Folders searched for models, in order of precedence."""
    folders = [Path(p) for p in os.environ.get("GZCODEC_MODEL_PATH", "").split(os.pathsep) if p]
    folders.append(user_cache_folder() / "models")
    folders.append(BUNDLED_DIR)
    return folders
