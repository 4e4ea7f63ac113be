"""The README's ``--align`` picture: scikit-image's astronaut, and its face encoded and pasted back.

    python scripts/make_align_example.py          # -> results/align/astronaut.jpg

Left: the photo; middle: the photo with its face encoded at ``--max-bytes 441``
(``gzcodec encode --align``) and pasted back (``gzcodec decode --into``);
right: the aligned 128x128 face as decoded, enlarged.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from skimage import data

import gzcodec
from gzcodec import paste_back

OUT = Path("results/align/astronaut.jpg")


def main() -> None:
    photo = data.astronaut()
    encoded = gzcodec.encode(photo, align=True, max_bytes=441)
    pasted = paste_back(encoded, photo)
    face = gzcodec.decode(encoded).resize((256, 256), Image.Resampling.LANCZOS)
    sheet = Image.new("RGB", (512 * 2 + 256 + 16, 512), "white")
    sheet.paste(Image.fromarray(photo), (0, 0))
    sheet.paste(pasted, (520, 0))
    sheet.paste(face, (1040, 0))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT, quality=90)
    header = gzcodec.read_header(encoded)
    print(f"{OUT}: face file {len(encoded)} bytes (header {header.header_size}), placement "
          f"{header.placement}")


if __name__ == "__main__":
    main()
