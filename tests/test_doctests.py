"""The numpydoc examples of gzcodec's modules run, as the docs show them.

pytest collects no doctests here (``pyproject.toml`` gives no ``--doctest-modules``), so
an example could go stale unseen; these modules' examples run in about a second each.
Examples that need a model file or data are marked ``+SKIP`` in their modules.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules with examples that run without torch or a model.
TORCH_FREE_MODULES_WITH_EXAMPLES = [
    "gzcodec",
    "gzcodec.bench.interface",
    "gzcodec.bench.pool",
    "gzcodec.bench.ratecontrol",
    "gzcodec.carriers",
    "gzcodec.cli_info",
    "gzcodec.cluster",
    "gzcodec.codec",
    "gzcodec.container",
    "gzcodec.entropy",
    "gzcodec.errors",
    "gzcodec.families",
    "gzcodec.families.base",
    "gzcodec.families.enhanced",
    "gzcodec.fileio",
    "gzcodec.imageio",
    "gzcodec.metrics",
    "gzcodec.model_choice",
    "gzcodec.models.config",
    "gzcodec.payload",
    "gzcodec.qr",  # its capacity table needs segno (the qr extra, in the test extra)
    "gzcodec.rate",
    "gzcodec.realism_metrics",
    "gzcodec.refinement",
    "gzcodec.search",
    "gzcodec.textform",
    "gzcodec.threads",
]
#: Modules whose examples import torch (or the bundled model), still in a second or two.
TORCH_MODULES_WITH_EXAMPLES = [
    "gzcodec.bench",
    "gzcodec.bench.budgets",
    "gzcodec.bench.measure",
    "gzcodec.bench.metrics",
    "gzcodec.bench.summary",
    "gzcodec.models",
    "gzcodec.models.discriminator",
    "gzcodec.models.enhancement",
    "gzcodec.models.enhancement_prior",
    "gzcodec.models.growth",
    "gzcodec.models.realism",
    "gzcodec.train.validation",
    "gzcodec.zoo",
    "gzcodec.zoo.realism_file",
]


@pytest.mark.parametrize("name", TORCH_FREE_MODULES_WITH_EXAMPLES + TORCH_MODULES_WITH_EXAMPLES)
def test_the_examples_of_a_module_run(name):
    result = doctest.testmod(importlib.import_module(name), report=True)
    assert result.failed == 0 and result.attempted > 0, result
