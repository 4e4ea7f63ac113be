"""Regenerate the golden files of a v2 (context) model: a tiny model, files, symbols, pixels.

The shipped face model is still ``face128`` (v1), so the v2 decoding path is
pinned by a tiny v2 model trained here once, for a minute, on crops of
scikit-image's sample photos and committed with its files: the model
(``tiny-v2.safetensors``), three ``.gzl`` files at rate indices 0, 128 and 255
(one with a source size), the PNGs they decode to and, in ``golden.json``, the
SHA-256 of their decoded symbols. ``tests/test_context_golden.py`` checks that
the range decoder under the context model reproduces those symbols bit for bit
at every thread count (the tables come from snapped parameters computed in
float64, ``gzcodec/models/context_coding.py``) and the pixels within one level.

Run only to replace the files (a new model changes every file)::

    python tests/golden/context/make_golden.py
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import gzcodec

HERE = Path(__file__).resolve().parent
RATES = {"tiny-r0": 0, "tiny-r128": 128, "tiny-r255-source": 255}


def write_sample_crops(folder: Path) -> Path:
    """Twelve 200x200 crops of scikit-image's sample photos: training data anyone may ship."""
    from skimage import data as samples

    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        photo = Image.fromarray(getattr(samples, name)())
        for i, box in enumerate(((0, 0, 200, 200), (100, 50, 300, 250), (200, 100, 400, 300))):
            photo.crop(box).save(folder / f"{name}-{i}.png")
    return folder


def train_tiny(folder: Path) -> Path:
    """Train and export the tiny v2 model; return its weights path."""

    from gzcodec.models.context_model import ContextModelConfig
    from gzcodec.train import TrainOptions, export_model, train

    images = write_sample_crops(folder / "images")
    config = ContextModelConfig(image_size=64, channels=16, latent_channels=8, slices=(2, 2, 4),
                                context_hidden=16, position_channels=2, hyper_channels=4, hyper_hidden=8,
                                name="tiny-v2")
    ckpt = train(images, folder / "run", config=config, log=lambda line: None,
                 options=TrainOptions(steps=300, batch_size=4, lr=2e-3, warmup=1, threads=1,
                                     compile=False))
    weights = HERE / "tiny-v2.safetensors"
    export_model(ckpt, weights, name="tiny-v2", force=True)
    return weights


def symbols_sha256(data: bytes, model) -> str:
    symbols = gzcodec.codec.decode_symbols(data, model).symbols
    return hashlib.sha256(symbols.astype("<i8").tobytes()).hexdigest()


def main() -> None:
    from skimage import data as samples

    with tempfile.TemporaryDirectory() as tmp:
        weights = train_tiny(Path(tmp))
    model = gzcodec.load_model(weights)
    face = Image.fromarray(np.ascontiguousarray(samples.astronaut()[20:220, 150:350]))
    record = {"model": weights.name, "model_id": model.id, "files": {}}
    for name, rate in RATES.items():
        image = face if "source" in name else face.resize((64, 64), Image.Resampling.LANCZOS)
        data = gzcodec.encode(image, model=model, rate=rate, steps=4)
        (HERE / f"{name}.gzl").write_bytes(data)
        gzcodec.decode(data, model=model).save(HERE / f"{name}.png")
        record["files"][name] = {"rate": rate, "bytes": len(data),
                                 "symbols_sha256": symbols_sha256(data, model)}
    (HERE / "golden.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
