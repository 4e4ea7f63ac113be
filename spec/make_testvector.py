"""Write spec/testvector.gzl and its hex dump and fields into spec/gzl.md (section 6).

The vector has a fake model id and a fixed 4 x 2 x 2 latent, so it depends on no model.
Run from the repository root: ``python spec/make_testvector.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gzcodec.container import Coding, Header, pack, unpack
from gzcodec.payload import decode_payload, encode_payload

SPEC = Path(__file__).parent
BEGIN, END = "<!-- testvector:begin -->", "<!-- testvector:end -->"
SYMBOLS = np.arange(-8, 8).reshape(4, 2, 2)


def make() -> bytes:
    header = Header(model_id=bytes.fromhex("0123456789ab"), width=128, height=128,
                    source_width=640, source_height=480, latent_shape=(4, 2, 2), bits=4,
                    step=2.0, coding=Coding.RAW)
    return pack(header, encode_payload(SYMBOLS, bits=4, coding=Coding.RAW))


def describe(data: bytes) -> tuple[str, str]:
    hexdump = "\n".join(f"{i:08x}  " + " ".join(f"{b:02x}" for b in data[i:i + 16])
                        for i in range(0, len(data), 16))
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
    return hexdump, fields


def main() -> None:
    data = make()
    (SPEC / "testvector.gzl").write_bytes(data)
    hexdump, fields = describe(data)
    doc = (SPEC / "gzl.md").read_text()
    block = (f"{BEGIN}\n```\n{hexdump}\n```\n\nDecoded fields:\n\n```\n{fields}\n```\n{END}")
    doc = re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", lambda _: block, doc, flags=re.S)
    (SPEC / "gzl.md").write_text(doc)


if __name__ == "__main__":
    main()
