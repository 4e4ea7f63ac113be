"""BD-rate between gzcodec models (issue 23's data-specificity table), on stand-ins for two models."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from gzcodec.bench import run_bench
from gzcodec.bench.classic import WebpCodec
from gzcodec.bench.records import BenchRun, ModelEntry

from .helpers import FakeGzcodec


class PaddedGzcodec(FakeGzcodec):
    """The fake gzcodec's files written twice: the same images at twice the rate."""

    name = family = label = "padded"

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        return super().encode(image, param=param) * 2

    def decode(self, data: bytes) -> Image.Image:
        return super().decode(data[: len(data) // 2])

    def info(self) -> ModelEntry:
        return ModelEntry(id="ba9876543210", name="padded", path="padded.safetensors", weights_bytes=1234)


def test_two_models_get_their_bd_rate_against_each_other(bench_dir, tmp_path):
    out = tmp_path / "results"
    run = run_bench(bench_dir, out, n=2, budgets=(1024, 2048), command_line="gzcodec bench faces",
                    progress=False, neural_codecs=[FakeGzcodec(), PaddedGzcodec()], classic=[WebpCodec()],
                    identity=False)
    # Same PSNR at twice the bytes: +100 % (the ladders' means are exact copies in PSNR).
    padded, fake = run.bd_models["padded"]["gzcodec"], run.bd_models["gzcodec"]["padded"]
    assert padded.bd_rate_pct == pytest.approx(100, abs=0.5)
    assert fake.bd_rate_pct == pytest.approx(-50, abs=0.5)
    assert padded.bd_psnr_db < 0 < fake.bd_psnr_db
    assert fake.psnr_overlap_db and fake.anchor_points == fake.test_points == 4

    # In results.json, read back as written; in the report, the range as for WebP.
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(saved["bd_models"]) == {"gzcodec", "padded"}
    loaded = BenchRun.load(out / "results.json")  # numbers rounded as written
    assert loaded.to_json()["bd_models"] == saved["bd_models"]
    assert loaded.bd_models["padded"]["gzcodec"].bd_rate_pct == pytest.approx(100, abs=0.5)
    report = (out / "report.md").read_text(encoding="utf-8")
    low, high = fake.psnr_overlap_db
    assert "## BD-rate between the gzcodec models" in report
    assert f"**{fake.bd_rate_pct:+.1f} %** against the padded model (over {low:.2f}-{high:.2f} dB)" in report


def test_one_model_records_no_bd_between_models(bench_dir, tmp_path):
    run = run_bench(bench_dir, tmp_path / "one", n=2, budgets=(2048,), command_line="gzcodec bench faces",
                    progress=False, neural_codecs=[FakeGzcodec()], classic=[WebpCodec()], identity=False)
    assert run.bd_models == {} and "bd_models" not in run.to_json()
    assert "between the gzcodec models" not in (tmp_path / "one" / "report.md").read_text(encoding="utf-8")
