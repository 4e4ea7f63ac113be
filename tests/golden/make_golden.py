"""Regenerate the golden files: a few ``.gzl`` files and the pixels they must decode to.

Version 1 files are what users' old files look like: they are kept as they
are (``golden.json`` only gains the checksum of their decoded symbols) unless
``--all`` is given, which is needed only after replacing the bundled model
(``tests/test_stability.py`` skips the pixel comparison, saying so, while
these files name another model)::

    python tests/golden/make_golden.py          # version 2 files; v1 files kept
    python tests/golden/make_golden.py --all    # every file, after a model change

Writes, next to this script, one ``NAME.gzl`` and ``NAME.png`` (the expected
decode, lossless) per entry, and ``golden.json`` with the model id, what each
file is, and the SHA-256 of its decoded symbols (int64, little-endian): the
entropy decoding must reproduce those bit for bit on every machine and thread
count. Review the PNGs before committing them.
"""

from __future__ import annotations

import hashlib
import json
import sys
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


def symbols_sha256(data: bytes, model) -> str:
    """SHA-256 of the file's decoded symbols (int64, little-endian, C order)."""
    symbols = gzcodec.codec.decode_symbols(data, model).symbols
    return hashlib.sha256(symbols.astype("<i8").tobytes()).hexdigest()


def make(model, *, all_versions: bool = False) -> dict:
    face = astronaut_face()
    v1 = {
        "astronaut-b6": ("astronaut face crop, 6 bits, default options (smallest coding)",
                         lambda: gzcodec.encode(face, bits=6, model=model, seed=0,
                                                format_version=1)),
        "astronaut-b3-raw": ("astronaut face crop, 3 bits, raw coding, no refinement",
                             lambda: gzcodec.encode(face, bits=3, model=model, steps=0,
                                                    coding="raw", format_version=1)),
        "sample-b10-zstd": ("generator sample: latent drawn from the prior (seed 6), 10 bits, zstd",
                            lambda: generator_sample(model, bits=10, seed=6)),
    }
    v2 = {
        "v2-astronaut-b6": ("version 2: astronaut face crop, 6 bits, default options (range)",
                            lambda: gzcodec.encode(face, bits=6, model=model, seed=0)),
        "v2-astronaut-b4-source": ("version 2: astronaut 200x150 (a source size in the header), "
                                   "default bits 4, no refinement",
                                   lambda: gzcodec.encode(face[:150], model=model, steps=0)),
        "v2-astronaut-b12-zstd": ("version 2: astronaut face crop, 12 bits (no range table), zstd",
                                  lambda: gzcodec.encode(face, bits=12, model=model, steps=0)),
    }
    entries = []
    for version, files in ((1, v1), (2, v2)):
        for name, (what, make_file) in files.items():
            path = HERE / f"{name}.gzl"
            if version == 2 or all_versions or not path.exists():
                path.write_bytes(make_file())
                gzcodec.decode(path.read_bytes(), model=model).save(HERE / f"{name}.png",
                                                                    optimize=True)
            data = path.read_bytes()
            header = gzcodec.read_header(data)
            entries.append({"name": name, "what": what, "version": header.version,
                            "bits": header.rate, "coding": header.coding.name.lower(),
                            "bytes": len(data), "symbols_sha256": symbols_sha256(data, model)})
    manifest = {"model_id": model.id, "model_name": model.info.name, "files": entries}
    (HERE / "golden.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    model = gzcodec.load_model()
    manifest = make(model, all_versions="--all" in sys.argv[1:])
    for entry in manifest["files"]:
        print(f"{entry['name']}: {entry['bytes']} bytes, {entry['bits']} bits, {entry['coding']}")
    print(f"golden files written for model {manifest['model_id']} in {HERE}")


if __name__ == "__main__":
    # The expected pixels must not depend on how many threads made them.
    import torch

    torch.set_num_threads(1)
    main()
