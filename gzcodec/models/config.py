"""The model configs and what they share: latent grid, JSON round trip, valid ranges (no torch).

A config is stored as JSON in the weights file; :meth:`ConfigBase.problem`
says why a stored one cannot describe a model, before anything is built
(``gzcodec models`` lists no model that cannot load), and
:func:`config_problem` picks the class by the config's ``kind``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from ..rate import RATE_INDEX_MAX, rate_position

__all__ = ["CONFIG_CLASSES", "MAX_LAMBDA", "MAX_LATENT_RANGE", "MIN_HYPERPRIOR_IMAGE_SIZE", "RATE_INDEX_MAX",
           "STORED_KINDS", "ConfigBase", "ContextModelConfig", "EnhancedModelConfig", "ModelConfig",
           "RealismConfig", "config_class", "config_from_dict", "config_problem", "family_name",
           "rate_position"]

_C = TypeVar("_C", bound="ConfigBase")

#: Largest ``latent_range`` and rate-level lambda a model may declare: far above any
#: trained value (16 and 0.04 for face128), far below where the quantization step
#: or the reversal's loss overflow float32 (a range of 1e308 made every step inf).
MAX_LATENT_RANGE = 1e4
MAX_LAMBDA = 1e3

#: Smallest images a v2 model with a hyperprior takes: a latent grid of 4 x 4.
MIN_HYPERPRIOR_IMAGE_SIZE = 64


def _number(v: object, hi: float) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and 0 < v <= hi)


def _int(v: object, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _sequence(v: object) -> bool:
    return isinstance(v, (list, tuple))


#: Image sizes a model may have: multiples of ``IMAGE_SIZE_STEP`` in ``IMAGE_SIZE_RANGE``.
IMAGE_SIZE_STEP, IMAGE_SIZE_RANGE = 16, (16, 4096)
#: The most context slices a v2 model may code its latent in.
MAX_SLICES = 32


def _image_size(v: object) -> bool:
    return _int(v, *IMAGE_SIZE_RANGE) and v % IMAGE_SIZE_STEP == 0  # type: ignore[operator]


class ConfigBase:
    """Mixin of the frozen config dataclasses: latent shape, ``to_dict``, ``from_dict``.

    Subclasses are dataclasses with ``image_size`` and ``latent_channels``; the
    weights file stores ``to_dict()`` as JSON, where tuples become lists.
    """

    image_size: int
    latent_channels: int

    #: Per key of the stored config: whether a value is in range.
    _CHECKS: ClassVar[dict[str, Callable[[Any], bool]]] = {}
    #: What a value must be, for keys whose rule is more than a range.
    _RULES: ClassVar[dict[str, str]] = {
        "image_size": f"a multiple of {IMAGE_SIZE_STEP} from {IMAGE_SIZE_RANGE[0]} to "
                      f"{IMAGE_SIZE_RANGE[1]}",
    }

    @classmethod
    def problem(cls, data: Mapping[str, Any]) -> str | None:
        """Why a stored config (its JSON object) cannot describe a model of this class, or ``None``.

        Every key must be known and in range; missing ones take the class's
        defaults, and the whole must hold together (:meth:`_joint_problem`).
        """
        for key, value in data.items():
            if key not in cls._CHECKS:
                return f"unknown key {key!r}"
            if not cls._CHECKS[key](value):
                rule = f" (must be {cls._RULES[key]})" if key in cls._RULES else ""
                return f"{key} = {str(value)[:40]}{rule}"
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls._joint_problem({**defaults, **data})

    def validate(self) -> None:
        """Refuse a config that cannot describe a model: the one check of every config.

        A config built in Python (``gzcodec train``'s options, ``train(config=...)``,
        ``ContextModel(config)``) meets the rules a stored one does (:meth:`problem`).

        Raises
        ------
        ValueError
            The config is out of range, saying what is wrong (``"slices do not
            add up to latent_channels"``).

        Examples
        --------
        >>> ContextModelConfig(image_size=40).validate()
        Traceback (most recent call last):
        ...
        ValueError: model config out of range: image_size = 40 (must be a multiple of 16 from 16 to 4096)
        """
        problem = type(self).problem(self.to_dict())
        if problem is not None:
            raise ValueError(f"model config out of range: {problem}")

    @classmethod
    def _joint_problem(cls, config: Mapping[str, Any]) -> str | None:
        """What no single key shows (a complete config, each key in range)."""
        return None

    @property
    def downsampling(self) -> int:
        return 16

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        side = self.image_size // self.downsampling
        return (self.latent_channels, side, side)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
        """The config of ``to_dict()``'s output (lists back to tuples); unknown keys refused."""
        fields = dataclasses.fields(cls)
        unknown = set(data) - {f.name for f in fields}
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        data = dict(data)
        for f in fields:
            if f.name in data and isinstance(data[f.name], list):
                data[f.name] = tuple(data[f.name])
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """Everything needed to rebuild a :class:`~gzcodec.models.FaceModel` (stored in the weights file)."""

    image_size: int = 128
    channels: int = 96
    latent_channels: int = 32
    latent_range: float = 16.0
    level_bits: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    level_lambdas: tuple[float, ...] = (0.0006, 0.0012, 0.0024, 0.0048, 0.0096, 0.0192, 0.0384)
    mixture_components: int = 3
    name: str = "face128"

    _CHECKS: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "image_size": _image_size,
        "channels": lambda v: _int(v, 1, 4096),
        "latent_channels": lambda v: _int(v, 1, 255),
        "latent_range": lambda v: _number(v, MAX_LATENT_RANGE),
        "level_bits": lambda v: (_sequence(v) and len(v) >= 1 and all(_int(b, 2, 16) for b in v)
                                 and list(v) == sorted(set(v))),
        "level_lambdas": lambda v: _sequence(v) and all(_number(x, MAX_LAMBDA) for x in v),
        "mixture_components": lambda v: _int(v, 1, 64),
        "name": lambda v: isinstance(v, str),
    }

    @classmethod
    def _joint_problem(cls, config: Mapping[str, Any]) -> str | None:
        if len(config["level_bits"]) != len(config["level_lambdas"]):
            return "level_bits and level_lambdas differ in length"
        return None

    def step(self, bits: int) -> float:
        """Quantization step for ``bits``-bit symbols: ``latent_range / 2**(bits-1)``."""
        return self.latent_range / 2 ** (bits - 1)

    def level(self, bits: int) -> int:
        """Index of the trained rate level used at ``bits`` precision."""
        usable = [i for i, b in enumerate(self.level_bits) if b <= bits]
        return usable[-1] if usable else 0


@dataclasses.dataclass(frozen=True)
class ContextModelConfig(ConfigBase):
    """Everything needed to rebuild a :class:`~gzcodec.models.context_model.ContextModel`
    (stored in the weights file)."""

    image_size: int = 128
    channels: int = 64
    latent_channels: int = 96
    # A mean-scale hyperprior with position won the entropy-model comparison at equal
    # steps (results/entropy-models.md): one slice, every channel predicted from z.
    slices: tuple[int, ...] = (96,)
    context_hidden: int = 128
    position_channels: int = 8
    hyper_channels: int = 32
    hyper_hidden: int = 96
    # Nine levels, lambda x2.4 apart: from ~100 bytes a face to ~1.2 KB.
    level_lambdas: tuple[float, ...] = (0.000026, 0.000062, 0.00015, 0.00036, 0.00086, 0.00207,
                                        0.0050, 0.0119, 0.0287)
    name: str = "face-v2"
    kind: str = "context"
    # Residual blocks of the transforms (face128-v3), per grid from 64 x 64 to 8 x 8 (encoder)
    # and from 8 x 8 to 64 x 64 (generator); none in face128-v2.
    encoder_blocks: tuple[int, ...] = (0, 0, 0, 0)
    generator_blocks: tuple[int, ...] = (0, 0, 0, 0)

    _CHECKS: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "image_size": _image_size,
        "channels": lambda v: _int(v, 1, 4096),
        "latent_channels": lambda v: _int(v, 1, 255),
        "slices": lambda v: (_sequence(v) and 1 <= len(v) <= MAX_SLICES
                             and all(_int(w, 1, 255) for w in v)),
        "context_hidden": lambda v: _int(v, 1, 4096),
        "position_channels": lambda v: _int(v, 0, 256),
        "hyper_channels": lambda v: _int(v, 0, 255),
        "hyper_hidden": lambda v: _int(v, 1, 4096),
        "level_lambdas": lambda v: (_sequence(v) and 2 <= len(v) <= 64
                                    and all(_number(x, MAX_LAMBDA) for x in v)),
        "name": lambda v: isinstance(v, str),
        "kind": lambda v: v == "context",
        "encoder_blocks": lambda v: _sequence(v) and len(v) == 4 and all(_int(b, 0, 8) for b in v),
        "generator_blocks": lambda v: _sequence(v) and len(v) == 4 and all(_int(b, 0, 8) for b in v),
    }
    _RULES: ClassVar[dict[str, str]] = {
        **ConfigBase._RULES,
        "slices": f"1 to {MAX_SLICES} channel counts, each 1..255, adding up to latent_channels",
    }

    @classmethod
    def _joint_problem(cls, config: Mapping[str, Any]) -> str | None:
        if sum(config["slices"]) != config["latent_channels"]:
            return (f"slices do not add up to latent_channels ({' + '.join(map(str, config['slices']))}"
                    f" = {sum(config['slices'])}, not {config['latent_channels']})")
        if config["hyper_channels"] and config["image_size"] < MIN_HYPERPRIOR_IMAGE_SIZE:
            return f"a hyperprior needs images of at least {MIN_HYPERPRIOR_IMAGE_SIZE} pixels"
        return None

    @classmethod
    def default_hyper_channels(cls, image_size: int) -> int:
        """The hyperprior channels of a model of ``image_size`` pixels when none are asked for.

        Parameters
        ----------
        image_size : int
            Side of the model's images, in pixels.

        Returns
        -------
        int
            The class's default ``hyper_channels``, or 0 (no hyperprior) below
            :data:`MIN_HYPERPRIOR_IMAGE_SIZE`, where a hyperprior cannot be.

        Examples
        --------
        >>> ContextModelConfig.default_hyper_channels(128), ContextModelConfig.default_hyper_channels(32)
        (32, 0)
        """
        if image_size < MIN_HYPERPRIOR_IMAGE_SIZE:
            return 0
        return cls.hyper_channels  # the dataclass field's default

    @property
    def levels(self) -> int:
        return len(self.level_lambdas)


@dataclasses.dataclass(frozen=True)
class EnhancedModelConfig(ContextModelConfig):
    """A :class:`ContextModelConfig` with an enhancement latent and a wider generator (``face128-v3``
    candidates; :class:`~gzcodec.models.enhancement.EnhancedModel`).

    The base model is a hyperprior-context model as above. On top of it: a
    second, finer latent of ``enhancement_channels`` at twice the base grid
    (16 x 16 for 128-px images), coded after the base latent at the rate
    levels from ``enhancement_level`` up (none below: the low rates keep the
    base model's bytes and speed), and a generator whose 16- and 32-px stages
    may be wider than ``channels`` (``generator_widths``; 0 keeps ``channels``).

    Examples
    --------
    >>> EnhancedModelConfig().enhancement_shape
    (48, 16, 16)
    >>> EnhancedModelConfig(generator_widths=(96, 0)).widths
    (96, 64)
    """

    name: str = "face-v3"
    kind: str = "enhanced"
    # 13 levels: face128-v2's ten and three above (as face128-v3's arm C).
    level_lambdas: tuple[float, ...] = (0.000026, 0.000062, 0.00015, 0.00036, 0.00086, 0.00207,
                                        0.0050, 0.0119, 0.0287, 0.0692, 0.167, 0.403, 0.971)
    #: Channels of the enhancement latent (0: none, only the generator's widths differ).
    enhancement_channels: int = 48
    #: The lowest rate level that codes the enhancement latent (level 7: ~0.7 KB a face for
    #: arm C; below it a file holds the base latent alone).
    enhancement_level: int = 7
    #: Width of the enhancement's entropy model and of its encoder branch.
    enhancement_hidden: int = 64
    #: Whether the enhancement latent is coded in two checkerboard halves, the second
    #: predicted from the first too (He et al. 2021), or in one pass from the base alone.
    enhancement_checkerboard: bool = True
    #: Channels of the generator's 16- and 32-px stages (0: ``channels``).
    generator_widths: tuple[int, ...] = (0, 0)

    _CHECKS: ClassVar[dict[str, Callable[[Any], bool]]] = {
        **ContextModelConfig._CHECKS,
        "kind": lambda v: v == "enhanced",
        "enhancement_channels": lambda v: _int(v, 0, 255),
        "enhancement_level": lambda v: _int(v, 0, 63),
        "enhancement_hidden": lambda v: _int(v, 1, 4096),
        "enhancement_checkerboard": lambda v: isinstance(v, bool),
        "generator_widths": lambda v: _sequence(v) and len(v) == 2 and all(_int(w, 0, 4096) for w in v),
    }

    @classmethod
    def _joint_problem(cls, config: Mapping[str, Any]) -> str | None:
        problem = super()._joint_problem(config)
        if problem is None and config["enhancement_level"] >= len(config["level_lambdas"]):
            problem = (f"enhancement_level {config['enhancement_level']} is not one of the "
                       f"{len(config['level_lambdas'])} rate levels")
        return problem

    @property
    def enhancement_shape(self) -> tuple[int, int, int]:
        """``(channels, side, side)`` of the enhancement latent: twice the base latent's grid."""
        side = 2 * self.latent_shape[1]
        return (self.enhancement_channels, side, side)

    @property
    def widths(self) -> tuple[int, int]:
        """The generator's channels at its 16- and 32-px stages."""
        a, b = self.generator_widths
        return (a or self.channels, b or self.channels)


#: The family each ``kind`` stored in a config names. Configs written before families had
#: names store ``"context"`` (``face128-v2``) or no kind (``face128``); those weights files
#: are hashed into their models' ids, so their configs are read as they are, never rewritten.
STORED_KINDS: dict[str | None, str] = {None: "factorized", "context": "hyperprior-context"}
# Kinds named since ("enhanced") are their family's name.


def family_name(config: Mapping[str, Any]) -> str:
    """The name of the model family a stored config (its JSON object) belongs to, by its ``kind``.

    Examples
    --------
    >>> family_name({"kind": "context"}), family_name({"image_size": 128})
    ('hyperprior-context', 'factorized')
    """
    kind = config.get("kind")
    return STORED_KINDS.get(kind, str(kind))


#: The config class of each family whose configs this package reads.
CONFIG_CLASSES: dict[str, type[ModelConfig] | type[ContextModelConfig]] = {}


def config_class(config: Mapping[str, Any]) -> type[ModelConfig] | type[ContextModelConfig]:
    """The class of a stored model config (its JSON object), by its family (:func:`family_name`).

    A ``hyperprior-context`` model's :class:`ContextModelConfig`, a ``factorized``
    model's :class:`ModelConfig` (also for an unknown kind, which it then refuses).
    """
    return CONFIG_CLASSES.get(family_name(config), ModelConfig)


CONFIG_CLASSES.update({"factorized": ModelConfig, "hyperprior-context": ContextModelConfig,
                       "enhanced": EnhancedModelConfig})


def config_from_dict(config: Mapping[str, Any]) -> ModelConfig | ContextModelConfig:
    """The typed config of a stored one, of the class its ``kind`` names (:func:`config_class`)."""
    return config_class(config).from_dict(dict(config))


def config_problem(config: Mapping[str, Any]) -> str | None:
    """Why a stored model config cannot be right, or ``None``: by its ``kind``, a
    :class:`ContextModelConfig`'s or a :class:`ModelConfig`'s :meth:`~ConfigBase.problem`."""
    return config_class(config).problem(config)


@dataclasses.dataclass(frozen=True)
class RealismConfig:
    """Everything needed to rebuild a realism decoder (:class:`~gzcodec.models.realism.RealismGenerator`).

    The decoder is a copy of its base model's generator, so the shape keys
    (``channels``, ``latent_channels``, ``generator_blocks``) are the base
    model's; ``beta_hidden`` is the width of the small network that turns the
    realism weight β into per-channel scales and shifts, and ``noise`` whether
    each stage adds β-scaled noise (seeded by the file's latent: the same file
    and β always give the same image). Stored as JSON in the realism weights
    file (:mod:`gzcodec.zoo.realism_file`).

    Examples
    --------
    >>> RealismConfig.problem({"channels": 64, "latent_channels": 96, "beta_hidden": 0})
    'beta_hidden = 0'
    >>> RealismConfig.for_base(ContextModelConfig()).generator_blocks
    (0, 0, 0, 0)
    """

    channels: int = 64
    latent_channels: int = 96
    generator_blocks: tuple[int, ...] = (0, 0, 0, 0)
    beta_hidden: int = 64
    noise: bool = True
    kind: str = "realism"

    _CHECKS: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "channels": lambda v: _int(v, 1, 4096),
        "latent_channels": lambda v: _int(v, 1, 255),
        "generator_blocks": lambda v: _sequence(v) and len(v) == 4 and all(_int(b, 0, 8) for b in v),
        "beta_hidden": lambda v: _int(v, 1, 1024),
        "noise": lambda v: isinstance(v, bool),
        "kind": lambda v: v == "realism",
    }

    @classmethod
    def problem(cls, data: Mapping[str, Any]) -> str | None:
        """Why a stored realism config (its JSON object) cannot describe a decoder, or ``None``."""
        for key, value in data.items():
            if key not in cls._CHECKS:
                return f"unknown key {key!r}"
            if not cls._CHECKS[key](value):
                return f"{key} = {str(value)[:40]}"
        return None

    @classmethod
    def for_base(cls, base: ContextModelConfig, **options: Any) -> RealismConfig:
        """The config of a realism decoder for a model of config ``base`` (its generator's shape)."""
        return cls(channels=base.channels, latent_channels=base.latent_channels,
                   generator_blocks=tuple(base.generator_blocks), **options)

    def fits(self, base: ContextModelConfig) -> bool:
        """Whether this decoder's layers are those of ``base``'s generator."""
        return (self.channels, self.latent_channels, tuple(self.generator_blocks)) == (
            base.channels, base.latent_channels, tuple(base.generator_blocks))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RealismConfig:
        """The config of ``to_dict()``'s output (lists back to tuples); checked, unknown keys refused."""
        problem = cls.problem(data)
        if problem is not None:
            raise ValueError(f"realism config out of range: {problem}")
        data = dict(data)
        if "generator_blocks" in data:
            data["generator_blocks"] = tuple(data["generator_blocks"])
        return cls(**data)
