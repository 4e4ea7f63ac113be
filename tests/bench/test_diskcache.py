"""The persistent encode cache (gzcodec.bench.diskcache)."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from gzcodec.bench.classic import (
    JpegCodec,
    ScaledCodec,
    WebpCodec,
)
from gzcodec.bench.cli import bench
from gzcodec.bench.diskcache import DiskEntry, default_cache_dir, image_key
from gzcodec.bench.ratecontrol import EncodeCache, Trial
from gzcodec.bench.records import CacheStats

from .helpers import CountingJpeg, classic_run, record_bench_calls, without_timing


def test_second_run_replays_classic_encodes_from_the_disk_cache(bench_dir, tmp_path):
    codecs = [CountingJpeg(), ScaledCodec(CountingJpeg(), 0.5)]
    cache = tmp_path / "cache"
    CountingJpeg.calls = 0
    first = classic_run(bench_dir, tmp_path / "a", cache, codecs)
    encoded = CountingJpeg.calls
    assert encoded > 0
    assert first.meta.classic_cache == CacheStats(dir=str(cache), encoder_calls=encoded, cache_hits=0)
    # One file per image and codec variant.
    assert len(list(cache.glob("*/*.json"))) == 2 * len(codecs)

    CountingJpeg.calls = 0
    second = classic_run(bench_dir, tmp_path / "b", cache, codecs)
    assert CountingJpeg.calls == 0
    assert second.meta.classic_cache.encoder_calls == 0
    assert second.meta.classic_cache.cache_hits == encoded
    # Same picks, same bytes, same metrics, and the encode times measured by the first run.
    assert without_timing(second) == without_timing(first)
    assert (tmp_path / "b" / "report.md").read_text(encoding="utf-8").startswith("# gzcodec benchmark")

    # A changed setting is another key: nothing replayed.
    CountingJpeg.calls = 0
    classic_run(bench_dir, tmp_path / "c", cache, [CountingJpeg(description="optimize=False")])
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
    assert not list(tmp_path.glob("*/.*"))  # no (hidden) temporary file left behind


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "gzcodec" / "bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir().parts[-3:] == (".cache", "gzcodec", "bench")


@pytest.mark.slow
def test_disk_cache_works_across_worker_processes(bench_dir, tmp_path):
    codecs = [JpegCodec(), ScaledCodec(WebpCodec(), 0.5)]
    cache = tmp_path / "cache"
    first = classic_run(bench_dir, tmp_path / "a", cache, codecs, workers=2)
    second = classic_run(bench_dir, tmp_path / "b", cache, codecs, workers=2)
    assert first.meta.classic_cache.encoder_calls > 0
    assert second.meta.classic_cache.encoder_calls == 0
    assert without_timing(second) == without_timing(first)


def test_cli_classic_only_and_cache_options(bench_dir, tmp_path, monkeypatch):
    calls = record_bench_calls(monkeypatch)
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
