"""The bundled example face at the main settings: the figures the README and the tests quote.

Encodes ``examples/face.png`` as ``gzcodec encode`` would (whole files, default effort),
decodes it and prints bytes, rate byte and PSNR against the 128x128 input the model
sees, for the default model and ``face128``. Rerun it after every new snapshot of the
default model (``scripts/export_default_model.py``).

Usage::

    python benchmarks/example_face.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import gzcodec
from gzcodec.imageio import to_model_input
from gzcodec.metrics import psnr

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "face.png"
SETTINGS = {
    "default model": [("defaults", {}), ("--bits 4", {"bits": 4}), ("--bits 6", {"bits": 6}),
                      ("--bits 8", {"bits": 8}), ("--max-bytes 300", {"max_bytes": 300})],
    "face128": [("defaults", {"model": "face128"})],
}


def main() -> None:
    with Image.open(EXAMPLE) as im:
        reference = np.asarray(to_model_input(im.convert("RGB"), 128)[0])
    default = gzcodec.load_model()
    print(f"{EXAMPLE.name}; default model {default.info.name} (id {default.id}, "
          f"step {default.info.training.get('steps', '?')})")
    print(f"{'model':<14} {'settings':<16} {'bytes':>6} {'rate':>5} {'PSNR dB':>8}")
    for model, rows in SETTINGS.items():
        for label, options in rows:
            data = gzcodec.encode(EXAMPLE, **options)
            decoded = np.asarray(gzcodec.decode(data).convert("RGB"))
            print(f"{model:<14} {label:<16} {len(data):>6} {gzcodec.read_header(data).rate:>5} "
                  f"{psnr(reference, decoded):>8.2f}")


if __name__ == "__main__":
    main()
