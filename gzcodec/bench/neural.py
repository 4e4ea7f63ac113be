"""gzcodec itself as one more codec of the bench.

:class:`GzcodecCodec` wraps a loaded model behind the same interface as the
classic codecs (:class:`gzcodec.bench.interface.Codec`); its setting is
``--bits`` and its ladder is the model's trained levels (for a v2 model, the
rate index on a ladder of 33 of its 256 values, or the rate indices of the
``--bits`` given). It also offers
``encode_batch``, because the reversal is much faster on a batch, and
``info()`` for the report (model id, weights size): it is a
:class:`~gzcodec.bench.interface.NeuralCodec`. Its ``cache_name`` and
``cache_settings`` key its files in the bench's encode cache
(:mod:`gzcodec.bench.diskcache`) by what makes their bytes (the package
version and the encoder's source, the model's id, the encode options), not by
the ladder or its key in the run, so a rerun with more or fewer settings, or
beside another model, reuses the files it shares with an earlier one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..version import __version__
from .records import ModelEntry

if TYPE_CHECKING:
    from ..options import EncodeOptions

__all__ = ["GzcodecCodec", "gzcodec_codecs"]

#: The modules whose code makes a ``.gzl`` file's bytes (package-relative globs):
#: their source is part of the cache key, since the version does not change
#: between releases while the encoder does.
_ENCODER_SOURCES = ("codec.py", "reversal.py", "refinement.py", "search.py", "entropy.py", "rate.py",
                    "options.py", "payload.py", "losses.py", "network.py", "families/*.py",
                    "models/*.py", "container/*.py")

#: Options that choose the rate: the bench's setting, not the codec's.
_RATE_OPTIONS = ("bits", "rate", "max_bytes", "target_ssim")


class GzcodecCodec:
    """A gzcodec model as a bench codec.

    Parameters
    ----------
    model : str, path or None
        Model id, name or weights path, as ``gzcodec.load_model`` takes;
        ``None`` for the default model.
    bits : sequence of int, optional
        Settings to measure; the model's trained ``level_bits`` by default.
    name : str, optional
        Key in the results; ``"gzcodec"`` by default. Give each model its own
        when benchmarking several.
    options : EncodeOptions, optional
        The other encode options (effort, steps, loss, seed...); the defaults
        if not given. The rate is the bench's: ``bits``, ``rate``,
        ``max_bytes`` and ``target_ssim`` must be unset.
    """

    scale = 1.0
    param_name = "bits"
    cache_name = "gzcodec"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        bits: Sequence[int] | None = None,
        name: str | None = None,
        options: EncodeOptions | None = None,
    ) -> None:
        from .. import codec  # late: the classic half of the bench works without a model
        from ..options import EncodeOptions
        from ..zoo import load_model

        self._codec = codec
        self.options = options or EncodeOptions()
        if any(getattr(self.options, o) is not None for o in _RATE_OPTIONS):
            raise ValueError(f"the bench sets the rate: give options without {', '.join(_RATE_OPTIONS)}")
        self.model = load_model(model)
        if self.model.is_context:
            from ..rate import bits_to_rate

            # The continuous rate: every 8th rate index and the top one.
            self.param_name = "rate"
            levels = self.model.config.levels
            ladder = ([bits_to_rate(int(b), levels=levels) for b in bits] if bits
                      else [*range(0, 256, 8), 255])
        else:
            ladder = bits if bits else self.model.config.level_bits
        self.param_values: tuple[int, ...] = tuple(sorted({int(b) for b in ladder}))
        self.name = name or "gzcodec"
        self.family = self.name
        self.label = self.name
        changed = _changed_options(self.options)
        self.description = (
            f"gzcodec model {self.model.config.name} (id {self.model.id}), "
            f"--{self.param_name} {', '.join(map(str, self.param_values))}"
            + "".join(f", {option}" for option in changed)
        )

    @property
    def cache_settings(self) -> str:
        """What the files depend on besides the image and the setting: the key of their disk cache.

        The package version and a hash of the encoder's source (a change
        that may alter the encoder's output is another key), the model's id
        (a hash of its weights file), what the setting is, and every other
        encode option; not the ladder.
        """
        return (f"gzcodec {__version__} (encoder source {_encoder_fingerprint()}), "
                f"model {self.model.config.name} (id {self.model.id}), "
                f"--{self.param_name}, {self.options!r}")

    def _options(self, param: int) -> EncodeOptions:
        """The encode options of setting ``param``: ``rate`` for a v2 model, else ``bits``."""
        return dataclasses.replace(self.options, **{self.param_name: int(param)})

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        """``.gzl`` file of ``image`` at setting ``param`` (bits, or a v2 model's rate index)."""
        return self._codec.encode(image, model=self.model, options=self._options(param))

    def encode_batch(self, images: list[Image.Image], *, param: int) -> list[bytes]:
        """``.gzl`` files of ``images`` at setting ``param``, ``face128``'s reversed as one batch."""
        return self._codec.encode_batch(images, model=self.model, options=self._options(param))

    def decode(self, data: bytes) -> Image.Image:
        """RGB image of a ``.gzl`` file, decoded with this model."""
        return self._codec.decode(data, model=self.model).convert("RGB")

    def info(self) -> ModelEntry:
        """Model id, name, weights path and size in bytes, the settings measured."""
        path = self.model.path
        return ModelEntry(
            id=self.model.id,
            name=self.model.config.name,
            path=str(path),
            weights_bytes=path.stat().st_size,
            ladder_key=f"{self.param_name}_ladder",
            ladder=tuple(self.param_values),
        )


@functools.cache
def _encoder_fingerprint() -> str:
    """sha256 (16 hex digits) of the source of the modules in :data:`_ENCODER_SOURCES`."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted({p for pattern in _ENCODER_SOURCES for p in root.glob(pattern)}):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _changed_options(options: EncodeOptions) -> list[str]:
    """``options``' fields that are not their defaults, as ``name=value``."""
    defaults = type(options)()
    return [f"{f.name}={getattr(options, f.name)}" for f in dataclasses.fields(options)
            if getattr(options, f.name) != getattr(defaults, f.name)]


def gzcodec_codecs(models: Sequence[str] | None = None, *,
                   bits: Sequence[int] | None = None) -> list[GzcodecCodec]:
    """The gzcodec codecs a bench measures: one per model, each under a key of its own.

    What :func:`gzcodec.bench.run_bench` measures unless given ``neural_codecs``.

    Parameters
    ----------
    models : sequence of str, optional
        Model ids, names or weights paths; the default model alone if empty.
    bits : sequence of int, optional
        Settings to measure (see :class:`GzcodecCodec`).

    Returns
    -------
    list of GzcodecCodec
        One model: keyed ``"gzcodec"``. Several: ``"gzcodec[NAME]"`` by
        model name, or by the first 8 hex digits of the id where names clash.
    """
    specs: list[str | None] = list(models) if models else [None]
    codecs = [GzcodecCodec(spec, bits=bits) for spec in specs]
    if len(codecs) > 1:
        # Each its own key: the model's name, or its id where two share a name.
        names = [codec.model.info.name for codec in codecs]
        for codec, name in zip(codecs, names, strict=True):
            key = name if names.count(name) == 1 else codec.model.id[:8]
            codec.name = codec.family = codec.label = f"gzcodec[{key}]"
    return codecs
