"""Print what the quality floors in test_codec.py are set from.

    python benchmarks/measure_floors.py

Encodes every shipped example image at the tested settings with ``face128`` (the model
test_codec.py pins) and default options, and prints bytes and PSNR; the floors are these
figures less a margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import gzcodec
from gzcodec.metrics import psnr

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main() -> None:
    model = gzcodec.load_model("face128")
    print(f"model {model.id}")
    for path in sorted(EXAMPLES.glob("*.png")):
        image = np.asarray(Image.open(path).convert("RGB"))
        for bits in (8, 4):
            data = gzcodec.encode(image, bits=bits, model=model)
            decoded = np.asarray(gzcodec.decode(data))
            print(f"{path.name:18s} bits {bits}: {len(data):5d} bytes, "
                  f"PSNR {psnr(image, decoded):.2f} dB")


if __name__ == "__main__":
    main()
