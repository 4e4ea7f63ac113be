"""Stored classic-codec results: one small file per image, meant to be kept.

The classic half of the bench is the same for every gzcodec model and costs
~50 s an image on one core (AVIF at ``speed=0``), so a bench of a few hundred
images outlasts a working session, and the encode cache
(:mod:`gzcodec.bench.diskcache`) holds the files themselves: derived images
that may not be redistributed with the project (CelebA's terms). What the
report needs of the classic codecs is only their measurements, so
``gzcodec bench --classic-store DIR`` keeps, per image, the
:class:`~gzcodec.bench.classic_run.ClassicResult` of
:func:`~gzcodec.bench.classic_run.run_classic_job` (the poster's fixed
settings, every family's pick at every budget, the smallest files): sizes,
settings and distortions, never pixels or bytes of a file. Such a folder can
be committed beside a report, filled over several sessions, and a later run,
another model's included, replays it and encodes no classic file at all.

Layout, one zstd-compressed JSON file per image::

    <folder>/<settings key>/<image sha256>.json.zst
    {"format": 1, "key": "...", "image": "000351.jpg", "fixed": {...},
     "matched": [[<target bpp>, {<family>: <pick>}], ...], "smallest": {...},
     "encoder_calls": <encodes it took>}

The settings key hashes everything the result depends on besides the image:
the targets, the poster's fixed settings and every codec variant's name,
description (its options) and settings ladder, so a change to any of them
starts a new subfolder instead of replaying stale figures. A file that cannot
be read, or that names another image, is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import zstandard

from ..fileio import write_atomic
from .interface import Codec
from .measurements import Measurement, Pick

__all__ = ["FORMAT", "ClassicStore", "StoredResult", "settings_key"]

FORMAT = 1
"""Version of the file layout; bumping it invalidates every stored file."""


class StoredResult(NamedTuple):
    """What the store keeps of one image's classic result (no files, no grid)."""

    fixed: dict[str, Measurement]  # by "<codec> <param name>=<value>"
    matched: dict[float, dict[str, Pick]]  # target -> family -> pick
    smallest: dict[str, int]  # family -> smallest file, bytes
    encoder_calls: int  # encodes the search took when it was made


def settings_key(codecs: Sequence[Codec], targets: Sequence[float], fixed: Sequence[tuple[str, int]]) -> str:
    """Hex digest of what a classic result depends on besides its image.

    Examples
    --------
    >>> from gzcodec.bench.classic import WebpCodec
    >>> a = settings_key([WebpCodec()], [0.1, 0.2], [("jpeg", 1)])
    >>> a == settings_key([WebpCodec()], [0.1, 0.3], [("jpeg", 1)])
    False
    """
    doc = {
        "format": FORMAT,
        "targets": [repr(float(t)) for t in targets],
        "fixed": [list(f) for f in fixed],
        "codecs": [[c.name, c.family, str(c.description), list(c.param_values)] for c in codecs],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class ClassicStore:
    """The stored classic results of one set of codec settings.

    Parameters
    ----------
    folder : path
        The store's folder (``--classic-store``).
    key : str
        :func:`settings_key` of the codecs, targets and fixed settings.
    """

    def __init__(self, folder: str | os.PathLike[str], key: str) -> None:
        self.key = key
        self.folder = Path(folder) / key[:16]

    def _path(self, image_hash: str) -> Path:
        return self.folder / f"{image_hash}.json.zst"

    def load(self, image_hash: str, name: str) -> StoredResult | None:
        """The stored result of an image, or ``None`` when there is none (or it cannot be trusted)."""
        try:
            raw = zstandard.ZstdDecompressor().decompress(self._path(image_hash).read_bytes())
            doc = json.loads(raw)
            if doc.get("format") != FORMAT or doc.get("key") != self.key or doc.get("image") != name:
                return None
            return StoredResult(
                fixed={k: Measurement.from_json(v) for k, v in doc["fixed"].items()},
                matched={
                    float(t): {family: Pick.from_json(p) for family, p in picks.items()}
                    for t, picks in doc["matched"]
                },
                smallest={family: int(b) for family, b in doc["smallest"].items()},
                encoder_calls=int(doc["encoder_calls"]),
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError, zstandard.ZstdError):
            return None  # missing, unreadable or corrupt: computed afresh and rewritten

    def save(self, image_hash: str, name: str, result: StoredResult) -> None:
        """Write one image's result atomically (replacing any older file)."""
        doc = {
            "format": FORMAT,
            "key": self.key,
            "image": name,
            "fixed": {k: m.to_json() for k, m in result.fixed.items()},
            "matched": [
                [t, {f: p.to_json() for f, p in picks.items()}] for t, picks in result.matched.items()
            ],
            "smallest": result.smallest,
            "encoder_calls": result.encoder_calls,
        }
        raw = json.dumps(doc, separators=(",", ":")).encode()
        write_atomic(self._path(image_hash), zstandard.ZstdCompressor(level=19).compress(raw), force=True)
