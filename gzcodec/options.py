"""How to encode, the model apart: :class:`EncodeOptions` and the defaults it falls back on (no torch).

The plugin, the command line and the cluster driver check a user's options
before any model is loaded, so everything here is plain Python. What depends
on the model (its default ``bits``, whether it takes ``rate`` and ``effort``)
is its family's to say: :func:`gzcodec.families.family_of` ``(model)`` has
``check_options``, ``refinement_steps`` and ``expected_rate``.

Examples
--------
>>> EncodeOptions(max_bytes=441).targeted
True
>>> EncodeOptions(coding="zstd").coding
<Coding.ZSTD: 1>
>>> EncodeOptions(rate=999)
Traceback (most recent call last):
...
ValueError: rate must be a whole number 0..255, not 999
"""

from __future__ import annotations

import dataclasses
import math
import string
from collections.abc import Callable

import numpy as np

from .container import FORMAT_VERSION, Coding
from .losses import LOSS_NAMES
from .rate import RATE_INDEX_MAX, RateRequest, bits_to_rate
from .refinement import DEFAULT_EFFORT, DEFAULT_STEPS, EFFORTS

__all__ = ["BITS_LADDER", "DEFAULT_BATCH_SIZE", "DEFAULT_BITS", "DEFAULT_EFFORT", "DEFAULT_STEPS",
           "EFFORTS", "FACE128_DEFAULT_BITS", "LOSS_NAMES", "RATE_INDEX_MAX", "EncodeOptions",
           "OptionError", "RateRequest", "bits_to_rate", "cli_message", "cli_name"]

#: Default quality of hyperprior-context models, the default ``face128-v2`` included, when
#: neither ``bits`` nor ``rate`` is given: rate index 128 of 255, a few hundred bytes a face
#: (the model card has the figures).
DEFAULT_BITS = 5
#: ``face128``'s default (a factorized model), the one it always had (its latent precision:
#: about 600 bytes).
FACE128_DEFAULT_BITS = 4
#: Images :func:`gzcodec.encode_batch` runs through the model at once.
DEFAULT_BATCH_SIZE = 16
#: The ``bits`` settings that ``max_bytes``/``target_ssim`` choose among.
BITS_LADDER = tuple(range(2, 9))


class OptionError(ValueError):
    """A bad option, or two that exclude each other: a ``ValueError`` whose message can name them
    as the caller does.

    The message is a :class:`string.Template` in which ``$max_bytes`` stands for
    an option: ``str(error)`` names it as Python does (``max_bytes``),
    :func:`cli_message` as ``gzcodec encode`` does (``--max-bytes``).

    Examples
    --------
    >>> error = OptionError("give $bits or $max_bytes, not both")
    >>> str(error), cli_message(error)
    ('give bits or max_bytes, not both', 'give --bits or --max-bytes, not both')
    """

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(self.worded(str))

    def worded(self, name: Callable[[str], str]) -> str:
        """The message, each ``$option`` written as ``name(option)``."""
        return string.Template(self.template).safe_substitute(_Names(name))


class _Names(dict):
    """Every option's name, as a function writes it (what :class:`string.Template` looks up)."""

    def __init__(self, name: Callable[[str], str]) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, option: str) -> str:
        return self.name(option)


def cli_name(option: str) -> str:
    """The command line's name of an option: ``max_bytes`` is ``--max-bytes``."""
    return "--" + option.replace("_", "-")


def cli_message(error: BaseException) -> str:
    """``error``'s message for the command line: the one place options are named as its flags.

    An :class:`OptionError` names each option as :func:`cli_name` writes it;
    any other error is its own message.

    Examples
    --------
    >>> cli_message(OptionError("$target_ssim must be in (0, 1], not 2"))
    '--target-ssim must be in (0, 1], not 2'
    """
    return error.worded(cli_name) if isinstance(error, OptionError) else str(error)


def _shown(value: object) -> str:
    """``repr(value)`` for a message template (a ``$`` in it is not an option)."""
    return repr(value).replace("$", "$$")


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _real(value: object) -> bool:
    """A finite real number, Python's or a numpy scalar (not a bool)."""
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            and math.isfinite(value))


#: Per option that may be left out (``None``): whether a given value is in range, and the
#: rule its error message states.
_RANGES: dict[str, tuple[Callable[[object], bool], str]] = {
    "rate": (lambda v: _whole(v) and 0 <= int(v) <= RATE_INDEX_MAX,
             f"$rate must be a whole number 0..{RATE_INDEX_MAX}"),
    "bits": (lambda v: _whole(v) and 2 <= int(v) <= 16, "$bits must be 2..16"),
    "steps": (lambda v: _whole(v) and int(v) >= 0, "$steps must be a whole number >= 0"),
    "max_bytes": (lambda v: _whole(v) and int(v) >= 1, "$max_bytes must be a whole number >= 1"),
    "target_ssim": (lambda v: _real(v) and 0 < v <= 1, "$target_ssim must be in (0, 1]"),
    # torch seeds with 64 bits, wrapping -1 to 2**64 - 1: one range that means one file.
    "seed": (lambda v: _whole(v) and 0 <= int(v) < 2**63, f"$seed must be a whole number 0..{2**63 - 1}"),
    "rate_weight": (lambda v: _real(v) and v >= 0, "$rate_weight must be a finite number >= 0"),
    "batch_size": (lambda v: _whole(v) and int(v) >= 1, "$batch_size must be a whole number >= 1"),
}
#: Options of :data:`_RANGES` that cannot be left out.
_REQUIRED = frozenset({"seed", "rate_weight", "batch_size"})
#: Options that exclude each other, each pair with its message.
#: ``bits`` and ``rate`` are the same setting (a rate index, coarse or fine), and ``max_bytes``
#: and ``target_ssim`` choose it: any two of them would leave one silently unused.
_QUALITY = "give $bits, $rate, $max_bytes or $target_ssim, not two of them"
_EXCLUSIVE = (
    (("max_bytes", "target_ssim"), "give $max_bytes or $target_ssim, not both"),
    (("bits", "rate"), _QUALITY),
    (("bits", "max_bytes"), _QUALITY),
    (("bits", "target_ssim"), _QUALITY),
    (("rate", "max_bytes"), _QUALITY),
    (("rate", "target_ssim"), _QUALITY),
    (("steps", "effort"), "give $steps or $effort, not both"),
)


def _choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise OptionError(f"unknown ${name} {_shown(value)}; choose from {', '.join(choices)}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncodeOptions:
    """How to encode images, the model apart: every option of :func:`gzcodec.encode_batch`, typed.

    The one home of the encoder's options: :func:`gzcodec.encode`,
    :func:`gzcodec.encode_batch`, ``gzcodec encode`` and
    :func:`gzcodec.cluster.encode_dataset` all take one (the functions also
    take its fields as keywords and build it from them). Values are checked
    when it is made, so an ``EncodeOptions`` that exists is a valid one; what
    depends on the model is checked by the model's family
    (``family_of(model).check_options(options)``).

    Parameters
    ----------
    bits, rate, max_bytes, target_ssim, effort, steps, loss, seed, rate_weight, coding, format_version
        As for :func:`gzcodec.encode`. ``coding`` may be given by name
        (``"zstd"``); it is kept as a :class:`~gzcodec.container.Coding`.
    batch_size : int
        Images a ``face128`` encode runs through the model at once (see
        :func:`gzcodec.encode_batch`).

    Raises
    ------
    OptionError
        A value out of its range (``rate=999``, ``effort="bogus"``), or two
        options that exclude each other (any two of ``bits``, ``rate``,
        ``max_bytes`` and ``target_ssim``; ``steps`` and ``effort``). A
        ``ValueError``.

    Examples
    --------
    >>> options = EncodeOptions(max_bytes=441)
    >>> data = gzcodec.encode("examples/face.png", options=options)     # doctest: +SKIP
    """

    bits: int | None = None
    rate: int | None = None
    max_bytes: int | None = None
    target_ssim: float | None = None
    effort: str | None = None
    steps: int | None = None
    loss: str = "mse"
    seed: int = 0
    rate_weight: float = 1.0
    coding: Coding | str | None = None  # a name is kept as its Coding
    format_version: int = FORMAT_VERSION
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        # Refuse values that would be silently misused, with one clear line each.
        for names, message in _EXCLUSIVE:
            if all(getattr(self, name) is not None for name in names):
                raise OptionError(message)
        for name, (fits, rule) in _RANGES.items():
            value = getattr(self, name)
            if (value is not None or name in _REQUIRED) and not fits(value):
                raise OptionError(f"{rule}, not {_shown(value)}")
        if self.effort is not None:
            _choice("effort", self.effort, EFFORTS)
        _choice("loss", self.loss, LOSS_NAMES)
        if isinstance(self.coding, str):
            if self.coding.upper() not in Coding.__members__:
                raise OptionError(f"unknown $coding {_shown(self.coding)}; choose from "
                                 f"{', '.join(c.name.lower() for c in Coding)}")
            # Frozen: the one place the given value is normalised.
            object.__setattr__(self, "coding", Coding[self.coding.upper()])
        if self.format_version not in (1, 2):
            raise OptionError(f"$format_version must be 1 or 2, not {_shown(self.format_version)}")

    @classmethod
    def from_arguments(cls, options: EncodeOptions | None, **keywords: object) -> EncodeOptions:
        """``options``, or the options that a function's keyword arguments give.

        What a function taking both (:func:`gzcodec.encode_batch`,
        :func:`gzcodec.cluster.encode_dataset`) makes of them: ``options`` if
        given, else ``EncodeOptions(**keywords)``.

        Raises
        ------
        TypeError
            ``options`` with a keyword that is not its default, or an ``options``
            that is not an ``EncodeOptions``.
        """
        if options is None:
            return cls(**keywords)
        if not isinstance(options, EncodeOptions):
            raise TypeError(f"options must be an EncodeOptions, not {type(options).__name__}")
        defaults = cls()
        changed = [name for name, value in keywords.items() if value != getattr(defaults, name)]
        if changed:
            raise TypeError(f"give options or keywords, not both ({changed[0]}= with options=)")
        return options

    @property
    def targeted(self) -> bool:
        """Whether the rate is searched per image (``max_bytes`` or ``target_ssim``)."""
        return self.max_bytes is not None or self.target_ssim is not None
