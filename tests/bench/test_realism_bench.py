"""``gzcodec bench --realism``: one file decoded at each β against WebP, its report and its targets.

The model is the committed tiny v2 model (64 pixels) with a realism decoder
made in the test (its base generator, untrained: β = 1 decodes as β = 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gzcodec.bench.realism_report import check_targets, render_realism_report
from gzcodec.bench.realism_run import Decode, run_realism_bench, summarise
from gzcodec.cli import app

TINY = Path(__file__).resolve().parents[1] / "golden" / "context" / "tiny-v2.safetensors"


@pytest.fixture(scope="module")
def realism_file(tmp_path_factory) -> Path:
    import gzcodec
    from gzcodec.models.config import RealismConfig
    from gzcodec.models.realism import RealismGenerator
    from gzcodec.zoo.realism_file import save_realism

    lm = gzcodec.load_model(TINY)
    decoder = RealismGenerator.from_generator(RealismConfig.for_base(lm.config), lm.network.generator)
    path = tmp_path_factory.mktemp("realism") / "tiny-v2.realism.safetensors"
    save_realism(decoder, path, base=lm, name="untrained")
    return path


def test_the_realism_bench_writes_tables_grids_and_targets(bench_dir, realism_file, tmp_path):
    out = tmp_path / "out"
    results = run_realism_bench(bench_dir, out, n=3, budgets=(40, 120), model=str(TINY),
                                realism_weights=realism_file, identity=False, cache=None,
                                command_line="gzcodec bench ... --realism 0,1", log=lambda line: None)
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "grid-40B.png",
                                               "grid-120B.png"}
    rows = {(r["variant"], r["budget"]): r for r in json.loads((out / "results.json").read_text())
            ["summaries"]}
    assert set(rows) == {(v, b) for v in ("β=0", "β=1", "webp") for b in (40, 120)}
    # An untrained realism decoder is its base generator: the same pixels at β = 1.
    zero, one = rows["β=0", 120], rows["β=1", 120]
    assert zero["fitted"] == 3 and zero["psnr"] == one["psnr"] and zero["sharpness"] == one["sharpness"]
    assert zero["mean_bytes"] <= 120 and rows["webp", 40]["fitted"] == 0  # WebP cannot go that small
    assert zero["same_person"] is None and zero["kid"] is None  # --no-identity
    report = (out / "report.md").read_text()
    assert report.startswith("# Realism bench") and "gzcodec bench ... --realism 0,1" in report
    assert "## ≤ 40 B" in report and "grid-120B.png" in report and "## Targets (issue 22)" in report
    assert results["realism"]["name"] == "untrained"


def test_without_a_realism_decoder_the_bench_refuses_before_any_work(bench_dir, tmp_path, isolated_models):
    from gzcodec.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="no realism decoder"):
        run_realism_bench(bench_dir, tmp_path / "out", n=1, model=str(TINY), identity=False)
    assert not (tmp_path / "out").exists()


def test_summaries_compute_identity_and_kid_from_descriptors():
    rng = np.random.default_rng(0)
    originals = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(8)]
    references = [rng.normal(size=128) * 0.1 for _ in originals]
    row = [Decode(pixels=o, nbytes=90, decode_s=0.01, psnr=30.0, ssim=0.9,
                  descriptor=r + 0.01, distance=0.1 * 128 ** 0.5 * (k % 2 * 5))
           for k, (o, r) in enumerate(zip(originals, references, strict=True))]
    row[0] = Decode()  # one face that does not fit
    summary = summarise("β=1", 100, originals, row, references)
    assert summary.fitted == 7 and summary.sharpness == [1.0] * 4
    assert summary.same_person == pytest.approx(3 / 7)  # faces 2, 4 and 6: distance 0
    assert summary.kid is not None and summary.kid_low <= summary.kid <= summary.kid_high


def _results(**changes) -> dict:
    def row(variant, budget, **values):
        base = dict(variant=variant, budget=budget, fitted=10, images=10, mean_bytes=budget - 5,
                    psnr=24.0, ssim=0.7, same_person=0.9, sharpness=[0.6, 0.3, 0.1, 0.05],
                    kid=4e-3, kid_low=3e-3, kid_high=5e-3, decode_ms=20.0)
        return {**base, **values}

    good = dict(psnr=23.0, same_person=0.88, sharpness=[1.0, 0.9, 0.8, 0.75], kid=1e-3, kid_low=0.5e-3,
                kid_high=1.5e-3, decode_ms=24.0)
    summaries = [row("β=0", b) for b in (100, 150, 205, 441)]
    summaries += [row("β=1", b, **{**good, **changes}) for b in (100, 150, 205, 441)]
    return {"betas": [0.0, 1.0], "budgets": [100, 150, 205, 441], "summaries": summaries,
            "realism": {"id": "0" * 12, "name": "r", "path": "r", "training": {"cpu_hours": 5.5}},
            "command": "c", "images": 10, "image_dir": "d", "model": {"name": "m", "id": "1" * 12},
            "identity": "dlib", "date": "now", "wall_time_s": 1.0}


def test_targets_are_checked_on_the_numbers():
    assert all(" met" in line and "NOT" not in line for line in check_targets(_results()))
    assert "NOT met" in check_targets(_results(sharpness=[1.4, 1, 1, 1]))[0]
    assert "NOT met" in check_targets(_results(kid=3e-3, kid_low=2e-3, kid_high=4e-3))[1]
    assert "NOT met" in check_targets(_results(psnr=21.5))[2]
    assert "NOT met" in check_targets(_results(same_person=0.85))[2]
    assert "NOT met" in check_targets(_results(decode_ms=31.0))[3]
    assert "## ≤ 441 B" in render_realism_report(_results())


def test_the_command_takes_realism_weights_and_refuses_bad_ones(bench_dir, tmp_path):
    result = CliRunner().invoke(app, ["bench", str(bench_dir), "--realism", "0,2", "--out",
                                      str(tmp_path / "o")])
    assert result.exit_code == 1 and "--realism" in result.output
    result = CliRunner().invoke(app, ["bench", str(bench_dir), "--realism", "0,1", "--classic-only",
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "one model" in result.output
