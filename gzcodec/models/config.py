"""What every model config shares: its latent grid and its JSON round trip (no torch)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["ConfigBase"]

_C = TypeVar("_C", bound="ConfigBase")


class ConfigBase:
    """Mixin of the frozen config dataclasses: latent shape, ``to_dict``, ``from_dict``.

    Subclasses are dataclasses with ``image_size`` and ``latent_channels``; the
    weights file stores ``to_dict()`` as JSON, where tuples become lists.
    """

    image_size: int
    latent_channels: int

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
