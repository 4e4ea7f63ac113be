"""The public codec: images to ``.gzl`` bytes and back.

Examples
--------
>>> from PIL import Image
>>> import gzcodec
>>> data = gzcodec.encode(Image.open("examples/face.png"), bits=6)   # doctest: +SKIP
>>> len(data) < 600                                                  # doctest: +SKIP
True
>>> gzcodec.read_header(data).rate                                   # doctest: +SKIP
170
>>> gzcodec.decode(data).size                                        # doctest: +SKIP
(128, 128)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import IO, Literal, NamedTuple, Union

import numpy as np
from PIL import Image

from .container import (
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_SIZE,
    V2_MODEL_ID_SIZE,
    AnyHeader,
    Coding,
    Header,
    HeaderV2,
    pack,
    parse_header,
    read_file,
    unpack,
)
from .errors import FormatError, LimitError, ModelMismatchError, OutputExistsError
from .imageio import ModelInput, model_input, tensor_to_pixels
from .losses import LOSS_NAMES
from .metrics import ssim
from .models.config import RATE_INDEX_MAX
from .payload import SymbolReader, SymbolWriter, best_payload, decode_payload, encode_payload
from .rate import RateRequest, bits_to_rate
from .refinement import DEFAULT_EFFORT, DEFAULT_STEPS, EFFORTS
from .search import Bracket, bisect
from .threads import threads_for, torch_threads
from .zoo import LoadedModel, ModelInfo, find_model_by_id, load_model

__all__ = ["ImageLike", "DataLike", "ModelLike", "BITS_LADDER", "DEFAULT_BITS",
           "FACE128_DEFAULT_BITS", "EncodeOptions", "encode",
           "encode_batch", "decode", "read_header", "save", "information_bits", "DecodedSymbols",
           "decode_symbols"]

#: What :func:`encode` takes: a Pillow image, an array (uint8/uint16/bool, or
#: float in [0, 1]), a path or binary file object of an image file, or an image
#: already reduced by :func:`gzcodec.imageio.read_model_input`.
ImageLike = Union[Image.Image, np.ndarray, str, os.PathLike, IO[bytes], ModelInput]
#: What :func:`decode` takes: the bytes of a ``.gzl`` file, its path, or a binary file object.
DataLike = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes]]
ModelLike = Union[str, os.PathLike, LoadedModel, None]

#: Default quality of v2 models, the default ``face128-v2`` included, when neither ``bits``
#: nor ``rate`` is given: rate index 128 of 255, a few hundred bytes a face (the model card
#: has the figures).
DEFAULT_BITS = 5
#: ``face128``'s default, the one it always had (its latent precision: about 600 bytes).
FACE128_DEFAULT_BITS = 4


#: Images :func:`encode_batch` runs through the model at once.
DEFAULT_BATCH_SIZE = 16

#: The ``bits`` settings that ``max_bytes``/``target_ssim`` choose among.
BITS_LADDER = tuple(range(2, 9))


def _read_data(data: DataLike) -> bytes:
    """The bytes of a ``.gzl`` file given as bytes, a path or a file object (never more than one holds)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        return read_file(data)
    if callable(getattr(data, "read", None)):
        chunk = data.read(MAX_FILE_BYTES + 1)
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("the file object must be opened in binary mode ('rb')")
        return bytes(chunk)
    raise TypeError(f"cannot decode a {type(data).__name__}; pass bytes, a path or a binary file "
                    "object")


def read_header(data: DataLike) -> AnyHeader:
    """Parse and validate the header of a ``.gzl`` file (bytes, path or file object; no model needed).

    Returns a :class:`~gzcodec.container.HeaderV2` for version 2 files (its
    ``payload_length`` is the rest of ``data``) and a
    :class:`~gzcodec.container.Header` for version 1 files. Both have ``rate``
    (``bits`` for ``face128``), sizes, ``model_id_hex``, ``coding`` and ``version``.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        return parse_header(bytes(data[:MAX_FILE_BYTES + 1]))
    return parse_header(_read_data(data))


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _registry_info(model: LoadedModel | ModelInfo) -> ModelInfo:
    """What the registry knows of ``model``, loaded or only found."""
    return model.info if isinstance(model, LoadedModel) else model


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncodeOptions:
    """How to encode images, the model apart: every option of :func:`encode_batch`, typed.

    The one home of the encoder's options: :func:`encode`, :func:`encode_batch`,
    ``gzcodec encode`` and :func:`gzcodec.cluster.encode_dataset` all take one
    (the functions also take its fields as keywords and build it from them).
    Values are checked when it is made, so an ``EncodeOptions`` that exists
    is a valid one; :meth:`validate` checks what depends on the model.

    Parameters
    ----------
    bits, rate, max_bytes, target_ssim, effort, steps, loss, seed, rate_weight, coding, format_version
        As for :func:`encode`. ``coding`` may be given by name (``"zstd"``);
        it is kept as a :class:`~gzcodec.container.Coding`.
    batch_size : int
        Images a ``face128`` encode runs through the model at once (see
        :func:`encode_batch`).

    Raises
    ------
    ValueError
        A value out of its range (``rate=999``, ``effort="bogus"``), or two
        options that exclude each other (``max_bytes`` and ``target_ssim``;
        ``rate`` and either; ``steps`` and ``effort``).

    Examples
    --------
    >>> options = EncodeOptions(max_bytes=441)
    >>> options.rate_request(load_model("face128-v2"))          # doctest: +SKIP
    RateRequest(rate=None, max_bytes=441, target_ssim=None)
    >>> data = encode("examples/face.png", options=options)     # doctest: +SKIP
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
        if self.max_bytes is not None and self.target_ssim is not None:
            raise ValueError("give max_bytes or target_ssim, not both")
        if self.rate is not None and self.targeted:
            raise ValueError("give rate, max_bytes or target_ssim, not two of them")
        if self.steps is not None and self.effort is not None:
            raise ValueError("give steps or effort, not both")
        if self.rate is not None and (not _whole(self.rate)
                                      or not 0 <= int(self.rate) <= RATE_INDEX_MAX):
            raise ValueError(f"rate must be a whole number 0..{RATE_INDEX_MAX}, not {self.rate!r}")
        if self.effort is not None and self.effort not in EFFORTS:
            raise ValueError(f"unknown effort {self.effort!r}; choose from {', '.join(EFFORTS)}")
        bits, steps, seed, rate_weight = self.bits, self.steps, self.seed, self.rate_weight
        if bits is not None and (not _whole(bits) or not 2 <= int(bits) <= 16):
            raise ValueError(f"bits must be 2..16, not {bits!r}")
        if steps is not None and (not _whole(steps) or int(steps) < 0):
            raise ValueError(f"steps must be a whole number >= 0, not {steps!r}")
        if not _whole(seed):
            raise ValueError(f"seed must be a whole number, not {seed!r}")
        if (not isinstance(rate_weight, (int, float)) or isinstance(rate_weight, bool)
                or not math.isfinite(rate_weight) or rate_weight < 0):
            raise ValueError(f"rate_weight must be a finite number >= 0, not {rate_weight!r}")
        max_bytes, target_ssim = self.max_bytes, self.target_ssim
        if max_bytes is not None and (not _whole(max_bytes) or int(max_bytes) < 1):
            raise ValueError(f"max_bytes must be a whole number >= 1, not {max_bytes!r}")
        if target_ssim is not None and (not isinstance(target_ssim, (int, float))
                                        or isinstance(target_ssim, bool)
                                        or not 0 < target_ssim <= 1):
            raise ValueError(f"target_ssim must be in (0, 1], not {target_ssim!r}")
        if not _whole(self.batch_size) or int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, not {self.batch_size!r}")
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSS_NAMES)}")
        if isinstance(self.coding, str):
            if self.coding.upper() not in Coding.__members__:
                raise ValueError(f"unknown coding {self.coding!r}; choose from "
                                 f"{', '.join(c.name.lower() for c in Coding)}")
            # Frozen: the one place the given value is normalised.
            object.__setattr__(self, "coding", Coding[self.coding.upper()])
        if self.format_version not in (1, 2):
            raise ValueError(f"format_version must be 1 or 2, not {self.format_version}")

    @classmethod
    def from_arguments(cls, options: EncodeOptions | None, **keywords: object) -> EncodeOptions:
        """``options``, or the options that a function's keyword arguments give.

        What a function taking both (:func:`encode_batch`,
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

    def bits_for(self, model: LoadedModel | ModelInfo) -> int:
        """``bits``, or the default of ``model``'s kind.

        :data:`DEFAULT_BITS` for v2 models, :data:`FACE128_DEFAULT_BITS` for ``face128``.
        """
        if self.bits is not None:
            return int(self.bits)
        return DEFAULT_BITS if _registry_info(model).is_context else FACE128_DEFAULT_BITS

    @property
    def targeted(self) -> bool:
        """Whether the rate is searched per image (``max_bytes`` or ``target_ssim``)."""
        return self.max_bytes is not None or self.target_ssim is not None

    def validate(self, model: LoadedModel | ModelInfo) -> None:
        """Refuse options that ``model`` does not take, before any image is read.

        ``rate`` and ``effort`` are options of v2 models; v2 models write
        format version 2, range-coded, and take ``bits`` 2..8. Imports no
        torch: ``model`` may be a :class:`~gzcodec.zoo.ModelInfo` found in
        the registry, not loaded.

        Raises
        ------
        ValueError
            An option ``model`` does not take, or one that excludes another.
        """
        if _registry_info(model).is_context:
            self.rate_request(model)
            self.refinement_steps(model)
        elif self.rate is not None or self.effort is not None:
            raise ValueError(f"rate and effort are options of v2 models; {_registry_info(model).name} takes "
                             "bits and steps")

    def rate_request(self, model: LoadedModel | ModelInfo) -> RateRequest:
        """What decides each image's rate index on a v2 ``model``: a rate, or a target.

        Raises
        ------
        ValueError
            Options a v2 model does not take (format version 1, a coding
            other than range, ``bits`` outside 2..8).
        """
        if self.format_version != 2:
            raise ValueError("v2 models write format version 2 only")
        if self.coding not in (None, Coding.RANGE):
            raise ValueError(f"v2 models code with 'range', not {self.coding.name.lower()!r}")
        if self.targeted:
            return RateRequest(max_bytes=self.max_bytes, target_ssim=self.target_ssim)
        if self.rate is not None:
            return RateRequest(rate=int(self.rate))
        return RateRequest(rate=bits_to_rate(self.bits_for(model)))

    def refinement_steps(self, model: LoadedModel | ModelInfo) -> int:
        """Refinement steps an encode with these options runs per image on ``model``.

        ``steps`` if given; else, for v2 models, the ``effort`` level's SGA
        iterations (:data:`gzcodec.refinement.EFFORTS`) and, for ``face128``,
        :data:`gzcodec.refinement.DEFAULT_STEPS`.

        Raises
        ------
        ValueError
            ``effort`` for ``face128``.
        """
        if not _registry_info(model).is_context:
            if self.effort is not None:
                raise ValueError(f"effort is an option of v2 models; {_registry_info(model).name} takes "
                                 "steps")
            return DEFAULT_STEPS if self.steps is None else int(self.steps)
        if self.steps is not None:
            return int(self.steps)
        return EFFORTS[DEFAULT_EFFORT if self.effort is None else self.effort]

    def expected_rate(self, model: LoadedModel | ModelInfo) -> int | None:
        """The rate byte of a file these options make with ``model`` (``None``: chosen per image)."""
        if self.targeted:
            return None
        if _registry_info(model).is_context:
            return self.rate_request(model).rate
        return self.bits_for(model)


@dataclasses.dataclass
class _Job:
    """One image a ``face128`` encode works on: its model input and the files tried so far."""

    pixels: np.ndarray
    source: tuple[int, int]
    #: The file at each precision of the ladder (or the one ``bits``) tried.
    by_bits: dict[int, bytes] = dataclasses.field(default_factory=dict)
    #: The file at the lowest precision under each squeeze factor tried.
    by_squeeze: dict[int, bytes] = dataclasses.field(default_factory=dict)
    #: The search over :data:`BITS_LADDER` (``lo``: the highest index that fits
    #: ``max_bytes`` or is short of ``target_ssim``).
    bracket: Bracket = dataclasses.field(default_factory=lambda: Bracket.over(len(BITS_LADDER)))

    @classmethod
    def of(cls, prepared: ModelInput) -> _Job:
        return cls(prepared.pixels, tuple(prepared.source))

    def squeezed(self, max_bytes: int) -> bytes | None:
        """The first squeezed file (the least squeezed) that fits ``max_bytes``, if any."""
        return next((d for _, d in sorted(self.by_squeeze.items()) if len(d) <= max_bytes), None)


def _v1_file(lm: LoadedModel, job: _Job, sym: np.ndarray, bits: int, coding: Coding | None
             ) -> bytes:
    """A version 1 file of the symbols (raw, zstd or ANS; the smallest unless ``coding``)."""
    cfg = lm.config
    pmf = lm.pmf_tables.get(bits)
    if coding is None:
        chosen, payload = best_payload(sym, bits=bits, pmf=pmf)
    else:
        if coding == Coding.RANGE:
            raise ValueError("range payloads exist only in format version 2")
        if coding == Coding.ANS and pmf is None:
            raise ValueError(f"the model has no ANS table for {bits} bits")
        chosen, payload = coding, encode_payload(sym, bits=bits, coding=coding, pmf=pmf)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"a {bits}-bit latent does not fit in a .gzl payload")
    header = Header(
        model_id=bytes.fromhex(lm.id), width=cfg.image_size, height=cfg.image_size,
        source_width=min(job.source[0], 0xFFFF), source_height=min(job.source[1], 0xFFFF),
        latent_shape=tuple(sym.shape), bits=bits, step=cfg.step(bits), coding=chosen,
    )
    return pack(header, payload)


def _range_payload(lm: LoadedModel, sym: np.ndarray, rate: int) -> bytes:
    """The model's entropy model writes its symbols; the writer range-codes and trims them."""
    writer = SymbolWriter()
    lm.entropy.write_symbols(sym, writer, rate=rate)
    return writer.finish()


def _v2_file(lm: LoadedModel, job: _Job, sym: np.ndarray, bits: int, coding: Coding | None
             ) -> bytes:
    """A version 2 file of the symbols (raw, zstd or range; the smallest unless ``coding``).

    ``face128``'s rate byte is ``bits``; the latent shape and step are left to the model.
    """
    if coding == Coding.ANS:
        raise ValueError("ANS payloads exist only in format version 1; version 2 codes with "
                         "'range'")
    can_range = lm.entropy.codes_rate(bits)
    if coding == Coding.RANGE and not can_range:
        raise ValueError(f"the model has no entropy model for {bits} bits")
    options = []
    for candidate in (Coding.RAW, Coding.ZSTD, Coding.RANGE):
        if coding not in (None, candidate) or (candidate == Coding.RANGE and not can_range):
            continue
        if candidate == Coding.RANGE:
            options.append((candidate, _range_payload(lm, sym, bits)))
        else:
            options.append((candidate, encode_payload(sym, bits=bits, coding=candidate)))
    # The smallest; ties go to the simpler coding (the lower value).
    chosen, payload = min(options, key=lambda item: (len(item[1]), int(item[0])))
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"a {bits}-bit latent does not fit in a .gzl payload")
    size = lm.config.image_size
    header = HeaderV2(
        model_id=bytes.fromhex(lm.id)[:V2_MODEL_ID_SIZE], width=size, height=size,
        source_width=min(job.source[0], MAX_SIZE), source_height=min(job.source[1], MAX_SIZE),
        rate=bits, coding=chosen,
    )
    return pack(header, payload)


def _invert(lm: LoadedModel, jobs: Sequence[_Job], bits: int, options: EncodeOptions,
            on_step: Callable[[int], None] | None) -> list[bytes]:
    """The files of ``jobs`` (one batch) at ``bits``: the reversal's symbols, coded.

    ``options.steps`` is the number of steps to run (never ``None`` here).
    """
    import torch

    from .reversal import count_image_steps, invert

    x = torch.from_numpy(np.stack([j.pixels for j in jobs])).permute(0, 3, 1, 2).float() / 255
    symbols = invert(lm.network, x, bits=bits, steps=options.steps, loss=options.loss,
                     seed=options.seed, rate_weight=options.rate_weight,
                     on_step=count_image_steps(on_step, images=len(jobs))).numpy()
    make = _v1_file if options.format_version == 1 else _v2_file
    return [make(lm, job, sym, bits, options.coding) for job, sym in zip(jobs, symbols, strict=True)]


def _encode_precisions(lm: LoadedModel, wanted: Sequence[tuple[_Job, int]], options: EncodeOptions,
                       on_step: Callable[[int], None] | None) -> None:
    """Fill ``job.by_bits[bits]`` for each pair not tried yet, one precision at a time, batched."""
    by_bits: dict[int, list[_Job]] = {}
    for job, bits in wanted:
        if bits not in job.by_bits:
            by_bits.setdefault(bits, []).append(job)
    for bits, group in sorted(by_bits.items()):
        for i in range(0, len(group), options.batch_size):
            batch = group[i:i + options.batch_size]
            for job, data in zip(batch, _invert(lm, batch, bits, options, on_step), strict=True):
                job.by_bits[bits] = data


def _below_target(lm: LoadedModel, job: _Job, bits: int, options: EncodeOptions) -> bool:
    """Whether ``bits`` is on the low side of what was asked: its file still fits in
    ``max_bytes``, or its decoded SSIM is still under ``target_ssim``."""
    data = job.by_bits[bits]
    if options.max_bytes is not None:
        return len(data) <= options.max_bytes
    return ssim(job.pixels, np.asarray(decode(data, model=lm))) < options.target_ssim


def _probe_ladder(lm: LoadedModel, jobs: Sequence[_Job], options: EncodeOptions,
                  on_step: Callable[[int], None] | None, indices: list[int | None]) -> list[bool]:
    """One round of the ladder search: encode each job at its probe (batched), say which are below.

    ``indices`` holds one :data:`BITS_LADDER` index per job, ``None`` for a job
    whose search is done (its answer is ignored).
    """
    wanted = [(job, BITS_LADDER[i]) for job, i in zip(jobs, indices, strict=True) if i is not None]
    _encode_precisions(lm, wanted, options, on_step)
    return [i is not None and _below_target(lm, job, BITS_LADDER[i], options)
            for job, i in zip(jobs, indices, strict=True)]


def _search_ladder(lm: LoadedModel, jobs: Sequence[_Job], options: EncodeOptions,
                   on_step: Callable[[int], None] | None) -> None:
    """Bisect :data:`BITS_LADDER` for every job, all in lock step so that batches stay full."""
    bisect([job.bracket for job in jobs], functools.partial(_probe_ladder, lm, jobs, options, on_step))


#: Factors on the rate weight tried, in turn, when even the lowest precision is too big.
SQUEEZE_FACTORS = (4, 16, 64, 256, 1024)


def _squeeze(lm: LoadedModel, jobs: Sequence[_Job], bits: int, options: EncodeOptions,
             on_step: Callable[[int], None] | None) -> None:
    """Fit files under ``options.max_bytes`` below the lowest precision of the ladder.

    The reversal's rate weight is raised until the file fits: more latent
    elements go to the prior's most likely symbols, trading quality for size.
    This is how gzcodec reaches budgets no trained level was made for.
    """
    base = options.rate_weight or 1.0
    for factor in SQUEEZE_FACTORS:
        jobs = [j for j in jobs if j.squeezed(options.max_bytes) is None]
        if not jobs:
            return
        tuned = dataclasses.replace(options, rate_weight=base * factor,
                                    steps=max(options.steps, 30))
        for i in range(0, len(jobs), options.batch_size):
            batch = jobs[i:i + options.batch_size]
            for job, data in zip(batch, _invert(lm, batch, bits, tuned, on_step), strict=True):
                job.by_squeeze[factor] = data


def _fitting_file(job: _Job, max_bytes: int) -> bytes:
    """The file a ``max_bytes`` search made of ``job``: the ladder's, else the squeezed one."""
    if job.bracket.lo >= 0:
        return job.by_bits[BITS_LADDER[job.bracket.lo]]
    squeezed = job.squeezed(max_bytes)
    if squeezed is None:
        smallest = min(len(d) for d in [*job.by_bits.values(), *job.by_squeeze.values()])
        raise ValueError(f"cannot fit the image in {max_bytes} bytes "
                         f"(the smallest gzcodec could make is {smallest} bytes)")
    return squeezed


def _encode_face128(lm: LoadedModel, jobs: Sequence[_Job], options: EncodeOptions,
                    on_step: Callable[[int], None] | None) -> list[bytes]:
    """The files of a v1 model: at ``bits``, or at the precision a target asks for.

    ``options.steps`` is resolved (see :meth:`EncodeOptions.refinement_steps`).
    """
    if not options.targeted:
        bits = options.bits_for(lm)
        _encode_precisions(lm, [(job, bits) for job in jobs], options, on_step)
        return [job.by_bits[bits] for job in jobs]
    _search_ladder(lm, jobs, options, on_step)
    if options.max_bytes is not None:
        _squeeze(lm, [j for j in jobs if j.bracket.lo < 0], BITS_LADDER[0], options, on_step)
        return [_fitting_file(job, options.max_bytes) for job in jobs]
    # The lowest precision that reaches the target, or the highest there is.
    return [job.by_bits[BITS_LADDER[min(job.bracket.hi, len(BITS_LADDER) - 1)]] for job in jobs]


def _encode_context_batches(lm: LoadedModel, images: Sequence[ImageLike], options: EncodeOptions,
                            on_step: Callable[[int], None] | None) -> list[bytes]:
    """The files of a v2 model, ``options.batch_size`` images read at a time."""
    from .context_encoder import encode_context

    request, iterations = options.rate_request(lm), options.refinement_steps(lm)
    size = lm.config.image_size
    out: list[bytes] = []
    for i in range(0, len(images), options.batch_size):
        # Each image is reduced to the model's size as soon as it is read.
        inputs = [model_input(im, size) for im in images[i:i + options.batch_size]]
        out += encode_context(lm, inputs, request, iterations=iterations, loss=options.loss,
                              seed=options.seed, on_step=on_step)
    return out


def _threads(work: Literal["decode", "encode"]) -> Callable[[Callable], Callable]:
    """Run the decorated function under the thread policy for ``work`` (:mod:`gzcodec.threads`)."""

    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with torch_threads(threads_for(work)):
                return function(*args, **kwargs)

        return wrapper

    return wrap


@_threads("encode")
def encode_batch(
    images: Sequence[ImageLike],
    *,
    bits: int | None = None,
    model: ModelLike = None,
    loss: str = "mse",
    steps: int | None = None,
    seed: int = 0,
    rate_weight: float = 1.0,
    max_bytes: int | None = None,
    target_ssim: float | None = None,
    coding: Coding | str | None = None,
    format_version: int = FORMAT_VERSION,
    rate: int | None = None,
    effort: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    options: EncodeOptions | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[bytes]:
    """Encode several images: the same files as :func:`encode` of each, sooner.

    See :func:`encode` for the parameters; ``options`` (an
    :class:`EncodeOptions`) gives them all at once instead. ``on_step(k)`` is
    called as refinement goes, with the number ``k`` of image-steps just done
    (for a progress bar of ``len(images) * steps`` in all). ``face128``
    encodes in batches of ``batch_size``; v2 models encode each image on its
    own, because batched arithmetic differs in the last bits with the batch
    and refinement would make an image's file depend on its neighbours.
    """
    lm = load_model(model)
    options = EncodeOptions.from_arguments(
        options, bits=bits, loss=loss, steps=steps, seed=seed, rate_weight=rate_weight,
        max_bytes=max_bytes, target_ssim=target_ssim, coding=coding,
        format_version=format_version, rate=rate, effort=effort, batch_size=batch_size)
    options.validate(lm)
    if lm.is_context:
        return _encode_context_batches(lm, images, options, on_step)
    bits = options.bits_for(lm)
    top = max(lm.config.level_bits)
    if bits > top and not options.targeted:
        # Kept for the files such precisions made (they still decode), not offered by the CLI.
        warnings.warn(f"bits {bits} is above {lm.info.name}'s trained levels (2..{top}): larger "
                      "files of no better quality", stacklevel=3)
    # From here on the steps are the number to run, not "the default".
    options = dataclasses.replace(options, steps=options.refinement_steps(lm))
    # Each image is reduced to the model's size as soon as it is read.
    jobs = [_Job.of(model_input(im, lm.config.image_size)) for im in images]
    return _encode_face128(lm, jobs, options, on_step)


def encode(
    image: ImageLike,
    *,
    bits: int | None = None,
    model: ModelLike = None,
    loss: str = "mse",
    steps: int | None = None,
    seed: int = 0,
    rate_weight: float = 1.0,
    max_bytes: int | None = None,
    target_ssim: float | None = None,
    coding: Coding | str | None = None,
    format_version: int = FORMAT_VERSION,
    rate: int | None = None,
    effort: str | None = None,
    options: EncodeOptions | None = None,
    align: bool = False,
) -> bytes:
    """Encode one image as ``.gzl`` bytes.

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        Any size and mode: converted to RGB, centre-cropped to a square and
        resized to the model's size (see :mod:`gzcodec.imageio`). Float
        arrays must hold values in [0, 1].
    bits : int, optional
        The user's quality knob. v2 models, the default ``face128-v2``
        included: 2..8, the rate index ``round((bits - 2) * 255 / 6)``
        (default :data:`DEFAULT_BITS`, 5). ``face128``: the latent's
        quantization precision, 2..16, trained at 2..8 (default
        :data:`FACE128_DEFAULT_BITS`, 4). Ignored when ``rate``, ``max_bytes``
        or ``target_ssim`` is given.
    model : str, path or LoadedModel, optional
        Model name, id or weights path; the bundled default
        (:data:`gzcodec.zoo.DEFAULT_MODEL`, ``face128-v2``) if not given.
    loss : {"mse", "l1", "ssim", "ms-ssim", "mix"}
        Distortion the reversal minimises.
    steps : int, optional
        Refinement steps after the encoder network's guess, >= 0; 0 is fastest.
        By default the ``effort``'s for v2 models, and
        :data:`gzcodec.refinement.DEFAULT_STEPS` (0) for ``face128``.
    seed : int
        Seed of the refinement's random draws (v2 models' Gumbel noise; ``face128``'s
        reversal draws none); same image, model, options and seed give the same bytes.
    rate_weight : float
        Weight of the file size in the reversal's loss (0: fit the image only).
    max_bytes : int, optional
        The largest file that fits. v2 models: the highest rate index whose
        file fits (found on estimates, checked on the real file). ``face128``:
        the highest precision of :data:`BITS_LADDER` whose file fits; below
        the lowest, the rate weight is raised (see :data:`SQUEEZE_FACTORS`)
        until it fits, at a cost in quality.
    target_ssim : float, optional
        Use the lowest rate (precision) whose decoded SSIM reaches this value, in (0, 1].
    coding : {"raw", "zstd", "range", "ans"}, optional
        Force a payload coding; by default the smallest is chosen per file.
        ``"range"`` (the model's entropy model) is version 2's, ``"ans"``
        version 1's.
    format_version : {2, 1}
        Version 2 (default) has the 14-byte header; version 1 (31 bytes) is
        still written for compatibility tests and old readers (``face128`` only).
    rate : int, optional
        v2 models: the rate index 0..255 itself (finer than ``bits``, which
        maps onto it as ``round((bits - 2) * 255 / 6)``).
    effort : {"none", "fast", "archive"}, optional
        v2 models: refinement iterations of stochastic Gumbel annealing
        (:data:`gzcodec.refinement.EFFORTS`; ``"fast"`` by default); ``steps``
        overrides it.
    options : EncodeOptions, optional
        All of the options above but ``model``, as one value; give it or
        them, not both.
    align : bool
        Find the face in a photo, align it as the training faces are and
        encode that crop, with its place in the photo in the header
        (:func:`gzcodec.align.encode_face`; needs the ``align`` extra). A
        photo with no face or several is an :class:`ImageInputError`:
        :func:`gzcodec.encode_faces` encodes each of several.

    Returns
    -------
    bytes
        A complete ``.gzl`` file.

    Raises
    ------
    ImageInputError
        The image cannot be read or converted.
    ValueError
        An argument out of its range (``steps=-1``, ``target_ssim=1.5``, ...).
    TypeError
        ``options`` together with other options as keywords.

    Notes
    -----
    Runs torch on one thread unless ``GZCODEC_THREADS`` or
    :func:`gzcodec.threads.set_threads` says otherwise (see :mod:`gzcodec.threads`).

    Examples
    --------
    >>> data = encode("examples/face.png")           # doctest: +SKIP
    >>> read_header(data).rate                      # doctest: +SKIP
    128
    """
    if align:
        from .align import encode_face

        return encode_face(image, model=model, options=options, bits=bits, loss=loss, steps=steps,
                           seed=seed, rate_weight=rate_weight, max_bytes=max_bytes,
                           target_ssim=target_ssim, coding=coding, format_version=format_version,
                           rate=rate, effort=effort)
    return encode_batch([image], bits=bits, model=model, loss=loss, steps=steps, seed=seed,
                        rate_weight=rate_weight, max_bytes=max_bytes, target_ssim=target_ssim,
                        coding=coding, format_version=format_version, rate=rate,
                        effort=effort, options=options)[0]


@_threads("decode")
def decode(data: DataLike, *, model: ModelLike = None,
           size: Literal["model", "source"] = "model", max_pixels: int | None = None) -> Image.Image:
    """Decode a ``.gzl`` file to an 8-bit RGB image.

    Parameters
    ----------
    data : bytes, path or binary file object
        A complete ``.gzl`` file (a file object is read from its position).
    model : str, path or LoadedModel, optional
        Use this model instead of looking the file's model id up; it must have
        that id.
    size : {"model", "source"}
        ``"model"`` returns the generator's output (e.g. 128x128).
        ``"source"`` resizes it to the centre crop of the encoded image at its
        original resolution (a ``min(w, h)`` square; pixels outside the crop
        were never stored); for a face encoded with ``align``, to the side
        its crop had in the photo (:func:`gzcodec.align.paste_back` puts it
        back into the photo).
    max_pixels : int, optional
        Largest ``"source"`` image to make. By default
        ``PIL.Image.MAX_IMAGE_PIXELS`` (about 89 million pixels; ``None``
        there disables the limit): a 1-KB file can name a source size of
        65535x65535, so the multiplier must be asked for.

    Raises
    ------
    FormatError
        Damaged, truncated or unsupported data; :class:`LimitError` (a
        ``FormatError``) for sizes over the hard limits, including a
        ``"source"`` size over ``max_pixels``.
    ModelNotFoundError
        The model the file names is not installed.
    ModelMismatchError
        The file's geometry does not fit the model.
    """
    import torch

    if size not in ("model", "source"):
        raise ValueError(f"size must be 'model' or 'source', not {size!r}")
    if max_pixels is not None and (not _whole(max_pixels) or max_pixels < 1):
        raise ValueError(f"max_pixels must be a whole number >= 1, not {max_pixels!r}")
    data = _read_data(data)
    if size == "source":  # refused before anything is decoded
        header = parse_header(data)
        side = min(header.source_width, header.source_height)
        if getattr(header, "placement", None) is not None:  # an aligned face: its own side
            side = max(1, round(header.placement.side_pixels))
        _check_source_pixels(side, max_pixels)
    header, lm, symbols, bits, step = decode_symbols(data, model)
    with torch.no_grad():
        if lm.is_context:
            x = _generate_context(lm, symbols, header.rate)
        else:
            latent = torch.from_numpy(symbols).float()[None] * step
            x = lm.network.generate(latent, bits)[0]
        # A hostile step can overflow the generator: NaN is mapped to 0, not cast at random.
        x = torch.nan_to_num(x, nan=0.0)
    image = Image.fromarray(tensor_to_pixels(x), "RGB")
    if size == "source" and side != image.width:
        image = image.resize((side, side), Image.Resampling.LANCZOS)
    return image


def _check_source_pixels(side: int, max_pixels: int | None) -> None:
    """Refuse a ``size="source"`` output over ``max_pixels`` (by default Pillow's bomb limit)."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if limit is not None and side * side > limit:
        how = ("max_pixels" if max_pixels is not None
               else "PIL.Image.MAX_IMAGE_PIXELS; allow more with max_pixels= or --max-pixels")
        raise LimitError(f"source-size image of {side}x{side} = {side * side} pixels exceeds the "
                         f"limit of {limit} ({how})")


def _generate_context(lm: LoadedModel, symbols: np.ndarray, rate: int):
    """A v2 model's image ``(3, S, S)`` of its decoded integers at a rate index."""
    import torch

    from .models.context_model import rate_position

    net = lm.network
    q, _ = lm.entropy.split(symbols)
    position = torch.tensor([rate_position(rate, net.config.levels)])
    _, dec_gain = net.gains(position)
    return net.synthesise(torch.from_numpy(q).float()[None], dec_gain)[0]


def _find_model(header: AnyHeader, model: ModelLike) -> LoadedModel:
    if model is not None:
        lm = load_model(model)
        if not lm.id.startswith(header.model_id_hex):
            raise ModelMismatchError(
                f"file was encoded with model {header.model_id_hex}, not {lm.id}")
        return lm
    # By exact id only: never as a file name or a model name.
    return load_model(find_model_by_id(header.model_id_hex))


def _rate_to_bits(lm: LoadedModel, rate: int) -> int:
    """The model's reading of a version 2 rate byte: ``face128``'s is ``bits``, 2..16."""
    if not 2 <= rate <= 16:
        raise ModelMismatchError(f"rate {rate} does not fit model {lm.id} (it reads rates "
                                 f"2..16, as bits)")
    return rate


class DecodedSymbols(NamedTuple):
    """What a ``.gzl`` file stores, read and checked against its model (:func:`decode_symbols`).

    Attributes
    ----------
    header : Header or HeaderV2
        The file's header.
    model : LoadedModel
        The model that decodes it.
    symbols : numpy.ndarray
        The signed integers of the latent, int64: the model's latent shape for
        ``face128``, the quantized latent followed by the hyper-latent for v2
        models.
    rate : int
        What the generator runs at: the precision in bits (v1 models), or the
        rate index 0..255 (v2 models).
    step : float or None
        The quantization step (v1 models); ``None`` for v2 models.
    """

    header: AnyHeader
    model: LoadedModel
    symbols: np.ndarray
    rate: int
    step: float | None


def decode_symbols(data: DataLike, model: ModelLike = None) -> DecodedSymbols:
    """Everything :func:`decode` reads and checks before it runs the generator.

    The entropy-decoded integers of a file, bit for bit what the encoder
    wrote: what golden files and the fuzzer compare, with no floating-point
    generator in the way.

    Parameters
    ----------
    data : bytes, path or binary file object
        A ``.gzl`` file, as :func:`decode` takes it.
    model : str, path, LoadedModel or None
        The model, as for :func:`decode`; by default the installed model the
        file names.

    Returns
    -------
    DecodedSymbols

    Raises
    ------
    FormatError
        Damaged, truncated or unsupported data.
    ModelNotFoundError
        The model the file names is not installed.
    ModelMismatchError
        The file's geometry does not fit the model.
    """
    header, payload = unpack(_read_data(data))
    lm = _find_model(header, model)
    cfg = lm.config
    if isinstance(header, HeaderV2):
        if (header.width, header.height) != (cfg.image_size, cfg.image_size):
            raise ModelMismatchError(
                f"file geometry (image {header.width}x{header.height}) does not fit model {lm.id}")
        if lm.is_context:
            # The rate byte is the rate index; only range payloads exist for these models.
            if header.coding != Coding.RANGE:
                raise FormatError(f"{header.coding.name.lower()} payloads do not exist for "
                                  f"model {lm.id}; its files are range-coded")
            reader = SymbolReader(payload)
            symbols = lm.entropy.read_symbols(reader, rate=header.rate)
            reader.close()
            return DecodedSymbols(header, lm, symbols, header.rate, None)
        bits = _rate_to_bits(lm, header.rate)
        if header.coding == Coding.RANGE:
            if not lm.entropy.codes_rate(header.rate):
                raise FormatError(f"the model has no entropy model for rate {header.rate}")
            reader = SymbolReader(payload)
            symbols = lm.entropy.read_symbols(reader, rate=header.rate)
            reader.close()
        else:
            symbols = decode_payload(payload, bits=bits, shape=cfg.latent_shape,
                                     coding=header.coding)
        return DecodedSymbols(header, lm, symbols, bits, cfg.step(bits))
    if lm.is_context:
        raise ModelMismatchError(f"model {lm.id} is a v2 model; version 1 files name v1 models")
    if header.latent_shape != cfg.latent_shape or (header.width, header.height) != (
            cfg.image_size, cfg.image_size):
        raise ModelMismatchError(
            f"file geometry (latent {header.latent_shape}, image {header.width}x{header.height}) "
            f"does not fit model {lm.id}")
    pmf = None
    if header.coding == Coding.ANS:
        if header.step != cfg.step(header.bits):
            raise FormatError("ANS payloads need the model's own quantization step")
        pmf = lm.pmf_tables.get(header.bits)
    symbols = decode_payload(payload, bits=header.bits, shape=header.latent_shape,
                             coding=header.coding, pmf=pmf)
    return DecodedSymbols(header, lm, symbols, header.bits, header.step)


def information_bits(data: bytes, *, model: ModelLike = None) -> float | None:
    """Information content ``-sum(log2 p)`` of a file's latent under its model's entropy model.

    What an ideal entropy coder would spend on the symbols: a range payload's
    bytes minus this is the coder's overhead. ``None`` when the model has no
    entropy model at the file's rate (or, in version 1, another step).
    """
    header, lm, symbols, bits, step = decode_symbols(data, model)
    if lm.is_context:
        return lm.entropy.information_bits(symbols, rate=bits)
    if not lm.entropy.codes_rate(bits) or step != lm.config.step(bits):
        return None
    return lm.entropy.information_bits(symbols, rate=bits)


def save(image: ImageLike, path: str | os.PathLike[str], *, force: bool = True, **options) -> int:
    """Encode ``image`` and write it to ``path`` atomically; return the file's size in bytes.

    The safe counterpart of ``image.save("x.gzl", ...)``: Pillow opens (and
    truncates) the target before any plugin runs, so an ``Image.save`` that
    fails (a bad option, an unreadable model, Ctrl-C during the encode)
    leaves an existing file empty. Here the options are checked and the
    image is encoded first; only a complete file ever replaces the target,
    keeping its permissions (see :func:`gzcodec.fileio.write_atomic`).

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        As for :func:`encode`.
    path : path
        The ``.gzl`` file to write.
    force : bool
        Replace an existing file (the default, as ``Image.save`` does); if
        false, :class:`~gzcodec.OutputExistsError` is raised instead.
    **options
        Any keyword of :func:`encode` (``bits``, ``steps``, ``model``, ...).
    """
    from .fileio import write_atomic

    if not force and os.path.lexists(path):
        raise OutputExistsError(f"{path} exists (use force=True to overwrite)")
    data = encode(image, **options)
    write_atomic(path, data, force=force)
    return len(data)
