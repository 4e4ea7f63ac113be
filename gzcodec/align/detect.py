"""Finding faces and their landmarks in a photo (dlib's HOG detector and 5-point model).

A photo is searched at one scale chosen so that the smallest face asked for
(``min_face`` pixels wide) fills the detector's 80-pixel window; dlib's own
pyramid then covers every larger face. Landmarks are found on the same scaled
image and mapped back to the photo's pixels. ``results/align/README.md`` has
the measurements behind these choices (detection rate, eye error, time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .backend import hog_detector, landmark_predictor

__all__ = ["DETECTOR_WINDOW", "DEFAULT_MIN_FACE", "DEFAULT_THRESHOLD", "Detection", "find_faces",
           "reading_order", "default_min_face"]

#: The side of the HOG detector's window: the smallest face it finds without scaling, pixels.
DETECTOR_WINDOW = 80
#: Smallest face looked for in a photo up to 1024 pixels (larger photos: proportionally larger).
DEFAULT_MIN_FACE = 60
#: Added to dlib's detection threshold (0): detections scoring at most this are dropped. On the
#: synthetic set (results/align/README.md) true faces scored above 0.1 for 234 of the 235 found
#: at 0, and the false detections (there and on scikit-image's astronaut) 0.03-0.06.
DEFAULT_THRESHOLD = 0.1


@dataclasses.dataclass(frozen=True)
class Detection:
    """A face the detector found: its box, score and 5 landmarks, in the photo's pixels.

    ``box`` is ``(left, top, right, bottom)``; ``landmarks`` is ``(5, 2)``
    ``(x, y)`` in pixel-centre coordinates (see :mod:`gzcodec.align.template`).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray


def default_min_face(width: int, height: int) -> float:
    """:data:`DEFAULT_MIN_FACE` for photos up to 1024 pixels, proportionally more above."""
    return DEFAULT_MIN_FACE * max(1.0, max(width, height) / 1024)


def find_faces(photo: np.ndarray, *, min_face: float | None = None,
               threshold: float | None = None) -> list[Detection]:
    """Every face in an ``(H, W, 3)`` uint8 photo, most confident first.

    Parameters
    ----------
    photo : numpy.ndarray
        RGB pixels.
    min_face : float, optional
        Smallest face to look for, in pixels (the detector box's side);
        default :func:`default_min_face`. Smaller is slower (the photo is
        scaled by ``80 / min_face`` before the search).
    threshold : float, optional
        Added to the detector's threshold (default :data:`DEFAULT_THRESHOLD`).
    """
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    height, width = photo.shape[:2]
    if min_face is None:
        min_face = default_min_face(width, height)
    if min_face <= 0:
        raise ValueError(f"min_face must be above 0, not {min_face}")
    scale = DETECTOR_WINDOW / min_face
    work = photo
    if abs(scale - 1) > 1e-3:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR))
        scale_x, scale_y = size[0] / width, size[1] / height
    else:
        scale_x = scale_y = 1.0
    rects, scores, _ = hog_detector().run(work, 0, threshold)
    predictor = landmark_predictor()
    found = []
    for rect, score in sorted(zip(rects, scores, strict=True), key=lambda item: -item[1]):
        shape = predictor(work, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        # Pixel centres scale about -0.5: the centre of work pixel 0 is at 0.5 / scale - 0.5.
        points = (points + 0.5) / (scale_x, scale_y) - 0.5
        box = (rect.left() / scale_x, rect.top() / scale_y,
               (rect.right() + 1) / scale_x, (rect.bottom() + 1) / scale_y)
        found.append(Detection(box, float(score), points))
    return found


def reading_order(boxes: Sequence[tuple[float, float, float, float]]) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom, each row left to right.

    Two faces are in one row when their centres are closer in height than half
    the smaller face.

    Examples
    --------
    >>> reading_order([(300, 10, 400, 110), (0, 30, 100, 130), (150, 300, 250, 400)])
    [1, 0, 2]
    """
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[3] - b[1]) for b in boxes]
    by_height = sorted(range(len(boxes)), key=lambda i: centres[i][1])
    rows: list[list[int]] = []
    for i in by_height:
        row = rows[-1] if rows else None
        if row is not None and abs(centres[i][1] - centres[row[0]][1]) < 0.5 * min(
                centres[i][2], centres[row[0]][2]):
            row.append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda j: centres[j][0])]
