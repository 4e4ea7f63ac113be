"""The benchmark: rate control, metrics, BD-rate, the classic codecs and a tiny end-to-end run.

Nothing here needs a trained model or the data set: images are crops of
scikit-image's astronaut, and gzcodec's slot is taken by :class:`FakeGzcodec`.
"""

from __future__ import annotations

import io
import json
import math
import zlib

import numpy as np
import pytest
import typer
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

from gzcodec.bench import run_bench
from gzcodec.bench.classic import (
    AvifCodec,
    JpegCodec,
    JxlCodec,
    KnnCodec,
    ScaledCodec,
    WebpCodec,
    classic_codecs,
)
from gzcodec.bench.cli import bench
from gzcodec.bench.diskcache import DiskEntry, default_cache_dir, image_key
from gzcodec.bench.interface import Codec, bits_per_pixel
from gzcodec.bench.metrics import bd_psnr, bd_rate, ms_ssim, mse, pareto_front, psnr, quality_metrics, ssim
from gzcodec.bench.ratecontrol import EncodeCache, Trial, largest_within, match_budget


def _faces(count: int) -> list[Image.Image]:
    """``count`` different 128x128 crops of the astronaut (her face and around it)."""
    pixels = skdata.astronaut()
    corners = [(0, 100), (30, 150), (60, 120), (10, 200), (80, 80)]
    out = []
    for top, left in corners[:count]:
        crop = Image.fromarray(pixels[top : top + 224, left : left + 224])
        out.append(crop.resize((128, 128), Image.Resampling.LANCZOS))
    return out


@pytest.fixture(scope="module")
def face() -> Image.Image:
    return _faces(1)[0]


class FakeGzcodec:
    """Stands in for gzcodec: a 16x16 thumbnail at ``bits`` bits per channel, zlib-coded."""

    name = family = label = "gzcodec"
    scale = 1.0
    param_name = "bits"
    param_values = (2, 3, 4, 5)
    description = "fake gzcodec: 16x16 thumbnail, bits per channel, zlib"

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        small = np.asarray(image.convert("RGB").resize((16, 16), Image.Resampling.BOX))
        return bytes([param]) + zlib.compress((small >> (8 - param)).tobytes(), 9)

    def encode_batch(self, images: list[Image.Image], *, param: int) -> list[bytes]:
        return [self.encode(im, param=param) for im in images]

    def decode(self, data: bytes) -> Image.Image:
        bits = data[0]
        levels = np.frombuffer(zlib.decompress(data[1:]), np.uint8).reshape(16, 16, 3)
        centres = (levels.astype(np.uint16) << (8 - bits)) + (1 << (7 - bits))
        return Image.fromarray(centres.astype(np.uint8)).resize((128, 128), Image.Resampling.BICUBIC)

    def info(self) -> dict:
        return {"id": "0123456789ab", "name": "fake", "path": "fake.safetensors", "weights_bytes": 1234}


# --------------------------------------------------------------------------- rate control


@pytest.mark.parametrize("budget", [99, 100, 101, 555, 1099, 1100, 5000])
def test_largest_within_is_the_largest_setting_that_fits(budget):
    def size(q):
        return 100 + 10 * q

    got = largest_within(size, range(101), budget)
    expected = max((q for q in range(101) if size(q) <= budget), default=None)
    assert got == expected


def test_largest_within_reports_unreachable_and_uses_known_sizes():
    calls = []

    def size(q):
        calls.append(q)
        return 450 + q

    assert largest_within(size, range(1, 101), 449) is None
    assert calls == [1]  # one encode at the lowest setting says it cannot be done
    calls.clear()
    known = {q: 450 + q for q in (1, 40, 41)}
    assert largest_within(size, range(1, 101), 490, known=known) == 40
    assert calls == []  # the bracket 40 / 41 was already known


def test_largest_within_never_exceeds_the_budget_when_sizes_are_not_monotone():
    sizes = [100, 120, 115, 140, 138, 160, 150, 200]
    for budget in range(90, 210, 3):
        got = largest_within(lambda i: sizes[i], range(len(sizes)), budget)
        assert got is None or sizes[got] <= budget
        assert (got is None) == (budget < sizes[0])


def test_match_budget_memoises_encodes(face):
    codec = JpegCodec()
    cache = EncodeCache(codec, face)
    low = match_budget(cache, 700)
    encodes = len(cache.trials)
    high = match_budget(cache, 1500)
    assert low is not None and high is not None
    assert low.nbytes <= 700 < len(codec.encode(face, param=low.param + 1))
    assert high.nbytes <= 1500 and high.param > low.param
    assert len(cache.trials) < 2 * encodes  # the second search reused the first's sizes
    assert match_budget(cache, 100) is None  # no JPEG of a face fits in 100 bytes


def test_bits_per_pixel_counts_every_byte():
    assert bits_per_pixel(b"x" * 441, (128, 128)) == pytest.approx(0.2153, abs=1e-4)
    assert bits_per_pixel(2048, (128, 128)) == 1.0


# --------------------------------------------------------------------------- metrics


def test_identical_images_are_perfect(face):
    a = np.asarray(face)
    assert mse(a, a) == 0
    assert psnr(a, a) == math.inf
    assert ssim(a, a) == pytest.approx(1.0)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-5)


def test_known_mse_and_psnr():
    a = np.full((64, 64, 3), 100, np.uint8)
    b = a + np.uint8(3)
    assert mse(a, b) == 9.0
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 9))


def test_metrics_fall_with_distortion(face):
    a = np.asarray(face)
    noise = np.random.default_rng(0).normal(0, 12, a.shape)
    b = np.clip(a + noise, 0, 255).astype(np.uint8)
    m = quality_metrics(a, b)
    assert 24 < m["psnr"] < 30
    assert 0 < m["ssim"] < 0.95 and 0 < m["ms_ssim"] < 0.99


def test_bd_rate_of_a_curve_against_itself_and_half_its_rate():
    rate = [0.1, 0.2, 0.4, 0.8, 1.6]
    quality = [20.0, 23.5, 26.5, 29.0, 31.0]
    assert bd_rate(rate, quality, rate, quality) == pytest.approx(0.0, abs=1e-9)
    assert bd_rate(rate, quality, [r / 2 for r in rate], quality) == pytest.approx(-50.0, abs=1e-6)
    assert bd_rate(rate, quality, [r * 2 for r in rate], quality) == pytest.approx(100.0, abs=1e-6)
    assert bd_psnr(rate, quality, rate, quality) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(rate, quality, rate, [q + 1 for q in quality]) == pytest.approx(1.0, abs=1e-6)


def test_bd_rate_is_nan_without_enough_points_or_overlap():
    rate, quality = [0.1, 0.2, 0.4, 0.8], [20.0, 23.0, 26.0, 29.0]
    assert math.isnan(bd_rate(rate[:3], quality[:3], rate, quality))
    assert math.isnan(bd_rate(rate, quality, rate, [q + 20 for q in quality]))


# --------------------------------------------------------------------------- classic codecs


def test_knn_codec_is_a_four_colour_palette_png(face):
    codec = KnnCodec()
    data = codec.encode(face, param=4)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[24] == 2  # IHDR bit depth: 2-bit palette indices
    with Image.open(io.BytesIO(data)) as png:
        assert png.mode == "P"
    decoded = np.asarray(codec.decode(data))
    assert decoded.shape == (128, 128, 3)
    assert len(np.unique(decoded.reshape(-1, 3), axis=0)) <= 4
    assert codec.encode(face, param=4) == data  # seeded k-means: reproducible files


@pytest.mark.parametrize("codec", [JpegCodec(), WebpCodec(), AvifCodec(), JxlCodec(), KnnCodec()])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_classic_codecs_round_trip_at_full_size(face, codec, scale):
    variant: Codec = codec if scale == 1.0 else ScaledCodec(codec, scale)
    param = variant.param_values[len(variant.param_values) // 2]
    data = variant.encode(face, param=param)
    out = variant.decode(data)
    assert out.size == (128, 128) and out.mode == "RGB"
    assert psnr(np.asarray(face), np.asarray(out)) > 18


def test_classic_codecs_cover_every_family_and_scale():
    codecs = classic_codecs()
    assert {c.family for c in codecs} == {"jpeg", "webp", "avif", "jxl", "knn"}
    assert len({c.name for c in codecs}) == len(codecs) == 15
    assert all(isinstance(c, Codec) for c in codecs)
    assert ScaledCodec(WebpCodec(), 0.75).name == "webp@0.75"


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    for i, im in enumerate(_faces(3)):
        im.save(folder / f"{i:06d}.png")
    return folder


@pytest.mark.slow
def test_run_bench_end_to_end(bench_dir, tmp_path):
    out = tmp_path / "results"
    codecs = [JpegCodec(), ScaledCodec(JpegCodec(), 0.5), WebpCodec(), KnnCodec()]
    results = run_bench(
        bench_dir,
        out,
        n=3,
        targets=(0.15, 0.2152, 0.3, 0.5, 1.0),
        command_line="gzcodec bench faces --n 3",
        progress=False,
        neural_codecs=[FakeGzcodec()],
        classic=codecs,
    )
    for name in ("report.md", "results.json", "rd.png", "grid.png"):
        assert (out / name).stat().st_size > 0
    report = (out / "report.md").read_text(encoding="utf-8")
    head = "\n".join(report.splitlines()[:12])
    for needle in (
        "gzcodec bench faces --n 3",
        "Date:",
        "CPUs",
        "gzcodec version",
        "0123456789ab",
        "Wall time",
    ):
        assert needle in head
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["meta"]["images"] == ["000000.png", "000001.png", "000002.png"]

    # The poster's four rows, ours measured on the (here only three) first images.
    methods = [row["method"] for row in results["poster_table"]]
    assert methods == ["KNN (K=4)", "JPEG (10%)", "JPEG (1%)", "GAN reversal (gzcodec)"]
    assert all(row["ours"]["n"] == 3 for row in results["poster_table"])

    # Matched rates: every pick fits its budget, and the scale that won is recorded.
    for block in results["matched"].values():
        for m in block["codecs"].values():
            assert m["n"] == 3 and 0 <= m["n_reached"] <= 3
            for entry in m["images"]:
                if entry["reached"]:
                    assert entry["bytes"] <= block["budget_bytes"]
                    assert entry["bpp"] <= block["target_bpp"]
                    assert entry["scale"] in (1.0, 0.5)
                else:
                    assert entry["min_bytes"] > block["budget_bytes"]
    assert results["matched"]["1"]["codecs"]["jpeg"]["n_reached"] == 3

    # gzcodec's ladder: a point per bits setting; BD-rates against each classic family.
    assert results["ladders"]["gzcodec"] == [f"gzcodec bits={b}" for b in (2, 3, 4, 5)]
    assert set(results["bd"]["gzcodec"]) == {"jpeg", "webp", "knn"}
    assert len(results["grid"]["faces"]) == 3


def _matched_numbers(results):
    """Every measured (bytes, PSNR) of the bench's images, outside the grid."""
    picks = {
        (t, family, e["image"]): (e.get("bytes"), e.get("psnr"))
        for t, block in results["matched"].items()
        for family, m in block["codecs"].items()
        for e in m["images"]
    }
    points = {
        (k, r["image"]): (r["bytes"], r["psnr"]) for k, p in results["points"].items() for r in p["images"]
    }
    return picks, points, results["smallest"]


@pytest.mark.slow
def test_grid_dir_draws_the_grid_from_another_folder(bench_dir, tmp_path):
    from gzcodec.imageio import load_image, to_model_input

    grid_dir = tmp_path / "shown"
    grid_dir.mkdir()
    for i, im in enumerate(_faces(5)):
        im.save(grid_dir / f"g{i}.png")
    # Not square: the grid loads it as the bench does (centred square, 128x128).
    Image.fromarray(skdata.astronaut()[:300, 50:450]).save(grid_dir / "a-wide.png")
    (grid_dir / "notes.txt").write_text("not an image", encoding="utf-8")
    codecs = [JpegCodec(), WebpCodec(), ScaledCodec(WebpCodec(), 0.5)]
    kwargs = dict(n=2, targets=(1.0,), progress=False, neural_codecs=[FakeGzcodec()], classic=codecs)
    cache = tmp_path / "cache"
    plain = run_bench(bench_dir, tmp_path / "plain", cache=cache, **kwargs)
    out = tmp_path / "shown-out"
    results = run_bench(bench_dir, out, cache=cache, grid_dir=grid_dir, **kwargs)

    shown = ["a-wide.png", "g0.png", "g1.png", "g2.png"]  # sorted, first 4
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [face["image"] for face in saved["grid"]["faces"]] == shown
    assert saved["grid"]["image_dir"] == grid_dir.as_posix()
    assert [face["image"] for face in plain["grid"]["faces"]] == ["000000.png", "000001.png"]
    assert "image_dir" not in plain["grid"]
    assert (out / "grid.png").stat().st_size > 0

    # Each face's budget is gzcodec's file of that image at the grid's setting; WebP fits in it.
    param = saved["grid"]["param"]
    for face in saved["grid"]["faces"]:
        pixels = to_model_input(load_image(grid_dir / face["image"]), 128)[0]
        budget = len(FakeGzcodec().encode(Image.fromarray(pixels), param=param))
        assert face["budget_bytes"] == face["tiles"]["gzcodec"]["bytes"] == budget
        webp = face["tiles"]["webp"]
        assert webp["image"] == face["image"]
        assert not webp["reached"] or webp["bytes"] <= budget

    # Every number outside the grid still comes from the bench's images, unchanged.
    assert saved["meta"]["images"] == ["000000.png", "000001.png"]
    assert _matched_numbers(results) == _matched_numbers(plain)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"`{grid_dir.as_posix()}/`" in report and "`a-wide.png`, `g0.png`" in report
    plain_report = (tmp_path / "plain" / "report.md").read_text(encoding="utf-8")
    assert "The grid shows the images in" not in plain_report

    # Without gzcodec there is no grid, with or without --grid-dir.
    classic = _classic_run(bench_dir, tmp_path / "classic", cache, codecs, grid_dir=grid_dir)
    assert classic["grid"] == {"faces": []} and not (tmp_path / "classic" / "grid.png").exists()


def test_cli_refuses_a_non_empty_output_folder(bench_dir, tmp_path):
    app = typer.Typer()
    app.command("bench")(bench)
    app.command("other")(lambda: None)  # two commands: bench is a subcommand, as in gzcodec's app
    out = tmp_path / "taken"
    out.mkdir()
    (out / "report.md").write_text("old", encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", str(bench_dir), "--out", str(out), "--n", "1"])
    assert result.exit_code != 0
    assert "--force" in result.output
    assert (out / "report.md").read_text(encoding="utf-8") == "old"


def test_pareto_front_drops_settings_that_cost_more_for_less():
    assert pareto_front([0.2, 0.3, 0.31, 0.4], [25.0, 26.0, 25.5, 27.0]) == [0, 1, 3]
    assert pareto_front([0.4, 0.1, 0.2], [30.0, 20.0, 25.0]) == [1, 2, 0]


# --------------------------------------------------------------------------- persistent encode cache


class CountingJpeg(JpegCodec):
    """JPEG that counts its encoder calls and takes a while, as AVIF would."""

    calls = 0

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        CountingJpeg.calls += 1  # on the base class, subclasses included
        return super().encode(image, param=param)


def _without_timing(value):
    """``value`` without decode times and run metadata: what two runs must share."""
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in ("decode_s", "meta")}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _classic_run(bench_dir, out, cache, codecs, **kwargs):
    return run_bench(
        bench_dir,
        out,
        n=2,
        targets=(0.3, 0.5, 1.0),
        command_line="gzcodec bench faces --n 2 --classic-only",
        progress=False,
        neural_codecs=[],
        classic=codecs,
        cache=cache,
        **kwargs,
    )


def test_second_run_replays_classic_encodes_from_the_disk_cache(bench_dir, tmp_path):
    codecs = [CountingJpeg(), ScaledCodec(CountingJpeg(), 0.5)]
    cache = tmp_path / "cache"
    CountingJpeg.calls = 0
    first = _classic_run(bench_dir, tmp_path / "a", cache, codecs)
    encoded = CountingJpeg.calls
    assert encoded > 0 and first["meta"]["classic_cache"] == {
        "dir": str(cache),
        "encoder_calls": encoded,
        "cache_hits": 0,
    }
    # One file per image and codec variant.
    assert len(list(cache.glob("*/*.json"))) == 2 * len(codecs)

    CountingJpeg.calls = 0
    second = _classic_run(bench_dir, tmp_path / "b", cache, codecs)
    assert CountingJpeg.calls == 0
    assert second["meta"]["classic_cache"]["encoder_calls"] == 0
    assert second["meta"]["classic_cache"]["cache_hits"] == encoded
    # Same picks, same bytes, same metrics, and the encode times measured by the first run.
    assert _without_timing(second) == _without_timing(first)
    assert (tmp_path / "b" / "report.md").read_text(encoding="utf-8").startswith("# gzcodec benchmark")

    # A changed setting is another key: nothing replayed.
    CountingJpeg.calls = 0
    _classic_run(bench_dir, tmp_path / "c", cache, [CountingJpeg(description="optimize=False")])
    assert CountingJpeg.calls > 0


def test_a_corrupt_cache_file_is_ignored_and_overwritten(face, tmp_path):
    codec = CountingJpeg()
    key = image_key(np.asarray(face))
    entry = DiskEntry(tmp_path, key, codec)
    entry.put(Trial(50, codec.encode(face, param=50), 0.25))
    assert DiskEntry(tmp_path, key, codec).get(50) == Trial(50, entry.get(50).data, 0.25)

    for junk in (b"{not json", b'{"format": 1, "codec": "jpeg", "settings": 3}', b"\xff\xfe", b""):
        entry.path.write_bytes(junk)
        CountingJpeg.calls = 0
        cache = EncodeCache(codec, face, DiskEntry(tmp_path, key, codec))
        trial = cache(50)
        assert CountingJpeg.calls == 1 and cache.disk_hits == 0
        assert trial.data == codec.encode(face, param=50)
        # Rewritten whole: the next reader replays it.
        again = EncodeCache(codec, face, DiskEntry(tmp_path, key, codec))
        assert again(50) == trial and again.encoder_calls == 0 and again.disk_hits == 1
    assert not list(tmp_path.glob("*/.*.tmp"))  # no temporary file left behind


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "gzcodec" / "bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir().parts[-3:] == (".cache", "gzcodec", "bench")


@pytest.mark.slow
def test_disk_cache_works_across_worker_processes(bench_dir, tmp_path):
    codecs = [JpegCodec(), ScaledCodec(WebpCodec(), 0.5)]
    cache = tmp_path / "cache"
    first = _classic_run(bench_dir, tmp_path / "a", cache, codecs, workers=2)
    second = _classic_run(bench_dir, tmp_path / "b", cache, codecs, workers=2)
    assert first["meta"]["classic_cache"]["encoder_calls"] > 0
    assert second["meta"]["classic_cache"]["encoder_calls"] == 0
    assert _without_timing(second) == _without_timing(first)


def test_cli_classic_only_and_cache_options(bench_dir, tmp_path, monkeypatch):
    import gzcodec.bench.runner as runner

    calls = []

    def fake_run_bench(image_dir, out_dir, **kwargs):
        calls.append(kwargs)
        stats = {"encoder_calls": 0, "cache_hits": 0}
        return {"meta": {"n_images": 1, "wall_time_s": 0.0, "classic_cache": stats}}

    monkeypatch.setattr(runner, "run_bench", fake_run_bench)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    app = typer.Typer()
    app.command("bench")(bench)
    app.command("other")(lambda: None)
    invoke = CliRunner().invoke
    base = ["bench", str(bench_dir), "--n", "1", "--force"]
    assert invoke(app, [*base, "--out", str(tmp_path / "o"), "--classic-only", "--workers=2"]).exit_code == 0
    assert calls[-1]["neural_codecs"] == [] and calls[-1]["workers"] == 2
    assert calls[-1]["cache"] == tmp_path / "xdg" / "gzcodec" / "bench"
    assert invoke(app, [*base, "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c")]).exit_code == 0
    assert calls[-1]["cache"] == tmp_path / "c" and calls[-1]["neural_codecs"] is None
    assert invoke(app, [*base, "--out", str(tmp_path / "o"), "--no-cache"]).exit_code == 0
    assert calls[-1]["cache"] is None
    assert invoke(app, [*base, "--out", str(tmp_path / "o"), "--classic-only", "--bits", "3"]).exit_code != 0
    assert len(calls) == 3
    assert calls[-1]["grid_dir"] is None
    assert invoke(app, [*base, "--out", str(tmp_path / "o"), "--grid-dir", str(bench_dir)]).exit_code == 0
    assert calls[-1]["grid_dir"] == bench_dir
    o = ["--out", str(tmp_path / "o")]
    result = invoke(app, [*base, *o, "--classic-only", "--grid-dir", str(bench_dir)])
    assert result.exit_code == 0 and "no grid" in result.output
    assert invoke(app, [*base, *o, "--grid-dir", str(tmp_path / "nowhere")]).exit_code != 0
    assert len(calls) == 5
