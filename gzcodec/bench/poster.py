"""The poster's table: its published figures, and which of our measurements stands beside each.

The CS229 poster this project started from compared four methods on its 10
CelebA faces at 128x128. The bench measures the same baselines (and gzcodec
in the GAN-reversal row) on the first :data:`POSTER_IMAGES` of its images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .records import PosterFigures, PosterRow, RDPoint

__all__ = ["POSTER_BPP", "POSTER_IMAGES", "POSTER_ROWS", "pick_poster_point", "poster_table"]

POSTER_BPP = 0.2152
"""The poster's GAN-reversal rate, the rate gzcodec is held to in its row."""

POSTER_IMAGES = 10
"""The poster's test set: the first 10 images."""

POSTER_ROWS: tuple[tuple[str, str | None, PosterFigures], ...] = (
    ("KNN (K=4)", "knn colours=4", PosterFigures(bpp=1.486, psnr=23.012, mse=342.46, ssim=0.7145)),
    ("JPEG (10%)", "jpeg quality=10", PosterFigures(bpp=0.4848, psnr=26.161, mse=161.87, ssim=0.7711)),
    ("JPEG (1%)", "jpeg quality=1", PosterFigures(bpp=0.2176, psnr=20.465, mse=589.15, ssim=0.5280)),
    ("GAN reversal", None, PosterFigures(bpp=POSTER_BPP, psnr=21.192, mse=540.06, ssim=0.7073)),
)
"""The poster's table: method, the key of our matching measurement (``None``:
gzcodec, chosen by :func:`pick_poster_point`), the poster's figures."""


def pick_poster_point(ladder: Mapping[str, RDPoint]) -> tuple[str, bool]:
    """The ladder point standing in for the poster's GAN reversal.

    Parameters
    ----------
    ladder : mapping of str to RDPoint
        gzcodec's points by key.

    Returns
    -------
    key : str
        The largest setting whose mean bpp over the poster's first 10 images
        is at most :data:`POSTER_BPP`; the smallest setting when none is.
    fits : bool
        Whether that point is within the poster's rate.
    """
    keys = sorted(ladder, key=lambda k: ladder[k].param)
    fits = [k for k in keys if ladder[k].mean_poster_images.bpp <= POSTER_BPP]
    return (fits[-1], True) if fits else (keys[0], False)


def poster_table(
    points: Mapping[str, RDPoint], ladders: Mapping[str, Sequence[str]]
) -> tuple[PosterRow, ...]:
    """The poster's four rows with our measurements on its first 10 images beside them.

    Parameters
    ----------
    points : mapping of str to RDPoint
        Where our side of the table is looked up, by key.
    ladders : mapping of str to sequence of str
        The gzcodec models, each with its points' keys: a GAN-reversal row each.

    Returns
    -------
    tuple of PosterRow
        One row per poster method, one GAN-reversal row per gzcodec model.
    """
    rows = []
    for method, key, poster in POSTER_ROWS:
        if key is not None:
            point = points.get(key)
            ours = point.mean_poster_images if point else None
            rows.append(PosterRow(method, key if point else None, key, "", poster, ours))
            continue
        for name, keys in ladders.items():
            chosen, fits = pick_poster_point({k: points[k] for k in keys})
            note = (
                f"largest bits with mean bpp <= {POSTER_BPP}"
                if fits
                else f"no bits setting reaches {POSTER_BPP} bpp; smallest shown"
            )
            ours = points[chosen].mean_poster_images
            rows.append(PosterRow(f"{method} ({name})", chosen, chosen, note, poster, ours))
    return tuple(rows)
