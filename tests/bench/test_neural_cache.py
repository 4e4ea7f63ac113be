"""gzcodec's ladder in the bench's encode cache: a rerun, or a killed run's, encodes only what is missing.

On the tiny v2 model of the golden files (its 64x64 decodes upscaled to the
bench's 128x128), at three rate indices, on three faces.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.progress import Progress

from gzcodec.bench import neural, neural_run, run_bench
from gzcodec.bench.classic import JpegCodec
from gzcodec.bench.diskcache import DiskEntry, image_key
from gzcodec.bench.neural import GzcodecCodec
from gzcodec.bench.neural_run import NeuralResult, run_neural
from gzcodec.bench.records import CacheStats
from gzcodec.options import EncodeOptions

from .helpers import faces, without_timing

TINY = Path(__file__).resolve().parents[1] / "golden" / "context" / "tiny-v2.safetensors"
BITS = (2, 5, 8)  # rate indices 0, 128 and 255 of the tiny model
NAMES = ("a.png", "b.png", "c.png")


class Killed(Exception):
    """What the counted encoder raises in place of a session's end."""


@pytest.fixture(scope="module")
def references() -> list[np.ndarray]:
    return [np.asarray(im) for im in faces(len(NAMES))]


class Tiny(GzcodecCodec):
    """A tiny model as the bench's gzcodec: its 64x64 decodes upscaled to 128x128."""

    def decode(self, data: bytes) -> Image.Image:
        return super().decode(data).resize((128, 128), Image.Resampling.BICUBIC)


def _codec(model: Path = TINY, **options) -> Tiny:
    return Tiny(model, bits=BITS, options=EncodeOptions(**options) if options else None)


def _counted(monkeypatch, codec, *, kill_at: int | None = None) -> list[tuple[int, int]]:
    """Record ``codec``'s batches as (setting, images); the ``kill_at``-th raises :class:`Killed`.

    A single-image encode (not expected: the ladder batches) is recorded as a batch of ``-1``.
    """
    batches: list[tuple[int, int]] = []
    batch, single = codec.encode_batch, codec.encode

    def encode_batch(images, *, param):
        if kill_at is not None and len(batches) + 1 == kill_at:
            raise Killed
        batches.append((param, len(images)))
        return batch(images, param=param)

    def encode(image, *, param):
        batches.append((param, -1))
        return single(image, param=param)

    monkeypatch.setattr(codec, "encode_batch", encode_batch)
    monkeypatch.setattr(codec, "encode", encode)
    return batches


def _ladder(codec: GzcodecCodec, references, cache: Path | None) -> NeuralResult:
    with Progress(disable=True) as bar:
        return run_neural(codec, NAMES, references, (0.05,), bar, None if cache is None else str(cache))


def _files(result: NeuralResult, codec: GzcodecCodec) -> list[list[bytes]]:
    return [[cache(p).data for p in codec.param_values] for cache in result.caches]


def _bench(bench_dir, out, codec, cache):
    return run_bench(bench_dir, out, n=3, budgets=(100,), command_line="gzcodec bench faces", progress=False,
                     neural_codecs=[codec], classic=[JpegCodec()], cache=cache, identity=False)


def test_a_second_bench_run_encodes_no_gzcodec_file(bench_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    codec = _codec()
    batches = _counted(monkeypatch, codec)
    first = _bench(bench_dir, tmp_path / "a", codec, cache)
    assert batches == [(p, 3) for p in codec.param_values]
    assert first.meta.gzcodec_cache == CacheStats(str(cache), encoder_calls=9, cache_hits=0)

    again = _codec()
    batches = _counted(monkeypatch, again)
    second = _bench(bench_dir, tmp_path / "b", again, cache)
    assert batches == []
    assert second.meta.gzcodec_cache == CacheStats(str(cache), encoder_calls=0, cache_hits=9)
    # The same files, the same measurements, and the encode times measured by the first run
    # (as JSON text: JPEG reaches no 100-byte budget, and NaN is not equal to itself).
    assert json.dumps(without_timing(second)) == json.dumps(without_timing(first))
    key = f"gzcodec rate={codec.param_values[1]}"
    assert [m.encode_s for m in second.points[key].images] == [m.encode_s for m in first.points[key].images]
    report = (tmp_path / "b" / "report.md").read_text(encoding="utf-8")
    assert f"- gzcodec files: 0 encoded, 9 replayed from the cache `{cache}`" in report

    # Without a cache: every file encoded, and the report says nothing of a cache.
    plain = _bench(bench_dir, tmp_path / "c", _codec(), None)
    assert plain.meta.gzcodec_cache == CacheStats(None, encoder_calls=9, cache_hits=0)
    assert "gzcodec files:" not in (tmp_path / "c" / "report.md").read_text(encoding="utf-8")


def test_a_second_ladder_of_a_model_encodes_nothing(references, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = _ladder(_codec(), references, cache)
    assert (first.encoder_calls, first.cache_hits) == (9, 0)
    codec = _codec()
    batches = _counted(monkeypatch, codec)
    second = _ladder(codec, references, cache)
    assert batches == [] and (second.encoder_calls, second.cache_hits) == (0, 9)
    assert _files(second, codec) == _files(first, codec)
    untimed = [without_timing({k: p.to_json() for k, p in r.points.items()}) for r in (first, second)]
    assert untimed[0] == untimed[1]
    picks = [without_timing([pick.to_json() for pick in r.matched[0.05]]) for r in (first, second)]
    assert picks[0] == picks[1]


def test_a_killed_ladder_keeps_its_batches_and_the_rerun_encodes_only_the_rest(
    references, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setattr(neural_run, "BATCH", 2)  # three faces: two batches a setting
    codec = _codec()
    low, mid, top = codec.param_values
    batches = _counted(monkeypatch, codec, kill_at=4)
    with pytest.raises(Killed):
        _ladder(codec, references, cache)
    assert batches == [(low, 2), (low, 1), (mid, 2)]
    # Every finished batch is on disk, and nothing else.
    on_disk = [sorted(DiskEntry(cache, image_key(ref), codec).trials) for ref in references]
    assert on_disk == [[low, mid], [low, mid], [low]]

    again = _codec()
    batches = _counted(monkeypatch, again)
    resumed = _ladder(again, references, cache)
    # The third face at the setting the kill cut short, then the last setting, still in batches.
    assert batches == [(mid, 1), (top, 2), (top, 1)]
    assert (resumed.encoder_calls, resumed.cache_hits) == (4, 5)
    # The same files as a run that was never killed.
    whole = _ladder(_codec(), references, None)
    assert _files(resumed, again) == _files(whole, codec)
    assert [m.nbytes for m in resumed.points[f"gzcodec rate={mid}"].images] == [
        m.nbytes for m in whole.points[f"gzcodec rate={mid}"].images
    ]


def test_the_key_is_the_model_options_version_and_source_not_the_ladder_or_name(
    references, tmp_path, monkeypatch, isolated_models
):
    cache = tmp_path / "cache"
    first = _ladder(_codec(), references, cache)
    assert (first.encoder_calls, first.cache_hits) == (9, 0)

    # Another model of the same name (its training record differs: another file, another id).
    other = tmp_path / "tiny-v2.safetensors"
    other.write_bytes(TINY.read_bytes().replace(b'\\"steps\\": 300,', b'\\"steps\\": 301,', 1))
    assert other.read_bytes() != TINY.read_bytes()
    twin, tiny = _codec(other).model, _codec().model
    assert twin.config.name == tiny.config.name and twin.id != tiny.id
    for codec in (_codec(other), _codec(effort="none"), _codec(steps=3)):
        batches = _counted(monkeypatch, codec)
        result = _ladder(codec, references, cache)
        assert (result.encoder_calls, result.cache_hits) == (9, 0), codec.cache_settings
        assert len(batches) == 3

    # Another release of the encoder.
    with monkeypatch.context() as patch:
        patch.setattr(neural, "__version__", "0.0.1+changed")
        released = _ladder(_codec(), references, cache)
        assert (released.encoder_calls, released.cache_hits) == (9, 0)

    # The encoder's source changed within a release (the version says nothing then).
    with monkeypatch.context() as patch:
        patch.setattr(neural, "_encoder_fingerprint", lambda: "0" * 16)
        edited = _ladder(_codec(), references, cache)
        assert (edited.encoder_calls, edited.cache_hits) == (9, 0)

    # Another ladder, and another key in the run: the settings they share are read, only the new one encoded.
    wider = Tiny(TINY, bits=[*BITS, 7], name="gzcodec[tiny-v2]")
    batches = _counted(monkeypatch, wider)
    result = _ladder(wider, references, cache)
    assert (result.encoder_calls, result.cache_hits) == (3, 9)
    new = [p for p in wider.param_values if p not in _codec().param_values]
    assert [param for param, _ in batches] == new


def test_options_that_choose_the_rate_are_refused():
    with pytest.raises(ValueError, match="the bench sets the rate"):
        GzcodecCodec(TINY, options=EncodeOptions(rate=3))


def test_the_encoder_fingerprint_covers_the_reversal_and_the_families():
    from pathlib import Path

    root = Path(neural.__file__).resolve().parent.parent
    covered = {p for pattern in neural._ENCODER_SOURCES for p in root.glob(pattern)}
    assert {root / "reversal.py", root / "codec.py", root / "families" / "enhanced.py"} <= covered
    assert not any("bench" in p.parts or p.name.startswith("cli") for p in covered)
