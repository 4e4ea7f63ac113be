"""Model families and their registry: which codec encodes and decodes a model.

Each family is one module of this package with one :class:`ModelFamily`
subclass, registered below under its name: the ``kind`` its models' configs
store (:func:`gzcodec.models.config.family_name` maps the kinds of configs
written before families had names). Adding a family is one new module and
one line here (or one :func:`register_family` call from outside, as a test's
toy family does).

Imports no torch: options are checked against a model found in the registry
(:class:`~gzcodec.zoo.ModelInfo`) before any model is loaded.

Examples
--------
>>> from gzcodec.zoo import find_model
>>> family_of(find_model("face128-v2")).name
'hyperprior-context'
>>> sorted(FAMILIES)
['enhanced', 'factorized', 'hyperprior-context']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..container import HeaderV2, unpack
from ..errors import ModelMismatchError, ModelNotFoundError
from ..zoo import find_model_by_id, load_model
from .base import DataLike, DecodedSymbols, ModelFamily, read_data, registry_info
from .enhanced import EnhancedFamily
from .factorized import FactorizedFamily
from .hyperprior_context import HyperpriorContextFamily

if TYPE_CHECKING:
    import os

    from ..container import AnyHeader
    from ..zoo import LoadedModel, ModelInfo

__all__ = ["FAMILIES", "DataLike", "DecodedSymbols", "ModelFamily", "decode_symbols", "family_of",
           "find_file_model", "read_data", "register_family"]

#: Every registered family, by name.
FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    """Make ``family`` the codec of every model whose config's kind is ``family.name``.

    Returns ``family``; registering a name again replaces the earlier family.
    """
    if not isinstance(family, ModelFamily):
        raise TypeError(f"a family is a ModelFamily, not {type(family).__name__}")
    FAMILIES[family.name] = family
    return family


register_family(FactorizedFamily())
register_family(HyperpriorContextFamily())
register_family(EnhancedFamily())


def family_of(model: LoadedModel | ModelInfo) -> ModelFamily:
    """The family of ``model``, loaded or only found in the registry (no torch needed).

    Raises
    ------
    ModelNotFoundError
        No family of the model's kind is registered.
    """
    info = registry_info(model)
    try:
        return FAMILIES[info.family]
    except KeyError:
        raise ModelNotFoundError(f"model {info.name} is of kind {info.family!r}, which no family "
                                 f"codes (known: {', '.join(sorted(FAMILIES))})") from None


def find_file_model(header: AnyHeader, model: str | os.PathLike | LoadedModel | None) -> LoadedModel:
    """The model that decodes a file of ``header``: ``model`` if given (it must have the
    file's id), else the installed model of that id (never a file or model name)."""
    if model is not None:
        lm = load_model(model)
        if not lm.id.startswith(header.model_id_hex):
            raise ModelMismatchError(f"file was encoded with model {header.model_id_hex}, not {lm.id}")
        return lm
    return load_model(find_model_by_id(header.model_id_hex))


def decode_symbols(data: DataLike, model: str | os.PathLike | LoadedModel | None = None) -> DecodedSymbols:
    """Everything :func:`gzcodec.decode` reads and checks before it runs the generator.

    The entropy-decoded integers of a file, bit for bit what the encoder
    wrote: what golden files and the fuzzer compare, with no floating-point
    generator in the way.

    Parameters
    ----------
    data : bytes, path or binary file object
        A ``.gzl`` file, as :func:`gzcodec.decode` takes it.
    model : str, path, LoadedModel or None
        The model, as for :func:`gzcodec.decode`; by default the installed
        model the file names.

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
    header, payload = unpack(read_data(data))
    lm = find_file_model(header, model)
    cfg = lm.config
    if isinstance(header, HeaderV2) and (header.width, header.height) != (cfg.image_size, cfg.image_size):
        raise ModelMismatchError(
            f"file geometry (image {header.width}x{header.height}) does not fit model {lm.id}")
    return family_of(lm).read_symbols(lm, header, payload)
