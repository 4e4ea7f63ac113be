"""A persistent, content-addressed cache of the bench's encodes, classic and gzcodec's.

The classic half of the bench does not depend on gzcodec's model, and AVIF at
``speed=0`` makes it slow, so its encodes are kept on disk and replayed by the
next run: the bisection asks for the same settings and gets the same bytes
with no encoder call. gzcodec's ladder (:mod:`gzcodec.bench.neural_run`) is
kept the same way, each batch's files as soon as the batch is done, so a
bench of hours that is killed picks up where it stopped when run again with
the same cache. Decoding and the metrics are still computed each run.

Layout: one JSON file per (image, codec variant and its settings)::

    <folder>/<image sha256>/<codec name>-<settings sha256[:16]>.json
    {"format": 1, "codec": "avif@0.5", "settings": "...",
     "trials": {"<param>": {"data": "<base64>", "seconds": <encode time>}}}

The image key is the sha256 of its RGB pixel bytes (the 128x128 uint8 array
the bench measures); the settings are :func:`settings_of` the codec: its
``cache_settings`` where it has one (gzcodec's: the package version, a hash of
the encoder's source, the model's id and the encode options, not the ladder,
so a rerun with more or fewer settings reuses those they share), else its
``description`` (which, for a classic codec, names its fixed options: method,
speed, effort, optimize, scale...), so changing an option changes the key. The
codec's name is its ``cache_name`` where it has one (gzcodec's is
``"gzcodec"``, whatever its key in the run), else its ``name``. Files are
written atomically (:func:`gzcodec.fileio.write_atomic`); one that cannot be
read or does not match is treated as empty and overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from ..fileio import user_cache_folder, write_atomic
from .interface import Codec, Trial

__all__ = ["FORMAT", "DiskEntry", "default_cache_dir", "image_key", "name_of", "settings_of"]

FORMAT = 1
"""Version of the file layout; bumping it invalidates every cached file."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gzcodec/bench``, else ``~/.cache/gzcodec/bench``."""
    return user_cache_folder() / "bench"


def image_key(pixels: np.ndarray) -> str:
    """sha256 (hex) of an image's uint8 RGB pixel bytes."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def settings_of(codec: Codec) -> str:
    """The codec's fixed settings: its ``cache_settings`` if it has them, else its ``description``."""
    return str(getattr(codec, "cache_settings", None) or codec.description)


def name_of(codec: Codec) -> str:
    """The codec's name in the cache: its ``cache_name`` if it has one, else its ``name``."""
    return str(getattr(codec, "cache_name", None) or codec.name)


class DiskEntry:
    """The cached encodes of one image by one codec variant.

    Parameters
    ----------
    folder : path
        The cache folder.
    image_hash : str
        :func:`image_key` of the image.
    codec : Codec
        The codec variant; its :func:`name_of` and :func:`settings_of` are part of the key.
    """

    def __init__(self, folder: str | os.PathLike[str], image_hash: str, codec: Codec) -> None:
        self.codec_name = name_of(codec)
        self.settings = settings_of(codec)
        digest = hashlib.sha256(f"{self.codec_name}\n{self.settings}".encode()).hexdigest()[:16]
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", self.codec_name)
        self.path = Path(folder) / image_hash / f"{safe}-{digest}.json"
        self.trials: dict[int, Trial] = self._load()

    def _load(self) -> dict[int, Trial]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if (
                doc.get("format") != FORMAT
                or doc.get("codec") != self.codec_name
                or doc.get("settings") != self.settings
            ):
                return {}
            return {
                int(p): Trial(int(p), base64.b64decode(v["data"], validate=True), float(v["seconds"]))
                for p, v in doc["trials"].items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # missing, unreadable or corrupt: start afresh (overwritten on the next put)

    def get(self, param: int) -> Trial | None:
        """The cached trial at ``param``, or ``None``."""
        return self.trials.get(param)

    def put(self, trial: Trial) -> None:
        """Record a new trial and rewrite the file atomically."""
        self.trials[trial.param] = trial
        doc = {
            "format": FORMAT,
            "codec": self.codec_name,
            "settings": self.settings,
            "trials": {
                str(p): {"data": base64.b64encode(t.data).decode("ascii"), "seconds": t.encode_s}
                for p, t in sorted(self.trials.items())
            },
        }
        write_atomic(self.path, json.dumps(doc, separators=(",", ":")).encode(), force=True)
