"""The identity column (gzcodec.bench.identity, identity_run) and the report's table against the
best classic codec, on the astronaut's face (scikit-image's sample)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

import gzcodec.bench.identity as identity
from gzcodec.bench import run_bench
from gzcodec.bench.classic import JpegCodec, WebpCodec
from gzcodec.bench.identity_run import judge_picks
from gzcodec.bench.records import MatchedCodec, Measurement, Pick

from .helpers import FakeGzcodec

needs_dlib = pytest.mark.skipif(identity.unavailable_reason() is not None, reason="dlib is not installed")


def _astronaut_face() -> np.ndarray:
    """Her face, cropped and resized as a CelebA face is (dlib's detector finds it)."""
    crop = Image.fromarray(skdata.astronaut()[:224, 100:324])
    return np.asarray(crop.resize((128, 128), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def judge():
    if identity.unavailable_reason() is not None:
        pytest.skip("dlib is not installed")
    return identity.FaceIdentity()


@needs_dlib
def test_the_same_face_is_the_same_person_and_a_blank_or_a_cat_is_not(judge):
    face = _astronaut_face()
    reference = judge.reference(face)
    assert reference.detected and len(reference.landmarks) == 5 and reference.descriptor.shape == (128,)
    assert judge.distance(reference, face) == pytest.approx(0.0, abs=1e-6)
    assert judge.same_person(reference, face)
    assert not judge.same_person(reference, np.full_like(face, 128))
    cat = np.asarray(Image.fromarray(skdata.chelsea()).resize((128, 128)))
    assert judge.distance(reference, cat) > identity.SAME_PERSON_DISTANCE
    # A decode whose descriptor cannot be computed is a failure: infinitely far, not the same person.
    assert judge.distance(reference, np.zeros((4, 4), np.uint8)) == math.inf


@needs_dlib
def test_without_a_detected_face_the_whole_image_is_the_box(judge):
    blank = np.full((128, 128, 3), 200, np.uint8)
    reference = judge.reference(blank)
    assert not reference.detected and reference.box == (0, 0, 127, 127)
    assert judge.same_person(reference, blank)


@needs_dlib
def test_the_module_examples_run():
    result = doctest.testmod(identity)
    assert result.failed == 0 and result.attempted > 0, result


def test_models_are_found_without_importing_the_package(monkeypatch):
    # face_recognition_models' __init__ imports pkg_resources: only its folder is looked up.
    if identity.unavailable_reason() is None:
        assert (identity.models_dir() / identity.RECOGNITION_FILE).is_file()
    monkeypatch.setattr(identity.importlib.util, "find_spec", lambda name: None)
    assert identity.models_dir() is None and identity.unavailable_reason() == "not installed"


def _pick(image: str, codec: str, param: int) -> Pick:
    found = Measurement(image, codec, 1.0, param, 300, 0.15, 10.0, 30.0, 0.9, 0.9, 0.01, 0.002)
    return Pick(image, 300, {}, measurement=found)


@needs_dlib
@pytest.mark.parametrize("workers", [1, 2])  # 2: the process pool of `gzcodec bench --workers 2`
def test_judge_picks_on_a_known_pair(workers):
    face = _astronaut_face()
    decodes = {("gzcodec", 5): face, ("webp", 9): np.full_like(face, 128)}  # herself, and no one
    picks = {0.1: {"gzcodec": [_pick("a", "gzcodec", 5)], "webp": [_pick("a", "webp", 9)],
                   "jpeg": [_pick("a", "jpeg", 1)]}}
    chosen = {0.1: ["gzcodec", "webp"]}  # jpeg is not judged
    judged, undetected = judge_picks(picks, chosen, [face], lambda i, m: decodes[m.codec, m.param],
                                    workers=workers)
    assert undetected == 0
    assert MatchedCodec.of(judged[0.1]["gzcodec"]).n_same_person == 1
    assert MatchedCodec.of(judged[0.1]["webp"]).n_same_person == 0
    assert judged[0.1]["jpeg"][0].face_distance is None
    assert MatchedCodec.of(judged[0.1]["jpeg"]).n_same_person is None


@pytest.mark.parametrize("installed", [True, False])
def test_the_report_shows_gzcodec_against_the_best_classic_codec(bench_dir, tmp_path, monkeypatch, installed):
    import gzcodec.bench.runner as runner

    if installed and identity.unavailable_reason() is not None:
        pytest.skip("dlib is not installed")
    if not installed:
        monkeypatch.setattr(runner, "unavailable_reason", lambda: "not installed")
    out = tmp_path / "out"
    run = run_bench(bench_dir, out, n=2, budgets=(100, 1024), progress=False,
                    neural_codecs=[FakeGzcodec()], classic=[JpegCodec(), WebpCodec()])
    report = (out / "report.md").read_text(encoding="utf-8")
    section = report[report.index("## Against the best classic codec"):report.index("## The poster's table")]
    header = "| budget | gzcodec PSNR / SSIM (all faces) | best classic: PSNR / SSIM on its n faces |"
    assert header in section
    versus = run.versus["gzcodec"]
    assert list(versus) == ["100", "1024"] and run.meta.budgets_bytes == (100, 1024)
    assert versus["100"].family is None and "| ≤ 100 B | – / – (0/2 fit) | none reaches a face |" in section
    best = versus["1024"]
    assert best.family in ("jpeg", "webp") and best.shared == best.classic_reached == 2
    assert f"| ≤ 1024 B | {best.gzcodec.psnr:.2f} / {best.gzcodec.ssim:.3f} (2/2 fit) |" in section
    assert f"{best.delta_psnr_db:+.2f}" in section
    assert "BD-rate of gzcodec: – against WebP" in section  # two budgets: too few points for a fit
    assert "### ≤ 100 B (0.0488 bpp)" in report and "decode ms (median)" in report
    if installed:
        assert run.meta.identity.status == "measured"
        assert versus["100"].classic_same_person is None  # nothing to judge: no classic file fits
        assert best.gzcodec_same_person is not None and best.classic_same_person is not None
        assert "gzcodec: same person (faces that fit)" in section
    else:
        assert run.meta.identity.status == "not installed"
        assert "Same person (identity): not installed" in section
        assert all(v.gzcodec_same_person is None for v in versus.values())
