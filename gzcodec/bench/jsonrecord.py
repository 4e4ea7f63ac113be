"""Parts of ``results.json`` as frozen dataclasses whose fields are their JSON keys.

A field's ``metadata["json"]`` names a key that differs from the field;
``to_json()`` writes the object, ``from_json()`` reads it back, ``null``
floats as NaN. The names with an underscore are for the record modules.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

__all__ = ["Json"]


Json = dict[str, Any]
_R = TypeVar("_R", bound="_Record")


def _key(name: str) -> dataclasses.Field:
    """A field written under the JSON key ``name``."""
    return dataclasses.field(metadata={"json": name})


def _omitted_if_none() -> Any:
    """A field left out of the JSON object while it is ``None``."""
    return dataclasses.field(default=None, metadata={"omit_none": True})


def _omitted_if_empty() -> Any:
    """A mapping field left out of the JSON object while it is empty (absent from older runs)."""
    return dataclasses.field(default_factory=dict, metadata={"omit_empty": True})


def _encode(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(kind: Any, value: Any) -> Any:
    """``value`` of ``results.json`` as a value of type ``kind``; ``null`` floats read as NaN."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _decode(kind, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        return {k: _decode(args[1], v) for k, v in value.items()}
    if kind is float:
        return math.nan if value is None else float(value)
    if isinstance(kind, type) and issubclass(kind, _Record):
        return kind.from_json(value)
    return kind(value)


class _Record:
    """A part of ``results.json``: a frozen dataclass whose fields are its JSON keys, in order."""

    @classmethod
    @functools.cache
    def _layout(cls) -> tuple[tuple[dataclasses.Field, str, Any], ...]:
        hints = typing.get_type_hints(cls)
        return tuple((f, f.metadata.get("json", f.name), hints[f.name]) for f in dataclasses.fields(cls))

    def to_json(self) -> Json:
        """The JSON object, keys in field order."""
        out: Json = {}
        for field, key, _ in self._layout():
            value = getattr(self, field.name)
            if value is None and field.metadata.get("omit_none"):
                continue
            if not value and field.metadata.get("omit_empty"):
                continue
            out[key] = _encode(value)
        return out

    @classmethod
    def from_json(cls: type[_R], data: Mapping[str, Any]) -> _R:
        """The record of a JSON object; a key that is missing takes the field's default."""
        values = {field.name: _decode(kind, data[key]) for field, key, kind in cls._layout() if key in data}
        return cls(**values)
