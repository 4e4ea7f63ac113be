"""Write the fuzzer's seed corpus (``fuzz/corpus``): valid files of both format versions in every
coding, and edge cases (``v1-*`` are version 1 files, everything else version 2).

No seed is longer than a few KB: libFuzzer mutates inputs up to the longest seed, and a
70 KB one (a payload over the 65,535-byte limit, which ``tests/test_limits.py`` covers)
tripled its memory and halved its speed.

Most valid seeds are made with the bundled ``face128`` model (its id is in them, so
that the fuzzer reaches the model and the generator; it has every coding and both
format versions, which the default ``face128-v2`` has not). Every other shipped model
gets valid version 2 files of its own (``valid-<model>-*``: a few rates, a source
size, a placement), a few edge cases (``edge-<model>-*``) and its text and QR forms
(``carrier-*-<model>-*``), so that the fuzzer reaches its entropy model and generator
too. Rerun this after replacing a shipped model (one thread, as the encoder's
rounding may depend on it)::

    GZCODEC_THREADS=1 python fuzz/make_corpus.py
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import zstandard

import gzcodec
from gzcodec.container import (
    HEADER_SIZE,
    MAGIC,
    Coding,
    Header,
    HeaderV2,
    Placement,
    pack,
    unpack,
)
from gzcodec.payload import SymbolWriter, encode_payload, symbol_range
from gzcodec.testing import lenient_header_size, with_valid_crc

CORPUS = Path(__file__).resolve().parent / "corpus"
EXAMPLE_FACE = Path(__file__).resolve().parent.parent / "examples" / "face.png"
#: The longest seed: libFuzzer mutates inputs up to the longest seed's length.
MAX_SEED_BYTES = 2048
#: The rate indices of the seeds of hyperprior-context models: both ends and the middle.
CONTEXT_SEED_RATES = (0, 128, 255)


def _set(data: bytes, offset: int, value: bytes) -> bytes:
    """Version 1 ``data`` with ``value`` written at ``offset`` and its CRC fixed where version 1 keeps it."""
    return with_valid_crc(data[:offset] + value + data[offset + len(value):], HEADER_SIZE)


def v2_seeds(model) -> dict[str, bytes]:
    cfg = model.config
    rng = np.random.default_rng(1)
    base = HeaderV2(model_id=bytes.fromhex(model.id)[:4], width=cfg.image_size,
                    height=cfg.image_size, source_width=cfg.image_size,
                    source_height=cfg.image_size, rate=6, coding=Coding.RAW)

    def symbols(bits: int) -> np.ndarray:
        return np.clip(np.round(rng.normal(0, 2, cfg.latent_shape)), *symbol_range(bits)).astype(np.int64)

    def payload(bits: int, coding: Coding, sym: np.ndarray | None = None) -> bytes:
        sym = symbols(bits) if sym is None else sym
        if coding == Coding.RANGE:
            writer = SymbolWriter()
            model.entropy.write_symbols(sym, writer, rate=bits)
            return writer.finish()
        return encode_payload(sym, bits=bits, coding=coding)

    def file(bits: int, coding: Coding, **changes) -> bytes:
        header = dataclasses.replace(base, rate=bits, coding=coding, **changes)
        return pack(header, payload(bits, coding))

    out = {f"valid-{c.name.lower()}-b{b}.gzl": file(b, c)
           for c, bits in [(Coding.RAW, (2, 5)), (Coding.ZSTD, (8, 12, 16)),
                           (Coding.RANGE, (3, 6, 10))] for b in bits}
    out["valid-range-b4-source.gzl"] = file(4, Coding.RANGE, source_width=640, source_height=480)
    face = np.asarray(gzcodec.imageio.load_image(Path(gzcodec.__file__).parent.parent / "examples"
                                                 / "face.png")) \
        if (Path(gzcodec.__file__).parent.parent / "examples" / "face.png").exists() \
        else np.full((48, 64, 3), (200, 150, 120), np.uint8)
    out["encoded-default.gzl"] = gzcodec.encode(face, steps=0, model=model)
    out["encoded-range-b6-wide.gzl"] = gzcodec.encode(
        np.full((48, 64, 3), (200, 150, 120), np.uint8), bits=6, steps=0, model=model)

    valid = out["valid-range-b6.gzl"]  # a 14-byte header
    sized = out["valid-range-b4-source.gzl"]  # 18 bytes: source 640x480 in varints
    empty_latent = np.full(cfg.latent_shape, 0, np.int64)
    certain = pack(dataclasses.replace(base, coding=Coding.RANGE, rate=2),
                   payload(2, Coding.RANGE, empty_latent - 2))

    def flags(data: bytes, value: int) -> bytes:
        # New flags over the old bytes: the CRC goes where the new flags put the header's end.
        return with_valid_crc(data[:4] + bytes([value]) + data[5:])

    def with_tail(data: bytes, tail: bytes, flag: int) -> bytes:
        # data's 10 fixed bytes, new flags, the varint tail, a CRC, data's payload.
        head = data[:4] + bytes([flag]) + data[5:10] + tail
        return with_valid_crc(head + bytes(4) + data[lenient_header_size(data):])

    zstd8 = out["valid-zstd-b8.gzl"]
    out.update({
        "edge-v2-magic-version.gzl": MAGIC + b"\x02",
        "edge-v2-fixed-part-only.gzl": valid[:10],
        "edge-v2-header-only.gzl": valid[:14],
        "edge-v2-truncated.gzl": valid[:-7],
        "edge-v2-trailing.gzl": valid + b"\0" * 9,
        "edge-v2-trailing-crc-fixed.gzl": with_valid_crc(valid + b"\x01"),
        "edge-v2-zero-byte-crc-fixed.gzl": with_valid_crc(valid + b"\x00"),
        "edge-v2-range-last-byte-dropped.gzl": with_valid_crc(valid[:-1]),
        "edge-v2-certain-latent-empty-payload.gzl": certain,
        "edge-version-3.gzl": valid[:3] + b"\x03" + valid[4:],
        # Made when flags bit 6 was reserved too; it announces a placement now, and the CRC
        # stays where the header without one ends, as in the campaigns on record.
        "edge-v2-reserved-flags.gzl": with_valid_crc(valid[:4] + bytes([valid[4] | 0xC0]) + valid[5:],
                                                     lenient_header_size(valid)),
        "edge-v2-reserved-flag-7.gzl": flags(valid, valid[4] | 0x80),
        "edge-v2-placement-flag-without-placement.gzl": flags(valid, valid[4] | 0x40),
        "edge-v2-coding-2.gzl": flags(valid, (valid[4] & ~3) | 2),
        "edge-v2-source-flag-without-source.gzl": flags(valid, valid[4] | 0x20),
        "edge-v2-size-code-0-without-sizes.gzl": flags(valid, valid[4] & 0x23),
        "edge-v2-size-code-64.gzl": flags(valid, (valid[4] & 0x23) | 3 << 2),
        "edge-v2-size-code-1024.gzl": flags(valid, (valid[4] & 0x23) | 7 << 2),
        "edge-v2-varint-never-ends.gzl": with_tail(valid, b"\xff" * 8, valid[4] & 0x23),
        "edge-v2-varint-not-minimal.gzl": with_tail(valid, b"\x80\x01\x80\x81\x00", valid[4] & 0x23),
        "edge-v2-varint-overflow.gzl": with_tail(valid, b"\xff\xff\xff\x7f" * 2, valid[4] & 0x23),
        "edge-v2-varint-zero-size.gzl": with_tail(valid, b"\x00\x80\x01", valid[4] & 0x23),
        "edge-v2-explicit-codeable-size.gzl": with_tail(valid, b"\x80\x01\x80\x01", valid[4] & 0x23),
        "edge-v2-explicit-size-not-model.gzl": with_tail(valid, b"\x80\x01\x40", valid[4] & 0x23),
        "edge-v2-source-equal-image.gzl": with_tail(valid, b"\x80\x01\x80\x01", valid[4] | 0x20),
        "edge-v2-source-huge.gzl": with_tail(valid, b"\xff\xff\xff\x7f" * 2, valid[4] | 0x20),
        "edge-v2-four-huge-varints.gzl": with_tail(sized, b"\xff\xff\xff\x7f" * 4,
                                                   sized[4] & 0x23 | 0x20),
        "edge-v2-unknown-model.gzl": with_valid_crc(valid[:5] + bytes.fromhex("01234567") + valid[9:]),
        "edge-v2-rate-0.gzl": with_valid_crc(zstd8[:9] + b"\x00" + zstd8[10:]),
        "edge-v2-rate-17.gzl": with_valid_crc(zstd8[:9] + b"\x11" + zstd8[10:]),
        "edge-v2-rate-255.gzl": with_valid_crc(zstd8[:9] + b"\xff" + zstd8[10:]),
        "edge-v2-range-rate-11.gzl": with_valid_crc(valid[:9] + b"\x0b" + valid[10:]),
        "edge-v2-range-other-rate.gzl": with_valid_crc(valid[:9] + b"\x05" + valid[10:]),
        "edge-v2-raw-wrong-length.gzl": with_valid_crc(out["valid-raw-b5.gzl"][:-1]),
        "edge-v2-bad-crc.gzl": valid[:-1] + bytes([valid[-1] ^ 1]),
        "edge-v2-zstd-bomb.gzl": pack(dataclasses.replace(base, rate=8, coding=Coding.ZSTD),
                                      zstandard.ZstdCompressor(write_content_size=False).compress(
                                          bytes(1 << 20))),
    })
    return out


def seeds(model) -> dict[str, bytes]:
    """Version 1 seeds (named ``v1-*`` in the corpus)."""
    cfg = model.config
    rng = np.random.default_rng(0)
    base = Header(model_id=bytes.fromhex(model.id), width=cfg.image_size, height=cfg.image_size,
                  source_width=640, source_height=480, latent_shape=cfg.latent_shape, bits=6,
                  step=cfg.step(6), coding=Coding.RAW)

    def file(bits: int, coding: Coding, **changes) -> bytes:
        header = dataclasses.replace(base, bits=bits, step=cfg.step(bits), coding=coding, **changes)
        symbols = np.clip(np.round(rng.normal(0, 2, header.latent_shape)), *symbol_range(bits))
        pmf = model.pmf_tables.get(bits) if coding == Coding.ANS else None
        return pack(header, encode_payload(symbols.astype(np.int64), bits=bits, coding=coding,
                                           pmf=pmf))

    out = {f"valid-{c.name.lower()}-b{b}.gzl": file(b, c)
           for c, bits in [(Coding.RAW, (2, 5)), (Coding.ZSTD, (8, 12, 16)), (Coding.ANS, (3, 6, 10))]
           for b in bits}
    flat = np.full((48, 64, 3), (200, 150, 120), np.uint8)
    out["encoded-ans-b6.gzl"] = gzcodec.encode(flat, bits=6, steps=0, model=model, coding="ans",
                                               format_version=1)

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


def context_seeds(model) -> dict[str, bytes]:
    """Seeds of a hyperprior-context model (``face128-v2``): valid files and edge cases.

    Encoded without refinement (``steps=0``: the encoder's rounded guess, the
    same bytes every time on one thread) from ``examples/face.png``; a flat
    64x48 image gives a file with a source size.
    """
    name = model.info.name
    face = gzcodec.imageio.load_image(EXAMPLE_FACE)
    out = {f"valid-{name}-r{rate}.gzl": gzcodec.encode(face, rate=rate, steps=0, model=model)
           for rate in CONTEXT_SEED_RATES}
    out[f"valid-{name}-r64-source.gzl"] = gzcodec.encode(
        np.full((48, 64, 3), (200, 150, 120), np.uint8), rate=64, steps=0, model=model)
    header, payload = unpack(out[f"valid-{name}-r128.gzl"])
    placed = Placement.from_geometry(centre=(320.3, 200.0), side=150.0, angle=-0.25)
    out[f"valid-{name}-r128-placement.gzl"] = pack(
        dataclasses.replace(header, source_width=640, source_height=480, placement=placed), payload)

    valid = out[f"valid-{name}-r0.gzl"]
    cfg = model.config
    out.update({
        # Its files are range-coded: raw and zstd payloads are refused before they are read.
        f"edge-{name}-zstd.gzl": pack(dataclasses.replace(header, rate=8, coding=Coding.ZSTD),
                                      encode_payload(np.zeros(cfg.latent_shape, np.int64), bits=8,
                                                     coding=Coding.ZSTD)),
        # A format version 1 header naming it (version 1 is factorized models' only).
        f"edge-{name}-version-1.gzl": pack(
            Header(model_id=bytes.fromhex(model.id), width=cfg.image_size, height=cfg.image_size,
                   source_width=cfg.image_size, source_height=cfg.image_size,
                   latent_shape=cfg.latent_shape, bits=8, step=1.0, coding=Coding.ZSTD),
            encode_payload(np.zeros(cfg.latent_shape, np.int64), bits=8, coding=Coding.ZSTD)),
        f"edge-{name}-range-last-byte-dropped.gzl": with_valid_crc(valid[:-1]),
        f"edge-{name}-other-rate.gzl": with_valid_crc(valid[:9] + b"\x01" + valid[10:]),
        f"edge-{name}-other-size.gzl": pack(dataclasses.replace(header, width=64, height=64), payload),
    })
    return out


def carrier_seeds(data: bytes, name: str = "range-b6") -> dict[str, bytes]:
    """A valid file in the other forms decode takes: its text form and a small QR picture."""
    from gzcodec.qr import make_qr
    from gzcodec.textform import to_text

    return {f"carrier-text-{name}.gzl": to_text(data).encode("ascii"),
            f"carrier-qr-{name}.gzl": make_qr(data, level="L", scale=1, border=1).png}


def shipped_models() -> list:
    """The models bundled with gzcodec (not those of the user's folders), loaded."""
    from gzcodec.zoo import BUNDLED_DIR, list_models

    return [gzcodec.load_model(info) for info in list_models()
            if info.path.resolve().parent == BUNDLED_DIR.resolve()]


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.glob("*.gzl"):
        old.unlink()
    model = gzcodec.load_model("face128")
    made = {**v2_seeds(model), **{f"v1-{name}": data for name, data in seeds(model).items()}}
    made.update(carrier_seeds(made["valid-range-b6.gzl"]))
    for other in shipped_models():
        if other.family == "factorized":
            continue  # face128's seeds above show every factorized file
        extra = context_seeds(other)
        extra.update(carrier_seeds(extra[f"valid-{other.info.name}-r0.gzl"], f"{other.info.name}-r0"))
        made.update(extra)
    too_long = [name for name, data in made.items() if len(data) > MAX_SEED_BYTES]
    assert not too_long, f"seeds over {MAX_SEED_BYTES} bytes: {too_long}"
    for name, data in sorted(made.items()):
        (CORPUS / name).write_bytes(data)
    print(f"{len(made)} seeds written to {CORPUS}")


if __name__ == "__main__":
    main()
