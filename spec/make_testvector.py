"""Write the spec's test vectors and their hex dumps and fields into spec/gzl.md (section 7).

``spec/testvector.gzl`` is version 1: a fake model id and a fixed 4 x 2 x 2 latent, raw.
``spec/testvector-v2.gzl`` is version 2: a fake model id, source size 640 x 480 (in varints),
and the same latent range-coded under a made-up factorized prior (:func:`v2_table`), so that
neither depends on any model. Run from the repository root: ``python spec/make_testvector.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gzcodec.container import Coding, Header, HeaderV2, Placement, pack, unpack, with_placement
from gzcodec.entropy import FactorizedTableCoder
from gzcodec.payload import SymbolReader, SymbolWriter, decode_payload, encode_payload, information_bits

SPEC = Path(__file__).parent
SYMBOLS = np.arange(-8, 8).reshape(4, 2, 2)
V2_MARKERS = ("<!-- testvector-v2:begin -->", "<!-- testvector-v2:end -->")
V1_MARKERS = ("<!-- testvector:begin -->", "<!-- testvector:end -->")
PLACED_MARKERS = ("<!-- testvector-v2-placed:begin -->", "<!-- testvector-v2-placed:end -->")
#: The placed vector's face: a 150-pixel crop centred at (320.5, 200.25), turned -10 degrees.
PLACEMENT = Placement.from_geometry(centre=(320.5, 200.25), side=150.0, angle=np.radians(-10))


def v2_table() -> np.ndarray:
    """The made-up prior of the v2 vector: every channel's 16 symbols ``u`` have
    probability proportional to ``2 ** -abs(u - 8)`` (float64)."""
    row = 2.0 ** -np.abs(np.arange(16) - 8)
    return np.tile(row, (4, 1))


def make() -> bytes:
    header = Header(model_id=bytes.fromhex("0123456789ab"), width=128, height=128,
                    source_width=640, source_height=480, latent_shape=(4, 2, 2), bits=4,
                    step=2.0, coding=Coding.RAW)
    return pack(header, encode_payload(SYMBOLS, bits=4, coding=Coding.RAW))


def make_v2() -> bytes:
    prior = FactorizedTableCoder({4: v2_table()}, latent_shape=(4, 2, 2))
    writer = SymbolWriter()
    prior.write_symbols(SYMBOLS, writer, rate=4)
    header = HeaderV2(model_id=bytes.fromhex("01234567"), width=128, height=128,
                      source_width=640, source_height=480, rate=4, coding=Coding.RANGE)
    return pack(header, writer.finish())


def make_v2_placed() -> bytes:
    """The v2 vector with a placement: the same payload, the face's place in its 640x480 photo."""
    return with_placement(make_v2(), PLACEMENT)


def describe_v2_placed(data: bytes) -> tuple[str, str]:
    header, payload = unpack(data)
    p = header.placement
    end = header.header_size
    start = end - 4 - len(p.to_bytes())
    fields = "\n".join([
        f"magic GZL, version 2, flags 0x{data[4]:02x} (as the vector above, and bit 6: a "
        "placement follows)",
        f"model_id {header.model_id_hex}, rate {header.rate}",
        f"varints {data[10:start].hex(' ')}: source {header.source_width}x{header.source_height}",
        f"placement {data[start:end - 4].hex(' ')}: centre_x zigzag varint -> {p.centre_x} "
        f"(/16 = {p.centre[0]:g} px), centre_y -> {p.centre_y} ({p.centre[1]:g} px), side "
        f"{p.side} ({p.side_pixels:g} px), angle u16 {p.angle} "
        f"({np.degrees(p.angle_radians):.4f} degrees)",
        f"crc32 {data[end - 4:end].hex()}; header {end} bytes, payload {len(payload)} bytes "
        f"(the same as above): {payload.hex(' ')}",
    ])
    return _hexdump(data), fields


def _hexdump(data: bytes) -> str:
    return "\n".join(f"{i:08x}  " + " ".join(f"{b:02x}" for b in data[i:i + 16])
                     for i in range(0, len(data), 16))


def describe(data: bytes) -> tuple[str, str]:
    header, payload = unpack(data)
    symbols = decode_payload(payload, bits=header.bits, shape=header.latent_shape,
                             coding=header.coding)
    fields = "\n".join([
        "magic GZL, version 1, flags 0x00 (coding raw)",
        f"model_id {header.model_id_hex}",
        f"image {header.width}x{header.height}, source {header.source_width}x{header.source_height}",
        f"latent {header.latent_shape}, bits {header.bits}, step {header.step}",
        f"payload_length {header.payload_length}, crc32 {data[27:31].hex()}",
        f"symbols (C, h, w order): {symbols.reshape(-1).tolist()}",
        f"latent values = symbols x step: {(symbols.reshape(-1) * header.step).tolist()}",
    ])
    return _hexdump(data), fields


def describe_v2(data: bytes) -> tuple[str, str]:
    header, payload = unpack(data)
    prior = FactorizedTableCoder({4: v2_table()}, latent_shape=(4, 2, 2))
    reader = SymbolReader(payload)
    symbols = prior.read_symbols(reader, rate=4)
    reader.close()
    unsigned = symbols.reshape(4, -1) + 8
    info = sum(information_bits(u, np.broadcast_to(v2_table()[c], (4, 16)))
               for c, u in enumerate(unsigned))
    end = header.header_size
    fields = "\n".join([
        f"magic GZL, version 2, flags 0x{data[4]:02x} (coding {header.coding.name.lower()} = "
        f"{int(header.coding)}, size code {header.size_code} = {header.width}x{header.height}, "
        f"source size follows)",
        f"model_id {header.model_id_hex}, rate {header.rate}",
        f"varints {data[10:end - 4].hex(' ')}: source {header.source_width}x{header.source_height}",
        f"crc32 {data[end - 4:end].hex()}; header {end} bytes, payload {len(payload)} bytes "
        f"(the rest of the file): {payload.hex(' ')}",
        "decoded for a model with latent (4, 2, 2), rate = bits 4, whose prior gives every "
        "channel p(u) proportional to 2**-|u - 8| (u = q + 8):",
        f"symbols (C, h, w order): {symbols.reshape(-1).tolist()}",
        f"information content {info:.2f} bits = {info / 8:.2f} bytes; payload {len(payload)} bytes",
    ])
    return _hexdump(data), fields


def _replace(doc: str, markers: tuple[str, str], hexdump: str, fields: str) -> str:
    begin, end = markers
    block = f"{begin}\n```\n{hexdump}\n```\n\nDecoded fields:\n\n```\n{fields}\n```\n{end}"
    return re.sub(f"{re.escape(begin)}.*?{re.escape(end)}", lambda _: block, doc, flags=re.S)


def main() -> None:
    doc = (SPEC / "gzl.md").read_text()
    for name, data, describer, markers in (
            ("testvector.gzl", make(), describe, V1_MARKERS),
            ("testvector-v2.gzl", make_v2(), describe_v2, V2_MARKERS),
            ("testvector-v2-placed.gzl", make_v2_placed(), describe_v2_placed, PLACED_MARKERS)):
        (SPEC / name).write_bytes(data)
        doc = _replace(doc, markers, *describer(data))
    (SPEC / "gzl.md").write_text(doc)


if __name__ == "__main__":
    main()
