"""Write the fuzzer's seed corpus (``fuzz/corpus``): valid files in every coding, and edge cases.

Valid seeds are made with the bundled model (its id is in them, so that the
fuzzer reaches the model and the generator); rerun this after replacing the
model::

    python fuzz/make_corpus.py
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import zstandard

import gzcodec
from gzcodec.container import HEADER_SIZE, MAGIC, Coding, Header, pack
from gzcodec.payload import encode_payload

CORPUS = Path(__file__).resolve().parent / "corpus"


def _fix_crc(data: bytes) -> bytes:
    import zlib

    crc = zlib.crc32(data[HEADER_SIZE:], zlib.crc32(data[:HEADER_SIZE - 4]))
    return data[:HEADER_SIZE - 4] + crc.to_bytes(4, "big") + data[HEADER_SIZE:]


def _set(data: bytes, offset: int, value: bytes) -> bytes:
    return _fix_crc(data[:offset] + value + data[offset + len(value):])


def seeds(model) -> dict[str, bytes]:
    cfg = model.config
    rng = np.random.default_rng(0)
    base = Header(model_id=bytes.fromhex(model.id), width=cfg.image_size, height=cfg.image_size,
                  source_width=640, source_height=480, latent_shape=cfg.latent_shape, bits=6,
                  step=cfg.step(6), coding=Coding.RAW)

    def file(bits: int, coding: Coding, **changes) -> bytes:
        header = dataclasses.replace(base, bits=bits, step=cfg.step(bits), coding=coding, **changes)
        half = 1 << (bits - 1)
        symbols = np.clip(np.round(rng.normal(0, 2, header.latent_shape)), -half, half - 1)
        pmf = model.pmf_tables.get(bits) if coding == Coding.ANS else None
        return pack(header, encode_payload(symbols.astype(np.int64), bits=bits, coding=coding,
                                           pmf=pmf))

    out = {f"valid-{c.name.lower()}-b{b}.gzl": file(b, c)
           for c, bits in [(Coding.RAW, (2, 5)), (Coding.ZSTD, (8, 12, 16)), (Coding.ANS, (3, 6, 10))]
           for b in bits}
    flat = np.full((48, 64, 3), (200, 150, 120), np.uint8)
    out["encoded-ans-b6.gzl"] = gzcodec.encode(flat, bits=6, steps=0, model=model, coding="ans")

    valid = out["valid-zstd-b8.gzl"]
    zstd_cs = zstandard.ZstdCompressor(write_content_size=True)
    out.update({
        "edge-empty.gzl": b"",
        "edge-magic.gzl": MAGIC,
        "edge-magic-version.gzl": MAGIC + b"\x01",
        "edge-header-only.gzl": valid[:HEADER_SIZE],
        "edge-truncated.gzl": valid[:-7],
        "edge-trailing.gzl": valid + b"\0" * 9,
        "edge-version-2.gzl": _set(valid, 3, b"\x02"),
        "edge-reserved-flags.gzl": _set(valid, 4, bytes([0xFC | 1])),
        "edge-coding-3.gzl": _set(valid, 4, b"\x03"),
        "edge-unknown-model.gzl": _set(valid, 5, bytes.fromhex("0123456789ab")),
        "edge-huge-image.gzl": _set(valid, 11, b"\xff\xff\xff\xff"),
        "edge-huge-source.gzl": _set(valid, 15, b"\xff\xff\xff\xff"),
        "edge-zero-latent.gzl": _set(valid, 19, b"\x00"),
        "edge-latent-over-limit.gzl": _set(valid, 19, b"\xff\xff\xff"),
        "edge-bits-1.gzl": _set(valid, 22, b"\x01"),
        "edge-bits-17.gzl": _set(valid, 22, b"\x11"),
        "edge-step-nan.gzl": _set(valid, 23, b"\x7e\x00"),
        "edge-step-inf.gzl": _set(valid, 23, b"\x7c\x00"),
        "edge-step-zero.gzl": _set(valid, 23, b"\x00\x00"),
        "edge-step-max.gzl": _set(file(12, Coding.ZSTD), 23, b"\x7b\xff"),
        "edge-bad-crc.gzl": valid[:-1] + bytes([valid[-1] ^ 1]),
        "edge-ans-odd-length.gzl": pack(dataclasses.replace(base, coding=Coding.ANS), b"\1\2\3"),
        "edge-ans-11-bits.gzl": pack(dataclasses.replace(base, bits=11, step=cfg.step(11),
                                                         coding=Coding.ANS), bytes(8)),
        "edge-zstd-content-size.gzl": pack(
            dataclasses.replace(base, bits=8, step=cfg.step(8), coding=Coding.ZSTD),
            zstd_cs.compress(bytes(math.prod(cfg.latent_shape)))),
        "edge-zstd-bomb.gzl": pack(
            dataclasses.replace(base, bits=8, step=cfg.step(8), coding=Coding.ZSTD),
            zstandard.ZstdCompressor(write_content_size=False).compress(bytes(1 << 20))),
        "edge-zstd-two-frames.gzl": pack(
            dataclasses.replace(base, bits=8, step=cfg.step(8), coding=Coding.ZSTD),
            encode_payload(np.zeros(cfg.latent_shape, np.int64), bits=8, coding=Coding.ZSTD) * 2),
        "edge-latent-at-limit.gzl": pack(
            dataclasses.replace(base, bits=2, step=cfg.step(2), coding=Coding.ZSTD,
                                latent_shape=(16, 255, 255)),
            encode_payload(np.zeros((16, 255, 255), np.int64), bits=2, coding=Coding.ZSTD)),
    })
    return out


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.glob("*.gzl"):
        old.unlink()
    made = seeds(gzcodec.load_model())
    for name, data in sorted(made.items()):
        (CORPUS / name).write_bytes(data)
    print(f"{len(made)} seeds written to {CORPUS}")


if __name__ == "__main__":
    main()
