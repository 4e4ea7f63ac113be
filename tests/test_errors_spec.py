"""``spec/errors.md`` lists the messages gzcodec raises (issue 26: one was missing)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import gzcodec
from gzcodec.container import Coding, pack, unpack
from gzcodec.errors import FormatError

SPEC = Path(__file__).resolve().parent.parent / "spec" / "errors.md"


@pytest.mark.parametrize("coding", [Coding.RAW, Coding.ZSTD])
def test_a_v2_models_file_in_another_coding_is_a_documented_format_error(default_model, coding):
    data = gzcodec.encode(np.zeros((16, 16, 3), np.uint8), model=default_model, effort="none")
    header, payload = unpack(data)
    other = pack(dataclasses.replace(header, coding=coding), payload)
    with pytest.raises(FormatError) as err:
        gzcodec.decode(other, model=default_model)
    message = str(err.value)
    assert default_model.id in message
    # The spec writes the model's id as {id}.
    documented = message.replace(default_model.id, "{id}").replace(coding.name.lower(), "{coding}")
    assert f"`{documented}`" in SPEC.read_text(), documented
