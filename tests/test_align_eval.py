"""What ``--align``'s measurements rest on: the true-crop reference arm and the template's record.

``benchmarks/align_eval.py`` judges alignment against *true crops*: the same
picture cut by the transform gzcodec would fit to the ground-truth landmarks.
These tests check that geometry without dlib or CelebA (landmarks made up from
the template itself), and that the shipped template records where it came from
in words that hold on any machine.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gzcodec.align.template import TEMPLATE_FILE

ROOT = Path(__file__).resolve().parent.parent


def _load(relative: str):
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


derive = _load("scripts/derive_align_template.py")


@pytest.mark.parametrize("path", [TEMPLATE_FILE, ROOT / "results" / "align" / "template.json"])
def test_template_records_its_source_relative_to_the_repository(path):
    record = json.loads(path.read_text())
    source = record.get("template", record)["source"]
    assert source.startswith("../shared/data/celeba128/train ")


def test_derive_script_records_the_source_relative():
    absolute = ROOT.parent / "shared" / "data" / "celeba128" / "train"
    assert derive.recorded_path(absolute) == "../shared/data/celeba128/train"
