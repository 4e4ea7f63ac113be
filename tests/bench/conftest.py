"""Fixtures of the bench's tests (images only; no model, no data set)."""

from __future__ import annotations

import pytest
from PIL import Image

from .helpers import faces


@pytest.fixture(scope="module")
def face() -> Image.Image:
    return faces(1)[0]


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    for i, im in enumerate(faces(3)):
        im.save(folder / f"{i:06d}.png")
    return folder
