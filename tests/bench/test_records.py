"""The schema of results.json (gzcodec.bench.records): typed records, the exact JSON layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gzcodec.bench.records import BenchRun, Mean, Measurement, Pick, VariantFit, VariantMiss
from gzcodec.bench.report import render_markdown

RESULTS = Path(__file__).resolve().parents[2] / "results"


def _bench_runs() -> list[Path]:
    """The committed results.json files written by ``gzcodec bench`` (not other benchmarks')."""
    return [
        path
        for path in sorted(RESULTS.glob("*/results.json"))
        if {"meta", "points", "matched"} <= set(json.loads(path.read_text(encoding="utf-8")))
    ]


def test_a_committed_bench_run_is_there():
    assert RESULTS / "celeba128-val200" / "results.json" in _bench_runs()


@pytest.mark.parametrize("path", _bench_runs(), ids=lambda p: p.parent.name)
def test_committed_results_load_and_are_written_back_byte_for_byte(path, tmp_path):
    run = BenchRun.load(path)
    assert run.meta.n_images == len(run.meta.images)
    assert all(isinstance(m, Measurement) for p in run.points.values() for m in p.images)
    run.save(tmp_path / "results.json")
    assert (tmp_path / "results.json").read_bytes() == path.read_bytes()
    # The report is rebuilt from the JSON alone, nulls (NaN means) included.
    report = render_markdown(run)
    assert report.startswith("# gzcodec benchmark")
    for model in run.meta.models.values():
        assert model.id in report


def _measurement(**changes) -> Measurement:
    values = dict(image="a.png", codec="webp@0.5", scale=0.5, param=5, nbytes=202, bpp=0.0986328, mse=178.73,
                  psnr=25.6088, ssim=0.74937, ms_ssim=0.874941, encode_s=0.0007, decode_s=0.0005)
    return Measurement(**{**values, **changes})


def test_a_pick_is_written_flat_and_read_back():
    variants = {"webp": VariantMiss(288), "webp@0.5": VariantFit(5, 202, 25.6088)}
    pick = Pick("a.png", 204, variants, measurement=_measurement(), encodes=18)
    data = pick.to_json()
    assert list(data) == ["image", "codec", "scale", "param", "bytes", "bpp", "mse", "psnr", "ssim",
                          "ms_ssim", "encode_s", "decode_s", "reached", "budget_bytes", "variants", "encodes"]
    assert data["variants"] == {"webp": {"reached": False, "min_bytes": 288},
                                "webp@0.5": {"param": 5, "bytes": 202, "psnr": 25.6088}}
    assert Pick.from_json(data) == pick and pick.reached

    missed = Pick("a.png", 100, {"webp": VariantMiss(288)}, min_bytes=288)
    data = missed.to_json()
    assert data == {"image": "a.png", "reached": False, "budget_bytes": 100, "min_bytes": 288,
                    "variants": {"webp": {"reached": False, "min_bytes": 288}}}
    assert Pick.from_json(data) == missed and not missed.reached


def test_means_over_no_measurement_are_nan_and_read_back_from_null():
    empty = Mean.of([])
    assert empty.n == 0 and math.isnan(empty.psnr)
    back = Mean.from_json({**empty.to_json(), "psnr": None})
    assert back.n == 0 and math.isnan(back.psnr)
    two = Mean.of([_measurement(psnr=20.0), _measurement(psnr=30.0)])
    assert two.n == 2 and two.psnr == 25.0 and two.to_json()["bpp"] == pytest.approx(0.0986328)
