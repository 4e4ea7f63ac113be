"""The numpydoc examples of gzcodec's torch-free modules run, as the docs show them.

pytest collects no doctests here (``pyproject.toml`` gives no ``--doctest-modules``), so
an example could go stale unseen; these modules' examples run in well under a second
each. Examples that need a model or torch are marked ``+SKIP`` in their modules.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules with examples that run without torch or a model.
TORCH_FREE_MODULES_WITH_EXAMPLES = [
    "gzcodec.container",
    "gzcodec.entropy",
    "gzcodec.imageio",
    "gzcodec.metrics",
    "gzcodec.models.config",
    "gzcodec.payload",
    "gzcodec.rate",
    "gzcodec.refinement",
    "gzcodec.search",
]


@pytest.mark.parametrize("name", TORCH_FREE_MODULES_WITH_EXAMPLES)
def test_the_examples_of_a_module_run(name):
    result = doctest.testmod(importlib.import_module(name), report=True)
    assert result.failed == 0 and result.attempted > 0, result
