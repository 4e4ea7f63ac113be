"""Regenerate the golden files: a few ``.gzl`` files and the pixels they must decode to.

Run after replacing the bundled model (``tests/test_stability.py`` skips the
golden comparison, saying so, while these files name another model)::

    python tests/golden/make_golden.py

Writes, next to this script, one ``NAME.gzl`` and ``NAME.png`` (the expected
decode, lossless) per entry of :data:`GOLDEN`, and ``golden.json`` with the
model id and what each file is. Review the PNGs before committing them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import gzcodec
from gzcodec.container import Coding, Header, pack
from gzcodec.payload import encode_payload

HERE = Path(__file__).resolve().parent


def astronaut_face() -> np.ndarray:
    """scikit-image's bundled astronaut, cropped to her face (200x200)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[20:220, 150:350])


def generator_sample(model, *, bits: int, seed: int) -> bytes:
    """A file written directly from latent symbols drawn from the model's prior: no encoder."""
    cfg = model.config
    rng = np.random.default_rng(seed)
    c, h, w = cfg.latent_shape
    pmf = model.pmf_tables[bits]
    unsigned = np.stack([rng.choice(1 << bits, size=(h, w), p=row / row.sum()) for row in pmf])
    symbols = unsigned.astype(np.int64) - (1 << (bits - 1))
    header = Header(model_id=bytes.fromhex(model.id), width=cfg.image_size, height=cfg.image_size,
                    source_width=cfg.image_size, source_height=cfg.image_size,
                    latent_shape=cfg.latent_shape, bits=bits, step=cfg.step(bits),
                    coding=Coding.ZSTD)
    return pack(header, encode_payload(symbols, bits=bits, coding=Coding.ZSTD))


def make(model) -> dict:
    face = astronaut_face()
    files = {
        "astronaut-b6": ("astronaut face crop, 6 bits, default options (smallest coding)",
                         gzcodec.encode(face, bits=6, model=model, seed=0)),
        "astronaut-b3-raw": ("astronaut face crop, 3 bits, raw coding, no refinement",
                             gzcodec.encode(face, bits=3, model=model, steps=0, coding="raw")),
        "sample-b10-zstd": ("generator sample: latent drawn from the prior (seed 6), 10 bits, zstd",
                            generator_sample(model, bits=10, seed=6)),
    }
    entries = []
    for name, (what, data) in files.items():
        (HERE / f"{name}.gzl").write_bytes(data)
        gzcodec.decode(data, model=model).save(HERE / f"{name}.png", optimize=True)
        header = gzcodec.read_header(data)
        entries.append({"name": name, "what": what, "bits": header.bits,
                        "coding": header.coding.name.lower(), "bytes": len(data)})
    manifest = {"model_id": model.id, "model_name": model.info.name, "files": entries}
    (HERE / "golden.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    model = gzcodec.load_model()
    manifest = make(model)
    for entry in manifest["files"]:
        print(f"{entry['name']}: {entry['bytes']} bytes, {entry['bits']} bits, {entry['coding']}")
    print(f"golden files written for model {manifest['model_id']} in {HERE}")


if __name__ == "__main__":
    # The expected pixels must not depend on how many threads made them.
    import torch

    torch.set_num_threads(1)
    main()
