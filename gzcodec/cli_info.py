"""``gzcodec info`` (what a .gzl file holds) and ``gzcodec models`` (the models found)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_common import _os_message, clean_errors
from .errors import GzcodecError, ModelNotFoundError

if TYPE_CHECKING:
    from .container import AnyHeader
    from .zoo import ModelInfo

__all__ = ["info", "info_fields", "models", "realism_status"]


def _described(found: ModelInfo | None, header: AnyHeader) -> dict[str, Any]:
    """The fields whose meaning is the model family's (:meth:`~gzcodec.families.ModelFamily.describe`)."""
    from .container import HeaderV2
    from .families import family_of

    if found is not None:
        try:
            return family_of(found).describe(found, header)
        except ModelNotFoundError:  # a kind no family codes: described as a model not here
            pass
    if isinstance(header, HeaderV2):
        # Implied by the model, not stored: shown from the model when it is here. The one
        # quantization byte is a rate index or (factorized models) bits: which, only the model says.
        return {"latent_shape": "the model's (not found)", "step": "the model's",
                "rate": f"{header.rate} (a rate index, or bits for a factorized model: the model's)",
                "bits": None}
    return {"latent_shape": "x".join(map(str, header.latent_shape)), "step": header.step}


def realism_status(found: ModelInfo | None) -> str:
    """What ``gzcodec info`` says of the realism decoder of a file's model (found, or ``None``)."""
    from .zoo.realism_file import find_realism

    if found is None:
        return "unknown (model not found)"
    if not found.is_context:
        return f"none ({found.family} models have none)"
    try:
        realism = find_realism(found)
    except GzcodecError as exc:  # the file named after the model is another model's, or damaged
        return f"none ({exc})"
    if realism is None:
        return f"none installed (make one: gzcodec train DATA --realism-from {found.name})"
    return f"available ({realism.name}, {realism.id}, {realism.path}): decode --realism 0..1"


def info_fields(data: bytes, *, name: str = "-", entropy: bool = False) -> dict[str, Any]:
    """What ``gzcodec info`` says of a file's bytes: every header field, its size, its model.

    Parameters
    ----------
    data : bytes
        A whole ``.gzl`` file.
    name : str
        Where it came from (the ``file`` field).
    entropy : bool
        Also decode the latent (when its model is here) and give its
        information content and the coder's overhead in bytes.

    Returns
    -------
    dict
        The fields in the order ``gzcodec info`` prints them; each value is a
        ``str``, ``int`` or ``float`` (what ``--json`` writes).

    Raises
    ------
    FormatError
        Bytes that are not a valid ``.gzl`` file (its header and checksum).

    Examples
    --------
    >>> from gzcodec.container import Coding, HeaderV2, pack
    >>> data = pack(HeaderV2(model_id=bytes(4), width=128, height=128, source_width=640,
    ...                      source_height=480, rate=6, coding=Coding.RANGE), b"payload")
    >>> fields = info_fields(data, name="face.gzl")
    >>> fields["header_bytes"], fields["payload_bytes"], fields["model"][:9]
    (18, 7, 'NOT FOUND')
    """
    from .codec import information_bits
    from .container import unpack
    from .zoo import find_model_by_id

    header, payload = unpack(data)
    try:
        found = find_model_by_id(header.model_id_hex)
        model_txt = f"available ({found.name}, {found.id}, {found.path})"
    except ModelNotFoundError as exc:
        found, model_txt = None, f"NOT FOUND: {exc}"
    info_bits: float | None = None
    info_txt = "n/a (model not found)" if entropy else "not computed (--entropy runs the model)"
    if found is not None and entropy:
        try:
            info_bits = information_bits(data)
            info_txt = "n/a (no entropy model at this rate)" if info_bits is None else ""
        except GzcodecError as exc:
            info_txt = f"n/a ({exc})"
    pixels = header.width * header.height
    fields = {
        "file": name,
        "bytes": len(data),
        "bpp": round(len(data) * 8 / pixels, 4),
        "format_version": header.version,
        "header_bytes": header.header_size,
        "payload_bytes": len(payload),
        # -log2 p of the latent under the model's entropy model: what an ideal coder spends.
        "information_bytes": round(info_bits / 8, 2) if info_bits is not None else info_txt,
        "overhead_bytes": (round(len(payload) - info_bits / 8, 2) if info_bits is not None
                           else info_txt),
        "model_id": header.model_id_hex,
        "model": model_txt,
        "realism": realism_status(found),
        "image_size": f"{header.width}x{header.height}",
        "source_size": f"{header.source_width}x{header.source_height}",
        "rate": header.rate,
        "bits": header.rate,
        "coding": header.coding.name.lower(),
        "checksum": "ok",
    }
    placement = getattr(header, "placement", None)
    if placement is not None:  # an aligned face: where its crop was in the photo
        x, y = placement.centre
        fields["placement"] = (f"centre ({x:g}, {y:g}), side {placement.side_pixels:g}, angle "
                               f"{math.degrees(placement.angle_radians):.2f} degrees")
    for key, value in _described(found, header).items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def _info_fields(file: Path, *, entropy: bool) -> dict:
    from .container import read_file

    return info_fields(read_file(file), name=str(file), entropy=entropy)


@clean_errors
def info(
    files: Annotated[list[Path], typer.Argument(help=".gzl files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (a list for several files).")
                       ] = False,
    entropy: Annotated[bool, typer.Option(
        "--entropy", help="Also load the model and give the latent's information content and "
                          "the coder's overhead in bytes (slower: runs torch).")] = False,
) -> None:
    """Explain .gzl files: every header field, its size and whether its model is here."""
    many = len(files) > 1
    rows, failed = [], 0
    for file in files:
        try:
            rows.append(_info_fields(file, entropy=entropy))
        except (GzcodecError, OSError) as exc:
            if not many:
                raise
            message = str(exc) if isinstance(exc, GzcodecError) else _os_message(exc)
            typer.echo(f"error: {file}: {message}" if str(file) not in message
                       else f"error: {message}", err=True)
            failed += 1
    if as_json:
        typer.echo(json.dumps(rows if many else rows[0], indent=2))
    else:
        for i, fields in enumerate(rows):
            if i:
                typer.echo("")
            width = max(map(len, fields))
            for key, value in fields.items():
                typer.echo(f"{key.replace('_', ' '):<{width}}  {value}")
    if failed:
        raise typer.Exit(1)


@clean_errors
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the models gzcodec can find, and where it looks."""
    from .zoo import default_model, list_models, search_folders
    from .zoo.realism_file import find_realism

    rows = list_models()
    realism = {}
    for m in rows:
        try:
            realism[m.id] = find_realism(m) if m.is_context else None
        except GzcodecError:  # another model's file under this one's name: none for it
            realism[m.id] = None
    try:
        default_id = default_model().id
    except ModelNotFoundError:
        default_id = None
    if as_json:
        typer.echo(json.dumps([{"id": m.id, "name": m.name, "path": str(m.path),
                                "bytes": m.size_bytes, "config": m.config,
                                "default": m.id == default_id,
                                "realism": None if realism[m.id] is None else {
                                    "id": realism[m.id].id, "path": str(realism[m.id].path)}}
                               for m in rows], indent=2))
        return
    for m in rows:
        default = " (default)" if m.id == default_id else ""
        size = m.model_config.image_size
        extra = "" if realism[m.id] is None else f"  + realism decoder {realism[m.id].path}"
        typer.echo(f"{m.id}  {m.name}{default}  {size}x{size}  {m.size_bytes / 1e6:.1f} MB  "
                   f"{m.path}{extra}")
    typer.echo("searched: " + ", ".join(str(f) for f in search_folders()))
