"""Which distortions of a QR code picture each error-correction level survives.

Encodes a face as ``gzcodec encode --qr`` does (default quality, the smallest code that
holds it, 8 px a module, a 4-module quiet zone), distorts the picture the ways a print and
a phone's snapshot do, reads it back with :func:`gzcodec.qr.read_qr` and checks the file
is the one written, bit for bit. ``DISTORTIONS`` is also what ``tests/test_qr.py`` checks
at level M.

Usage::

    python benchmarks/qr_robustness.py [IMAGE ...] [--out results/qr/robustness.txt]

Default image: ``examples/face.png``.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from gzcodec.qr import DEFAULT_BORDER, DEFAULT_SCALE

ROOT = Path(__file__).resolve().parent.parent


def _scaled(factor: float) -> Callable[[Image.Image], Image.Image]:
    def scale(im: Image.Image) -> Image.Image:
        size = (round(im.width * factor), round(im.height * factor))
        return im.convert("L").resize(size, Image.Resampling.BILINEAR)
    return scale


def _rotated(degrees: float) -> Callable[[Image.Image], Image.Image]:
    def rotate(im: Image.Image) -> Image.Image:
        return im.convert("L").rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True,
                                      fillcolor=255)
    return rotate


def _perspective_coefficients(src: list[tuple[float, float]], dst: list[tuple[float, float]]
                              ) -> list[float]:
    """Pillow's 8 PERSPECTIVE coefficients mapping output points ``dst`` to input points ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def tilt(im: Image.Image, amount: float = 0.12) -> Image.Image:
    """A mild perspective tilt: the top edge ``amount`` narrower than the bottom, as a
    picture taken from below its centre."""
    im = im.convert("L")
    w, h = im.size
    d = amount * w / 2
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    moved = [(d, 0), (w - d, 0), (w, h), (0, h)]
    return im.transform((w, h), Image.Transform.PERSPECTIVE,
                        _perspective_coefficients(corners, moved), Image.Resampling.BICUBIC,
                        fillcolor=255)


def blur(im: Image.Image) -> Image.Image:
    return _gaussian(1)(im)


def jpeg75(im: Image.Image) -> Image.Image:
    return _jpeg(75)(im)


def white_border(im: Image.Image, fraction: float = 0.2) -> Image.Image:
    return ImageOps.expand(im.convert("L"), border=round(fraction * max(im.size)), fill=255)


def snapshot(im: Image.Image) -> Image.Image:
    """All at once, roughly a phone's snapshot of a print: tilt, 10 degrees, half size, blur, JPEG."""
    return jpeg75(blur(_scaled(0.5)(_rotated(10)(tilt(white_border(im))))))


#: name -> what it does to a picture (each alone, on the picture as written).
DISTORTIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "as written": lambda im: im,
    "scale x0.5": _scaled(0.5),
    "scale x3": _scaled(3),
    "rotate 90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "rotate +10": _rotated(10),
    "rotate -10": _rotated(-10),
    "gaussian blur 1 px": blur,
    "perspective tilt": tilt,
    "jpeg q75": jpeg75,
    "20% white border": white_border,
}
def stain(fraction: float) -> Callable[[Image.Image], Image.Image]:
    """A black square over ``fraction`` of the code's area at its centre (ink, a scratch, a
    thumb): what the error-correction level is for."""
    def cover(im: Image.Image) -> Image.Image:
        im = im.convert("L").copy()
        quiet = DEFAULT_BORDER * DEFAULT_SCALE
        side = (fraction * (im.width - 2 * quiet) * (im.height - 2 * quiet)) ** 0.5
        cx, cy = im.width / 2, im.height / 2
        ImageDraw.Draw(im).rectangle([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2],
                                     fill=0)
        return im
    return cover


def _gaussian(radius: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.convert("L").filter(ImageFilter.GaussianBlur(radius=radius))


def _jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def compress(im: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        im.convert("L").save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer)
    return compress


#: Beyond the checks: harder versions, the distortions together, and stains, which show
#: what the levels buy.
EXTRA = {
    "scale x0.25": _scaled(0.25),
    "gaussian blur 3 px": _gaussian(3),
    "jpeg q10": _jpeg(10),
    "perspective tilt x2.5": lambda im: tilt(im, 0.3),
    "all of them (snapshot)": snapshot,
    **{f"stain over {round(100 * f)}% of the code": stain(f) for f in (0.05, 0.1, 0.15, 0.2, 0.3)},
}


def survives(png: bytes, data: bytes, distort: Callable[[Image.Image], Image.Image]) -> bool:
    """Whether the code in ``png``, distorted, still reads as ``data``."""
    from gzcodec.errors import GzcodecError
    from gzcodec.qr import read_qr

    with Image.open(io.BytesIO(png)) as im:
        picture = distort(im)
        picture.load()
    try:
        return read_qr(picture) == data
    except GzcodecError:
        return False


def main(argv: list[str] | None = None) -> None:
    import gzcodec
    from gzcodec.qr import LEVELS, make_qr

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", type=Path, default=[ROOT / "examples" / "face.png"])
    parser.add_argument("--out", type=Path, help="Also write the table here.")
    args = parser.parse_args(argv)
    lines = [f"command: python benchmarks/qr_robustness.py {' '.join(sys.argv[1:])}".rstrip(),
             f"model: {gzcodec.load_model().info.name} ({gzcodec.load_model().id}), default "
             f"encode; 8 px a module, 4-module quiet zone; y: read back bit for bit", ""]
    names = [*DISTORTIONS, *EXTRA]
    for image in args.images:
        data = gzcodec.encode(image)
        codes = {level: make_qr(data, level=level) for level in LEVELS}
        lines.append(f"{image.name}: {len(data)} bytes; "
                     + ", ".join(f"{lv} version {c.version} ({c.modules} modules)"
                                 for lv, c in codes.items()))
        width = max(map(len, names))
        lines.append(f"{'distortion':<{width}}  " + "  ".join(LEVELS))
        for name in names:
            if name == next(iter(EXTRA)):
                lines.append("beyond the checks:")
            distort = DISTORTIONS.get(name) or EXTRA[name]
            marks = ["y" if survives(codes[lv].png, data, distort) else "-" for lv in LEVELS]
            lines.append(f"{name:<{width}}  " + "  ".join(marks))
        lines.append("")
    text = "\n".join(lines)
    from _report import emit  # here: tests/test_qr.py loads this file's functions by path

    emit(text, args.out)


if __name__ == "__main__":
    main()
