"""The ``factorized`` family (``face128``): ``bits``-bit latents under a factorized prior.

Encoding runs the reversal (:func:`gzcodec.reversal.invert`) at a precision
of ``bits``: at the one asked for, or at the one of :data:`BITS_LADDER` that
a target asks for (bisected for every image in lock step, so that batches
stay full), below whose lowest rung the rate weight is raised
(:data:`SQUEEZE_FACTORS`) until the file fits ``max_bytes``. Files are format
version 2 (the rate byte is ``bits``; raw, zstd or range payloads, the
smallest) or format version 1 (raw, zstd or ANS).

Imports no torch until a model runs.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..container import (
    MAX_PAYLOAD_BYTES,
    MAX_SIZE,
    V2_MODEL_ID_SIZE,
    AnyHeader,
    Coding,
    Header,
    HeaderV2,
    pack,
)
from ..errors import FormatError, ModelMismatchError
from ..imageio import model_input
from ..metrics import ssim
from ..options import BITS_LADDER, FACE128_DEFAULT_BITS, EncodeOptions, OptionError
from ..payload import SymbolReader, SymbolWriter, best_payload, decode_payload, encode_payload
from ..refinement import DEFAULT_STEPS
from ..search import Bracket, bisect
from .base import DecodedSymbols, ModelFamily, registry_info

if TYPE_CHECKING:
    import torch

    from ..imageio import ModelInput
    from ..zoo import LoadedModel, ModelInfo

__all__ = ["FactorizedFamily", "SQUEEZE_FACTORS"]

#: Factors on the rate weight tried, in turn, when even the lowest precision is too big.
SQUEEZE_FACTORS = (4, 16, 64, 256, 1024)

StepCallback = Callable[[int], None] | None


@dataclasses.dataclass
class _Job:
    """One image an encode works on: its model input and the files tried so far."""

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


# --------------------------------------------------------------------------- files


def _v1_file(lm: LoadedModel, job: _Job, sym: np.ndarray, bits: int, coding: Coding | None) -> bytes:
    """A format version 1 file of the symbols (raw, zstd or ANS; the smallest unless ``coding``)."""
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


def _v2_payloads(lm: LoadedModel, sym: np.ndarray, bits: int, coding: Coding | None
                 ) -> list[tuple[Coding, bytes]]:
    """Each payload a format version 2 file of the symbols may have (only ``coding``'s if given)."""
    if coding == Coding.ANS:
        raise ValueError("ANS payloads exist only in format version 1; version 2 codes with "
                         "'range'")
    can_range = lm.entropy.codes_rate(bits)
    if coding == Coding.RANGE and not can_range:
        raise ValueError(f"the model has no entropy model for {bits} bits")
    candidates = [c for c in (Coding.RAW, Coding.ZSTD, Coding.RANGE)
                  if coding in (None, c) and (c != Coding.RANGE or can_range)]
    return [(c, _range_payload(lm, sym, bits) if c == Coding.RANGE
             else encode_payload(sym, bits=bits, coding=c)) for c in candidates]


def _v2_file(lm: LoadedModel, job: _Job, sym: np.ndarray, bits: int, coding: Coding | None) -> bytes:
    """A format version 2 file of the symbols (raw, zstd or range; the smallest unless ``coding``).

    ``face128``'s rate byte is ``bits``; the latent shape and step are left to the model.
    """
    # The smallest; ties go to the simpler coding (the lower value).
    chosen, payload = min(_v2_payloads(lm, sym, bits, coding), key=lambda item: (len(item[1]), int(item[0])))
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"a {bits}-bit latent does not fit in a .gzl payload")
    size = lm.config.image_size
    header = HeaderV2(
        model_id=bytes.fromhex(lm.id)[:V2_MODEL_ID_SIZE], width=size, height=size,
        source_width=min(job.source[0], MAX_SIZE), source_height=min(job.source[1], MAX_SIZE),
        rate=bits, coding=chosen,
    )
    return pack(header, payload)


# --------------------------------------------------------------------------- encoding


def _invert(lm: LoadedModel, jobs: Sequence[_Job], bits: int, options: EncodeOptions,
            on_step: StepCallback) -> list[bytes]:
    """The files of ``jobs`` (one batch) at ``bits``: the reversal's symbols, coded.

    ``options.steps`` is the number of steps to run (never ``None`` here).
    """
    import torch

    from ..reversal import count_image_steps, invert

    x = torch.from_numpy(np.stack([j.pixels for j in jobs])).permute(0, 3, 1, 2).float() / 255
    symbols = invert(lm.network, x, bits=bits, steps=options.steps, loss=options.loss,
                     rate_weight=options.rate_weight,
                     on_step=count_image_steps(on_step, images=len(jobs))).numpy()
    make = _v1_file if options.format_version == 1 else _v2_file
    return [make(lm, job, sym, bits, options.coding) for job, sym in zip(jobs, symbols, strict=True)]


def _in_batches(lm: LoadedModel, jobs: Sequence[_Job], bits: int, options: EncodeOptions,
                on_step: StepCallback) -> list[bytes]:
    """:func:`_invert` of ``jobs``, ``options.batch_size`` at a time."""
    out: list[bytes] = []
    for i in range(0, len(jobs), options.batch_size):
        out += _invert(lm, jobs[i:i + options.batch_size], bits, options, on_step)
    return out


class FactorizedFamily(ModelFamily):
    """``face128``-style models: :class:`~gzcodec.models.FaceModel` and a factorized prior."""

    name = "factorized"
    default_bits = FACE128_DEFAULT_BITS

    # -- options

    def check_options(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> None:
        if options.rate is not None or options.effort is not None:
            raise OptionError(f"$rate and $effort are options of hyperprior-context models such as "
                              f"face128-v2; {registry_info(model).name} takes $bits and $steps")

    def refinement_steps(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> int:
        if options.effort is not None:
            raise OptionError(f"$effort is an option of hyperprior-context models such as face128-v2; "
                              f"{registry_info(model).name} takes $steps")
        return DEFAULT_STEPS if options.steps is None else int(options.steps)

    def expected_rate(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> int | None:
        return None if options.targeted else self.bits(options)

    def describe(self, model: ModelInfo, header: AnyHeader) -> dict[str, Any]:
        if header.version == 1:  # every field stored
            return {"latent_shape": "x".join(map(str, header.latent_shape)), "step": header.step}
        # Implied by the model, not stored: shown from the model.
        config = model.model_config
        return {"latent_shape": "x".join(map(str, config.latent_shape)) + " (the model's)",
                "step": (f"{config.step(header.rate):g} (the model's)" if 2 <= header.rate <= 16
                         else "the model's")}

    # -- encoding

    def encode(self, model: LoadedModel, images: Sequence, options: EncodeOptions,
               on_step: StepCallback) -> list[bytes]:
        """The files of a factorized model: at ``bits``, or at the precision a target asks for."""
        bits = self.bits(options)
        top = max(model.config.level_bits)
        if bits > top and not options.targeted:
            # Kept for the files such precisions made (they still decode), not offered by the CLI.
            warnings.warn(f"bits {bits} is above {model.info.name}'s trained levels (2..{top}): larger "
                          "files of no better quality", stacklevel=4)
        # From here on the steps are the number to run, not "the default".
        options = dataclasses.replace(options, steps=self.refinement_steps(options, model))
        # Each image is reduced to the model's size as soon as it is read.
        jobs = [_Job.of(model_input(im, model.config.image_size)) for im in images]
        if not options.targeted:
            self._encode_precisions(model, [(job, bits) for job in jobs], options, on_step)
            return [job.by_bits[bits] for job in jobs]
        bisect([job.bracket for job in jobs],
               functools.partial(self._probe_ladder, model, jobs, options, on_step))
        if options.max_bytes is not None:
            self._squeeze(model, [j for j in jobs if j.bracket.lo < 0], BITS_LADDER[0], options, on_step)
            return [_fitting_file(job, options.max_bytes) for job in jobs]
        # The lowest precision that reaches the target, or the highest there is.
        return [job.by_bits[BITS_LADDER[min(job.bracket.hi, len(BITS_LADDER) - 1)]] for job in jobs]

    def _encode_precisions(self, lm: LoadedModel, wanted: Sequence[tuple[_Job, int]],
                           options: EncodeOptions, on_step: StepCallback) -> None:
        """Fill ``job.by_bits[bits]`` for each pair not tried yet, one precision at a time, batched."""
        by_bits: dict[int, list[_Job]] = {}
        for job, bits in wanted:
            if bits not in job.by_bits:
                by_bits.setdefault(bits, []).append(job)
        for bits, group in sorted(by_bits.items()):
            for job, data in zip(group, _in_batches(lm, group, bits, options, on_step), strict=True):
                job.by_bits[bits] = data

    def _below_target(self, lm: LoadedModel, job: _Job, bits: int, options: EncodeOptions) -> bool:
        """Whether ``bits`` is on the low side of what was asked: its file still fits in
        ``max_bytes``, or its decoded SSIM is still under ``target_ssim``."""
        data = job.by_bits[bits]
        if options.max_bytes is not None:
            return len(data) <= options.max_bytes
        return ssim(job.pixels, self.decode_pixels(lm, data)) < options.target_ssim

    def _probe_ladder(self, lm: LoadedModel, jobs: Sequence[_Job], options: EncodeOptions,
                      on_step: StepCallback, indices: list[int | None]) -> list[bool]:
        """One round of the ladder search: encode each job at its probe (batched), say which are below.

        ``indices`` holds one :data:`BITS_LADDER` index per job, ``None`` for a job
        whose search is done (its answer is ignored).
        """
        wanted = [(job, BITS_LADDER[i]) for job, i in zip(jobs, indices, strict=True) if i is not None]
        self._encode_precisions(lm, wanted, options, on_step)
        return [i is not None and self._below_target(lm, job, BITS_LADDER[i], options)
                for job, i in zip(jobs, indices, strict=True)]

    def _squeeze(self, lm: LoadedModel, jobs: Sequence[_Job], bits: int, options: EncodeOptions,
                 on_step: StepCallback) -> None:
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
            tuned = dataclasses.replace(options, rate_weight=base * factor, steps=max(options.steps, 30))
            for job, data in zip(jobs, _in_batches(lm, jobs, bits, tuned, on_step), strict=True):
                job.by_squeeze[factor] = data

    # -- decoding

    def read_symbols(self, model: LoadedModel, header: AnyHeader, payload: bytes) -> DecodedSymbols:
        cfg = model.config
        if isinstance(header, HeaderV2):
            if not 2 <= header.rate <= 16:
                raise ModelMismatchError(f"rate {header.rate} does not fit model {model.id} (it reads "
                                         f"rates 2..16, as bits)")
            bits = header.rate
            if header.coding == Coding.RANGE:
                if not model.entropy.codes_rate(bits):
                    raise FormatError(f"the model has no entropy model for rate {bits}")
                reader = SymbolReader(payload)
                symbols = model.entropy.read_symbols(reader, rate=bits)
                reader.close()
            else:
                symbols = decode_payload(payload, bits=bits, shape=cfg.latent_shape, coding=header.coding)
            return DecodedSymbols(header, model, symbols, bits, cfg.step(bits))
        if header.latent_shape != cfg.latent_shape or (header.width, header.height) != (
                cfg.image_size, cfg.image_size):
            raise ModelMismatchError(
                f"file geometry (latent {header.latent_shape}, image {header.width}x{header.height}) "
                f"does not fit model {model.id}")
        pmf = None
        if header.coding == Coding.ANS:
            if header.step != cfg.step(header.bits):
                raise FormatError("ANS payloads need the model's own quantization step")
            pmf = model.pmf_tables.get(header.bits)
        symbols = decode_payload(payload, bits=header.bits, shape=header.latent_shape,
                                 coding=header.coding, pmf=pmf)
        return DecodedSymbols(header, model, symbols, header.bits, header.step)

    def generate(self, decoded: DecodedSymbols) -> torch.Tensor:
        import torch

        latent = torch.from_numpy(decoded.symbols).float()[None] * decoded.step
        return decoded.model.network.generate(latent, decoded.rate)[0]

    def information_bits(self, decoded: DecodedSymbols) -> float | None:
        lm, bits = decoded.model, decoded.rate
        if not lm.entropy.codes_rate(bits) or decoded.step != lm.config.step(bits):
            return None
        return lm.entropy.information_bits(decoded.symbols, rate=bits)


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
