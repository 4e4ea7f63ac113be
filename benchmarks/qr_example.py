"""The README's picture: the example face, the face its QR code holds, and the code.

Encodes ``examples/face.png`` as ``gzcodec encode examples/face.png --qr face-qr.png`` does
(default model and quality, level M, the smallest version that holds the file), reads the
code back, decodes it, and writes the three side by side (the face and its decoding at 2x,
the code at 3 px a module so that it scans from a screen), with the figures below them.

Usage::

    python benchmarks/qr_example.py --out results/qr/face-and-code.png
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import gzcodec
from gzcodec.imageio import read_model_input
from gzcodec.metrics import psnr
from gzcodec.qr import make_qr, read_qr
from gzcodec.textform import to_text

ROOT = Path(__file__).resolve().parent.parent
PANEL = 256
CAPTION = 40


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=ROOT / "examples" / "face.png")
    parser.add_argument("--level", default="M")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "qr" / "face-and-code.png")
    args = parser.parse_args(argv)
    reference = read_model_input(args.image, gzcodec.load_model().config.image_size)
    data = gzcodec.encode(reference)
    code = make_qr(data, level=args.level)
    assert read_qr(code.png) == data, "the code must read back as the file"
    decoded = gzcodec.decode(code.png)  # through the picture, as a reader would
    quality = psnr(reference.pixels, np.asarray(decoded))
    text = to_text(data)

    qr = Image.open(io.BytesIO(make_qr(data, level=args.level, scale=3).png))
    panels = [Image.fromarray(reference.pixels).resize((PANEL, PANEL), Image.Resampling.LANCZOS),
              decoded.resize((PANEL, PANEL), Image.Resampling.LANCZOS),
              qr.convert("RGB")]
    captions = [f"{args.image.name} (128x128 input)",
                f"from the code: {quality:.2f} dB",
                f"QR {code.version}-{code.level}: {len(data)} of {code.capacity} bytes"]
    height = max(p.height for p in panels) + CAPTION
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 20 * (len(panels) + 1), height + 20),
                      "white")
    draw = ImageDraw.Draw(sheet)
    x = 20
    for panel, caption in zip(panels, captions, strict=True):
        sheet.paste(panel, (x, 10 + (height - CAPTION - panel.height) // 2))
        draw.text((x, height - CAPTION + 18), caption, fill="black")
        x += panel.width + 20
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    lines = [
        f"command: python benchmarks/qr_example.py {' '.join(sys.argv[1:])}".rstrip(),
        f"model: {gzcodec.load_model().info.name} ({gzcodec.load_model().id}), default encode",
        f"{args.image.name}: {len(data)} bytes, PSNR {quality:.2f} dB (decoded from the code's picture)",
        f"QR code: {code.describe()}; {(code.modules + 8) * 8} px a side at 8 px a module",
        f"text form: {len(text)} characters ({text[:24]}...)",
        f"picture: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}",
    ]
    report = "\n".join(lines)
    print(report)
    args.out.with_suffix(".txt").write_text(report + "\n")


if __name__ == "__main__":
    main()
