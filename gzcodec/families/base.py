"""What every model family does: the :class:`ModelFamily` interface and what families share.

A *model family* is a kind of network together with how its files are made
and read: ``factorized`` (``face128``: a latent of ``bits``-bit symbols under a
factorized prior) or ``hyperprior-context`` (``face128-v2``: a continuous-rate
latent under a hyperprior and context model). Each family is one module of
:mod:`gzcodec.families` owning its encode and its decode; the public
:mod:`gzcodec.codec` looks the family up by the model and calls it.

Imports no torch: a family is asked about options before any model is loaded.
"""

from __future__ import annotations

import abc
import io
import os
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar, NamedTuple, Union

import numpy as np
from PIL import Image

from ..carriers import unwrap
from ..container import MAX_FILE_BYTES, AnyHeader, read_file, unpack
from ..options import EncodeOptions

if TYPE_CHECKING:
    import torch

    from ..zoo import LoadedModel, ModelInfo

__all__ = ["DataLike", "DecodedSymbols", "ModelFamily", "read_data", "registry_info"]

#: What a decoder takes: the bytes of a ``.gzl`` file, its path, or a binary file object;
#: also its text form (a ``str`` starting with ``gzl:``) or a picture of a QR code holding it
#: (its bytes, path, file object, or a Pillow image): see :mod:`gzcodec.carriers`.
DataLike = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes], Image.Image]


def read_data(data: DataLike) -> bytes:
    """The bytes of a ``.gzl`` file given as bytes, a path or a file object (never more than one holds).

    Its text form and a QR picture of it are taken too (:mod:`gzcodec.carriers`).
    """
    data = unwrap(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        return read_file(data)
    if callable(getattr(data, "read", None)):
        if isinstance(data, io.TextIOBase):  # reading it would decode the bytes as text first
            raise TypeError("the file object must be opened in binary mode ('rb')")
        chunk = data.read(MAX_FILE_BYTES + 1)
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("the file object must be opened in binary mode ('rb')")
        return bytes(chunk)
    raise TypeError(f"cannot decode a {type(data).__name__}; pass bytes, a path or a binary file "
                    "object")


def registry_info(model: LoadedModel | ModelInfo) -> ModelInfo:
    """What the registry knows of ``model``, loaded or only found."""
    return getattr(model, "info", model)


class DecodedSymbols(NamedTuple):
    """What a ``.gzl`` file stores, read and checked against its model (:func:`gzcodec.codec.decode_symbols`).

    Attributes
    ----------
    header : Header or HeaderV2
        The file's header.
    model : LoadedModel
        The model that decodes it.
    symbols : numpy.ndarray
        The signed integers of the latent, int64: the model's latent shape for
        ``face128``, the quantized latent followed by the hyper-latent for
        hyperprior-context models.
    rate : int
        What the generator runs at: the precision in bits (factorized models),
        or the rate index 0..255 (hyperprior-context models).
    step : float or None
        The quantization step (factorized models); ``None`` for the others.
    """

    header: AnyHeader
    model: LoadedModel
    symbols: np.ndarray
    rate: int
    step: float | None


class ModelFamily(abc.ABC):
    """A kind of model and its codec: the options it takes, how it encodes and decodes.

    Subclass it, implement the abstract methods, and register one instance
    under the ``kind`` its models' configs store
    (:func:`gzcodec.families.register_family`).

    Attributes
    ----------
    name : str
        The family's name (``"factorized"``, ``"hyperprior-context"``).
    default_bits : int
        The ``bits`` an encode uses when none is given.
    batches : bool
        Whether :meth:`encode` runs several images through the network at
        once (faster in one call); if not, each image is encoded on its own,
        and :func:`gzcodec.outputs.encode_many` calls it one image at a time,
        so that each image's warnings are told of it.
    """

    name: ClassVar[str]
    default_bits: ClassVar[int]
    batches: ClassVar[bool] = True

    # -- options (no torch)

    def check_options(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> None:
        """Refuse options this family's ``model`` does not take, before any image is read.

        Raises
        ------
        ValueError
            An option the model does not take.
        """
        self.refinement_steps(options, model)

    def bits(self, options: EncodeOptions) -> int:
        """``options.bits``, or this family's default."""
        return self.default_bits if options.bits is None else int(options.bits)

    @abc.abstractmethod
    def refinement_steps(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> int:
        """Refinement steps an encode with ``options`` runs per image."""

    @abc.abstractmethod
    def expected_rate(self, options: EncodeOptions, model: LoadedModel | ModelInfo) -> int | None:
        """The rate byte of a file ``options`` make (``None``: chosen per image)."""

    # -- encoding

    @abc.abstractmethod
    def encode(self, model: LoadedModel, images: Sequence, options: EncodeOptions,
               on_step: Callable[[int], None] | None) -> list[bytes]:
        """The ``.gzl`` files of ``images`` (anything :func:`gzcodec.imageio.model_input` reads).

        ``options`` were checked by :meth:`check_options`; ``on_step(k)`` is
        called with the image-steps of refinement just done.
        """

    # -- decoding

    @abc.abstractmethod
    def read_symbols(self, model: LoadedModel, header: AnyHeader, payload: bytes) -> DecodedSymbols:
        """The checked integers of a file's payload (its header already parsed and checked).

        Raises
        ------
        FormatError
            A payload this model cannot have written.
        ModelMismatchError
            A header whose geometry or rate does not fit the model.
        """

    @abc.abstractmethod
    def generate(self, decoded: DecodedSymbols) -> torch.Tensor:
        """The image ``(3, S, S)`` in [0, 1] (unclamped, float) of decoded symbols."""

    # -- realism (gzcodec decode --realism): only families that have realism decoders override these

    def realism_decoder(self, model: LoadedModel, *,
                        weights: str | os.PathLike[str] | None = None) -> torch.nn.Module:
        """The realism decoder installed for ``model`` (or the one in ``weights``), loaded.

        Raises
        ------
        ModelNotFoundError
            None is installed, or this family has none (the default).
        ModelMismatchError, ModelFileError
            The realism file is another model's, or damaged.
        """
        from ..errors import ModelNotFoundError

        raise ModelNotFoundError(f"{self.name} models (such as {model.info.name}) have no realism "
                                 "decoder; decode without realism")

    def generate_realistic(self, decoded: DecodedSymbols, realism: float,
                           decoder: torch.nn.Module) -> torch.Tensor:
        """The image ``(3, S, S)`` of decoded symbols by :meth:`realism_decoder`'s ``decoder`` at
        ``realism`` in (0, 1]: the same for the same file and ``realism``."""
        raise NotImplementedError(f"{self.name} models have no realism decoder")

    @abc.abstractmethod
    def information_bits(self, decoded: DecodedSymbols) -> float | None:
        """``-sum(log2 p)`` of the symbols under the model's entropy model (``None``: it has none)."""

    # -- describing (gzcodec info; no torch)

    def describe(self, model: ModelInfo, header: AnyHeader) -> dict[str, Any]:
        """What ``header``'s fields mean under this family's ``model``: ``gzcodec info``'s lines.

        The fields that depend on the family: what the rate byte is, and what
        follows from the model (latent shape, step). A value replaces the
        field of that name (a new name is added at the end); ``None`` leaves
        the field out, as one that does not apply to this family. By default
        nothing is added.

        Examples
        --------
        >>> from gzcodec.container import Coding, HeaderV2
        >>> from gzcodec.families import family_of
        >>> from gzcodec.zoo import find_model
        >>> v2 = find_model("face128-v2")
        >>> header = HeaderV2(model_id=bytes(4), width=128, height=128, source_width=128,
        ...                   source_height=128, rate=128, coding=Coding.RANGE)
        >>> family_of(v2).describe(v2, header)["rate"]
        '128 of 255 (rate position 4.52)'
        """
        return {}

    # -- shared

    def decode_file(self, model: LoadedModel, data: bytes) -> DecodedSymbols:
        """:meth:`read_symbols` of a whole file this family's ``model`` wrote."""
        header, payload = unpack(data)
        return self.read_symbols(model, header, payload)

    def decode_pixels(self, model: LoadedModel, data: bytes) -> np.ndarray:
        """The decoded 8-bit image ``(S, S, 3)`` of a file: what encoders measure SSIM on."""
        import torch

        from ..imageio import tensor_to_pixels
        from ..threads import same_pixels_on_any_threads, threads_for, torch_threads

        with torch_threads(threads_for("decode")), torch.no_grad(), same_pixels_on_any_threads():
            x = torch.nan_to_num(self.generate(self.decode_file(model, data)), nan=0.0)
        return tensor_to_pixels(x)
