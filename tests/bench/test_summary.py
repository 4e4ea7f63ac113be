"""gzcodec against the best classic codec at a budget (gzcodec.bench.summary), on made-up picks."""

from __future__ import annotations

import math

import pytest

from gzcodec.bench.records import MatchedCodec, MatchedTarget, Measurement, Pick, VariantMiss
from gzcodec.bench.summary import against_best_classic, best_classic

IMAGES = ("a.png", "b.png", "c.png")


def _picks(codec: str, psnrs, distances=None) -> MatchedCodec:
    """One pick per image: a file of that PSNR (SSIM PSNR/100), or none where the PSNR is None."""
    picks = []
    for i, (image, psnr) in enumerate(zip(IMAGES, psnrs, strict=True)):
        if psnr is None:
            picks.append(Pick(image, 300, {codec: VariantMiss(400)}, min_bytes=400))
            continue
        found = Measurement(image, codec, 1.0, 5, 290, 0.14, 10.0, psnr, psnr / 100, 0.9, 0.01, 0.002)
        distance = None if distances is None else distances[i]
        picks.append(Pick(image, 300, {codec: VariantMiss(0)}, measurement=found, face_distance=distance))
    return MatchedCodec.of(picks)


def _block(**codecs: MatchedCodec) -> MatchedTarget:
    return MatchedTarget(target_bpp=300 * 8 / 128**2, budget_bytes=300, codecs=codecs)


def test_the_best_classic_codec_is_the_best_mean_psnr_on_the_faces_it_reaches():
    codecs = {
        "gzcodec": _picks("gzcodec", [40, 40, 40]),  # never a contender
        "knn": _picks("knn", [35, 35, 35]),  # the poster's baseline: not a contender either
        "jpeg": _picks("jpeg", [None, None, None]),  # reaches no face
        "webp": _picks("webp", [25, 27, None]),  # mean 26 on two faces
        "avif": _picks("avif", [None, None, 26.5]),  # mean 26.5 on one face: the best
        "jxl": _picks("jxl", [24, 24, 24]),
    }
    assert best_classic(codecs) == "avif"
    del codecs["avif"]
    assert best_classic(codecs) == "webp"
    assert best_classic({"jpeg": codecs["jpeg"], "knn": codecs["knn"]}) is None


def test_gzcodec_is_compared_on_the_faces_both_reach():
    block = _block(
        gzcodec=_picks("gzcodec", [28, None, 30]),  # does not fit face b
        webp=_picks("webp", [25, 27, None]),  # the best classic: reaches a and b
        jxl=_picks("jxl", [20, 20, 20]),
    )
    v = against_best_classic(block, "gzcodec")
    assert v.family == "webp" and v.budget_bytes == 300 and v.n == 3
    assert v.gzcodec.n == 2 and v.gzcodec.psnr == pytest.approx(29.0)  # all the faces it fits
    assert v.classic_reached == 2 and v.shared == 1  # only face a is reached by both
    assert v.classic.psnr == 25 and v.gzcodec_on_shared.psnr == 28
    assert v.delta_psnr_db == pytest.approx(3.0) and v.delta_ssim == pytest.approx(0.03)
    assert v.gzcodec_same_person is None and v.classic_same_person is None  # identity not measured


def test_identity_shares_count_distances_below_the_threshold():
    block = _block(
        gzcodec=_picks("gzcodec", [28, 29, 30], distances=[0.2, 0.59, math.nan]),  # nan: a failed decode
        webp=_picks("webp", [25, 27, None], distances=[0.7, 0.3, None]),
    )
    assert block.codecs["gzcodec"].n_same_person == 2 and block.codecs["gzcodec"].n_judged == 3
    v = against_best_classic(block, "gzcodec")
    assert (v.gzcodec_same_person, v.gzcodec.n) == (2, 3)
    assert (v.classic_same_person, v.gzcodec_same_person_on_shared, v.shared) == (1, 2, 2)


def test_no_classic_codec_reaching_a_face_leaves_the_comparison_empty():
    v = against_best_classic(_block(gzcodec=_picks("gzcodec", [28, 29, 30]), webp=_picks("webp", [None] * 3)),
                             "gzcodec")
    assert v.family is None and v.shared == 0 and math.isnan(v.delta_psnr_db)
