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

import numpy as np
import pytest
from skimage.transform import SimilarityTransform

from gzcodec.align import ALIGN_POINTS
from gzcodec.align.template import TEMPLATE_FILE, Template, eye_centres, load_template

ROOT = Path(__file__).resolve().parent.parent


def _load(relative: str):
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


align_eval = _load("benchmarks/align_eval.py")
derive = _load("scripts/derive_align_template.py")


def test_true_crop_puts_the_true_eyes_on_the_template():
    template = load_template()
    eyes_template = Template(template.size, template.landmarks[ALIGN_POINTS])
    # An original crop whose face sits lower and smaller than the template's (as CelebA's
    # other crop convention does), placed turned and enlarged in a picture.
    in_crop = SimilarityTransform(scale=0.92, translation=(4.0, 10.0))(template.landmarks)
    placed = SimilarityTransform(scale=1.3, rotation=0.3, translation=(210.0, 95.0))
    perfect = align_eval.true_alignment(placed, in_crop, eyes_template)
    true_eyes = placed(eye_centres(in_crop))
    assert np.abs(perfect.inverse(true_eyes) - template.eye_centres).max() < 1e-6
    # Not the script's transform itself: that keeps the original crop's framing.
    assert np.abs(placed.inverse(true_eyes) - template.eye_centres).max() > 5


@pytest.mark.parametrize(("span", "band"), [
    (60.0, "60-79px"), (79.99, "60-79px"), (80.0, "80-109px"), (139.9, "110-139px"),
    (180.0, "140-180px"), (59.9, None), (181.0, None),
])
def test_face_span_bands(span, band):
    assert align_eval.span_band(span) == band


@pytest.mark.parametrize("path", [TEMPLATE_FILE, ROOT / "results" / "align" / "template.json"])
def test_template_records_its_source_relative_to_the_repository(path):
    record = json.loads(path.read_text())
    source = record.get("template", record)["source"]
    assert source.startswith("../shared/data/celeba128/train ")


def test_derive_script_records_the_source_relative():
    absolute = ROOT.parent / "shared" / "data" / "celeba128" / "train"
    assert derive.recorded_path(absolute) == "../shared/data/celeba128/train"
