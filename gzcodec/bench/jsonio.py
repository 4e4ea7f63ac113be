"""How ``results.json`` is written: strict JSON, one measurement per line.

Floats are kept to 6 significant digits and non-finite ones written as
``null``, which strict JSON readers accept; the values and their layout are
:mod:`gzcodec.bench.records`'.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from ..fileio import write_atomic

__all__ = ["read_json", "to_jsonable", "write_json"]


def to_jsonable(value: Any) -> Any:
    """``value`` with floats to 6 significant digits, non-finite ones as ``None``, tuples as lists."""
    if isinstance(value, float):
        # Six significant digits: far beyond what the measurements resolve, and it
        # keeps the committed JSON of a 200-image run a few MB smaller.
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def _dumps(value: Any, depth: int) -> str:
    # One measurement per line: readable, diffable, and a fraction of the size of
    # a fully indented file (a 200-image run holds ~15,000 measurements).
    is_record = isinstance(value, Mapping) and "image" in value
    if is_record or not isinstance(value, (Mapping, list)) or not value:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, Mapping):
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if all(not isinstance(v, (Mapping, list)) for v in value):
        return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return "[\n" + ",\n".join(inner + _dumps(v, depth + 1) for v in value) + "\n" + pad + "]"


def write_json(value: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``value`` as strict JSON, one object with an ``"image"`` key per line.

    Floats are kept to 6 significant digits and non-finite ones written as
    ``null`` (see :func:`to_jsonable`).
    """
    # Atomic: a run interrupted while writing keeps its previous results.json.
    write_atomic(path, (_dumps(to_jsonable(value), 0) + "\n").encode("utf-8"), force=True)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON value in the file at ``path``."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
