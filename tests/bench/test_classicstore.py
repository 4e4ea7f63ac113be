"""Stored classic results (gzcodec.bench.classicstore) and the bench's --skip."""

from __future__ import annotations

import json

import typer
import zstandard
from typer.testing import CliRunner

from gzcodec.bench.classic import ScaledCodec
from gzcodec.bench.cli import bench
from gzcodec.bench.report import render_markdown

from .helpers import CountingJpeg, FakeGzcodec, classic_run, record_bench_calls, without_timing


def _untimed(run):
    """A run's JSON without any time: searched afresh, the same files take other times."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.endswith("_s")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(without_timing(run))


def _stored_files(store):
    return sorted(store.glob("*/*.json.zst"))


def test_second_run_replays_every_image_from_the_store_without_encoding(bench_dir, tmp_path):
    codecs = [CountingJpeg(), ScaledCodec(CountingJpeg(), 0.5)]
    store = tmp_path / "store"
    CountingJpeg.calls = 0
    first = classic_run(bench_dir, tmp_path / "a", None, codecs, classic_store=store)
    assert CountingJpeg.calls > 0
    assert first.meta.classic_cache.stored_images == 0
    files = _stored_files(store)
    assert len(files) == 2  # one per image, nothing else
    doc = json.loads(zstandard.ZstdDecompressor().decompress(files[0].read_bytes()))
    assert doc["image"] in first.meta.images
    assert "data" not in json.dumps(doc)  # measurements only: no file's bytes

    CountingJpeg.calls = 0
    second = classic_run(bench_dir, tmp_path / "b", None, codecs, classic_store=store)
    assert CountingJpeg.calls == 0
    assert second.meta.classic_cache.stored_images == 2
    assert without_timing(second) == without_timing(first)
    assert "replayed from the store" in render_markdown(second)

    # Other budgets are another key: searched afresh, stored beside the first.
    CountingJpeg.calls = 0
    classic_run(bench_dir, tmp_path / "c", None, codecs, classic_store=store, budgets=(441, 2048))
    assert CountingJpeg.calls > 0
    assert len(_stored_files(store)) == 4


def test_a_corrupt_or_foreign_stored_file_is_searched_again_and_rewritten(bench_dir, tmp_path):
    codecs = [CountingJpeg()]
    store = tmp_path / "store"
    first = classic_run(bench_dir, tmp_path / "a", None, codecs, classic_store=store)
    victim = _stored_files(store)[0]
    for junk in (b"", b"not zstd", zstandard.ZstdCompressor().compress(b'{"format": 1}')):
        victim.write_bytes(junk)
        CountingJpeg.calls = 0
        again = classic_run(bench_dir, tmp_path / "b", None, codecs, classic_store=store)
        assert CountingJpeg.calls > 0
        assert again.meta.classic_cache.stored_images == 1
        assert _untimed(again) == _untimed(first)
    CountingJpeg.calls = 0
    classic_run(bench_dir, tmp_path / "c", None, codecs, classic_store=store)
    assert CountingJpeg.calls == 0  # rewritten whole


def test_a_store_replay_with_identity_encodes_only_the_picks_files(bench_dir, tmp_path):
    from gzcodec.bench.classic_run import ClassicJob, run_classic_job
    from gzcodec.bench.runner import _load_images

    names, arrays = _load_images(bench_dir, 1)
    codecs = [CountingJpeg(), ScaledCodec(CountingJpeg(), 0.5)]
    job = ClassicJob(names[0], arrays[0], (0.3, 0.5), keep_files=True, store_dir=str(tmp_path))
    CountingJpeg.calls = 0
    first = run_classic_job(job, codecs)
    searched = CountingJpeg.calls
    CountingJpeg.calls = 0
    second = run_classic_job(job, codecs)
    assert second.stored and not first.stored
    assert second.files == first.files and second.matched == first.matched
    assert 0 < CountingJpeg.calls == len(second.files) < searched


def test_skip_measures_the_files_after_the_first_k(bench_dir, tmp_path):
    run = classic_run(bench_dir, tmp_path / "a", None, [CountingJpeg()], skip=1)
    assert run.meta.images == ("000001.png", "000002.png")
    assert run.meta.skipped_images == 1
    assert "files 1-2 (2, counting from 0)" in render_markdown(run)
    assert classic_run(bench_dir, tmp_path / "b", None, [CountingJpeg()]).meta.skipped_images is None


def test_cli_passes_classic_store_and_skip(bench_dir, tmp_path, monkeypatch):
    calls = record_bench_calls(monkeypatch)
    app = typer.Typer()
    app.command("bench")(bench)
    app.command("other")(lambda: None)
    base = ["bench", str(bench_dir), "--n", "1", "--force", "--out", str(tmp_path / "o"), "--no-cache"]
    result = CliRunner().invoke(app, [*base, "--classic-store", str(tmp_path / "s"), "--skip", "2"])
    assert result.exit_code == 0, result.output
    assert calls[-1]["classic_store"] == tmp_path / "s" and calls[-1]["skip"] == 2
    refused = CliRunner().invoke(app, [*base, "--realism", "0,1", "--skip", "2"])
    assert refused.exit_code != 0 and "--skip" in refused.output


def test_gzcodec_and_a_store_together(bench_dir, tmp_path):
    from gzcodec.bench import run_bench

    kwargs = dict(n=2, budgets=(614, 1024), progress=False, neural_codecs=[FakeGzcodec()],
                  classic=[CountingJpeg()], cache=None, classic_store=tmp_path / "s", identity=False)
    first = run_bench(bench_dir, tmp_path / "a", grid_dir=bench_dir, **kwargs)
    second = run_bench(bench_dir, tmp_path / "b", grid_dir=bench_dir, **kwargs)
    assert second.meta.classic_cache.stored_images == 2
    assert _untimed(second) == _untimed(first)
    # Without --grid-dir the bench's first images are the grid's: searched again for their pictures.
    own = run_bench(bench_dir, tmp_path / "c", **kwargs)
    assert own.meta.classic_cache.stored_images == 0
    assert _untimed(own)["matched"] == _untimed(first)["matched"]
