"""A tiny end-to-end bench run (gzcodec.bench.runner, report, figures and the bench CLI)."""

from __future__ import annotations

import json

import pytest
import typer
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

from gzcodec.bench import run_bench
from gzcodec.bench.classic import (
    JpegCodec,
    KnnCodec,
    ScaledCodec,
    WebpCodec,
)
from gzcodec.bench.cli import bench

from .helpers import FakeGzcodec, classic_run, faces


@pytest.mark.slow
def test_run_bench_end_to_end(bench_dir, tmp_path):
    out = tmp_path / "results"
    codecs = [JpegCodec(), ScaledCodec(JpegCodec(), 0.5), WebpCodec(), KnnCodec()]
    results = run_bench(
        bench_dir,
        out,
        n=3,
        budgets=(307, 440, 614, 1024, 2048),
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
    methods = [row.method for row in results.poster_table]
    assert methods == ["KNN (K=4)", "JPEG (10%)", "JPEG (1%)", "GAN reversal (gzcodec)"]
    assert all(row.ours.n == 3 for row in results.poster_table)

    # Matched rates: every pick fits its budget, and the scale that won is recorded.
    for block in results.matched.values():
        for m in block.codecs.values():
            assert m.n == 3 and 0 <= m.n_reached <= 3
            for pick in m.images:
                if pick.reached:
                    assert pick.measurement.nbytes <= block.budget_bytes
                    assert pick.measurement.bpp <= block.target_bpp
                    assert pick.measurement.scale in (1.0, 0.5)
                else:
                    assert pick.min_bytes > block.budget_bytes
    assert results.matched["2048"].codecs["jpeg"].n_reached == 3

    # gzcodec's ladder: a point per bits setting; BD-rates against each classic family.
    assert results.ladders["gzcodec"] == tuple(f"gzcodec bits={b}" for b in (2, 3, 4, 5))
    assert set(results.bd["gzcodec"]) == {"jpeg", "webp", "knn"}
    assert len(results.grid.faces) == 3


def _matched_numbers(results):
    """Every measured (bytes, PSNR) of the bench's images, outside the grid."""
    picks = {
        (t, family, e.image): (e.measurement.nbytes, e.measurement.psnr) if e.reached else (None, None)
        for t, block in results.matched.items()
        for family, m in block.codecs.items()
        for e in m.images
    }
    points = {(k, r.image): (r.nbytes, r.psnr) for k, p in results.points.items() for r in p.images}
    return picks, points, results.smallest


@pytest.mark.slow
def test_grid_dir_draws_the_grid_from_another_folder(bench_dir, tmp_path):
    from gzcodec.imageio import load_image, to_model_input

    grid_dir = tmp_path / "shown"
    grid_dir.mkdir()
    for i, im in enumerate(faces(5)):
        im.save(grid_dir / f"g{i}.png")
    # Not square: the grid loads it as the bench does (centred square, 128x128).
    Image.fromarray(skdata.astronaut()[:300, 50:450]).save(grid_dir / "a-wide.png")
    (grid_dir / "notes.txt").write_text("not an image", encoding="utf-8")
    codecs = [JpegCodec(), WebpCodec(), ScaledCodec(WebpCodec(), 0.5)]
    kwargs = dict(n=2, budgets=(2048,), progress=False, neural_codecs=[FakeGzcodec()], classic=codecs)
    cache = tmp_path / "cache"
    plain = run_bench(bench_dir, tmp_path / "plain", cache=cache, **kwargs)
    out = tmp_path / "shown-out"
    results = run_bench(bench_dir, out, cache=cache, grid_dir=grid_dir, **kwargs)

    shown = ["a-wide.png", "g0.png", "g1.png", "g2.png"]  # sorted, first 4
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [face["image"] for face in saved["grid"]["faces"]] == shown
    assert saved["grid"]["image_dir"] == grid_dir.as_posix()
    assert [face.image for face in plain.grid.faces] == ["000000.png", "000001.png"]
    assert plain.grid.image_dir is None and "image_dir" not in plain.to_json()["grid"]
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
    classic = classic_run(bench_dir, tmp_path / "classic", cache, codecs, grid_dir=grid_dir)
    assert classic.grid.to_json() == {"faces": []} and not (tmp_path / "classic" / "grid.png").exists()


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
