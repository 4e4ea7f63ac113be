"""A family registered from outside the library encodes and decodes through the public API.

The toy stores an image as its mean colour (three raw bytes in a format
version 2 file); nothing in ``gzcodec/`` knows of it: one class, one
``register_family`` call, a model whose config's kind names it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import gzcodec
from gzcodec.container import V2_MODEL_ID_SIZE, Coding, HeaderV2, pack
from gzcodec.families import FAMILIES, DecodedSymbols, ModelFamily, family_of, register_family
from gzcodec.imageio import model_input
from gzcodec.zoo import LoadedModel, ModelInfo

torch = pytest.importorskip("torch")


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    image_size: int = 16
    kind: str = "mean-colour"


class ToyNetwork:
    def __init__(self, config: ToyConfig) -> None:
        self.config = config


class MeanColourFamily(ModelFamily):
    name = "mean-colour"
    default_bits = 8

    def refinement_steps(self, options, model) -> int:
        return 0

    def expected_rate(self, options, model) -> int | None:
        return 0

    def encode(self, model, images, options, on_step) -> list[bytes]:
        out = []
        for image in images:
            prepared = model_input(image, model.config.image_size)
            mean = np.asarray(prepared.pixels).reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
            header = HeaderV2(model_id=bytes.fromhex(model.id)[:V2_MODEL_ID_SIZE],
                              width=model.config.image_size, height=model.config.image_size,
                              source_width=prepared.source[0], source_height=prepared.source[1],
                              rate=0, coding=Coding.RAW)
            out.append(pack(header, mean.tobytes()))
        return out

    def read_symbols(self, model, header, payload) -> DecodedSymbols:
        return DecodedSymbols(header, model, np.frombuffer(payload, np.uint8).astype(np.int64), 0, None)

    def generate(self, decoded) -> torch.Tensor:
        size = decoded.model.config.image_size
        colour = torch.from_numpy(decoded.symbols).float() / 255
        return colour[:, None, None].expand(3, size, size)

    def information_bits(self, decoded) -> float | None:
        return None


@pytest.fixture
def toy_model():
    register_family(MeanColourFamily())
    config = ToyConfig()
    info = ModelInfo(id="0123456789ab", name="toy", path=Path("toy.safetensors"), size_bytes=0,
                     config=dataclasses.asdict(config))
    yield LoadedModel(info=info, network=ToyNetwork(config), pmf_tables={})
    FAMILIES.pop("mean-colour")


def test_a_toy_family_encodes_and_decodes_through_the_public_api(toy_model, tmp_path):
    assert family_of(toy_model).name == "mean-colour"
    image = np.zeros((40, 30, 3), np.uint8)
    image[..., 0] = 200
    data = gzcodec.encode(image, model=toy_model)
    assert gzcodec.read_header(data).coding == Coding.RAW and len(data) < 40
    decoded = gzcodec.decode(data, model=toy_model)
    assert decoded.size == (16, 16) and decoded.getpixel((3, 3)) == (200, 0, 0)
    assert gzcodec.save(image, tmp_path / "toy.gzl", model=toy_model) == len(data)
    assert (tmp_path / "toy.gzl").read_bytes() == data


def test_a_model_of_an_unregistered_kind_is_refused_in_one_line(toy_model):
    FAMILIES.pop("mean-colour")
    with pytest.raises(gzcodec.ModelNotFoundError, match="kind 'mean-colour', which no family codes"):
        gzcodec.encode(np.zeros((16, 16, 3), np.uint8), model=toy_model)
    register_family(MeanColourFamily())  # for the fixture's teardown
