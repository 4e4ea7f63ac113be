"""What the bench's tests share: test images, a stand-in for gzcodec, a counting JPEG.

Nothing here needs a trained model or the data set: images are crops of
scikit-image's astronaut, and gzcodec's slot is taken by :class:`FakeGzcodec`.
"""

from __future__ import annotations

import zlib
from types import SimpleNamespace

import numpy as np
from PIL import Image
from skimage import data as skdata

from gzcodec.bench import run_bench
from gzcodec.bench.classic import (
    JpegCodec,
)
from gzcodec.bench.records import BenchRun, CacheStats, ModelEntry


def record_bench_calls(monkeypatch) -> list[dict]:
    """Replace the bench's run with one that records its keyword arguments (the list returned)."""
    import gzcodec.bench.runner as runner

    calls: list[dict] = []

    def fake_run_bench(image_dir, out_dir, **kwargs):
        calls.append(kwargs)
        stats = CacheStats(dir=None, encoder_calls=0, cache_hits=0)
        return SimpleNamespace(meta=SimpleNamespace(n_images=1, wall_time_s=0.0, classic_cache=stats,
                                                    gzcodec_cache=None))

    monkeypatch.setattr(runner, "run_bench", fake_run_bench)
    return calls


def faces(count: int) -> list[Image.Image]:
    """``count`` different 128x128 crops of the astronaut (her face and around it)."""
    pixels = skdata.astronaut()
    corners = [(0, 100), (30, 150), (60, 120), (10, 200), (80, 80)]
    out = []
    for top, left in corners[:count]:
        crop = Image.fromarray(pixels[top : top + 224, left : left + 224])
        out.append(crop.resize((128, 128), Image.Resampling.LANCZOS))
    return out


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

    def info(self) -> ModelEntry:
        return ModelEntry(id="0123456789ab", name="fake", path="fake.safetensors", weights_bytes=1234)



class CountingJpeg(JpegCodec):
    """JPEG that counts its encoder calls and takes a while, as AVIF would."""

    calls = 0

    def encode(self, image: Image.Image, *, param: int) -> bytes:
        CountingJpeg.calls += 1  # on the base class, subclasses included
        return super().encode(image, param=param)


def without_timing(value):
    """``value`` (a run's JSON) without decode times and run metadata: what two runs must share."""
    if isinstance(value, BenchRun):
        return without_timing(value.to_json())
    if isinstance(value, dict):
        untimed = ("decode_s", "median_decode_s", "meta")
        return {k: without_timing(v) for k, v in value.items() if k not in untimed}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def classic_run(bench_dir, out, cache, codecs, *, budgets=(614, 1024, 2048), **kwargs):
    return run_bench(
        bench_dir,
        out,
        n=2,
        budgets=budgets,
        command_line="gzcodec bench faces --n 2 --classic-only",
        progress=False,
        neural_codecs=[],
        classic=codecs,
        cache=cache,
        **kwargs,
    )

