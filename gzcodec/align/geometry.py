"""The similarity transforms between a photo and a model's crop, and the warps along them.

A transform maps crop coordinates to photo coordinates, both scikit-image's
pixel-centre ``(x, y)``: it is what :func:`skimage.transform.warp` takes as
``inverse_map`` to cut the crop out of the photo. :func:`to_placement` and
:func:`from_placement` convert it to and from the fixed-point
:class:`gzcodec.container.Placement` a ``.gzl`` header carries (corner
coordinates, ``spec/gzl.md`` §1.4).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from skimage.transform import AffineTransform, SimilarityTransform, warp

from ..container import Placement
from .template import Template

__all__ = ["alignment_transform", "crop_face", "to_placement", "from_placement", "face_mask",
           "paste_face"]


def alignment_transform(landmarks: np.ndarray, template: Template) -> SimilarityTransform:
    """The similarity (least squares) that takes ``template``'s landmarks onto ``landmarks``.

    Parameters
    ----------
    landmarks : numpy.ndarray
        ``(5, 2)`` points found in the photo.
    template : Template
        Where they belong in the crop.

    Examples
    --------
    >>> t = Template(128, np.array([[80., 56], [70, 56], [50, 56], [40, 56], [60, 80]]))
    >>> found = t.landmarks * 2 + (100, 50)        # the same face, twice as large, moved
    >>> transform = alignment_transform(found, t)
    >>> round(float(transform.scale), 6), np.round(transform.translation, 6).tolist()
    (2.0, [100.0, 50.0])
    """
    src, dst = np.asarray(template.landmarks, np.float64), np.asarray(landmarks, np.float64)
    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        transform = SimilarityTransform.from_estimate(src, dst)
        if not transform:
            raise ValueError(f"no similarity fits these landmarks ({transform})")
        return transform
    transform = SimilarityTransform()
    if not transform.estimate(src, dst):
        raise ValueError("no similarity fits these landmarks")
    return transform


def _corners(transform: SimilarityTransform, size: int) -> np.ndarray:
    """The crop's four corners in photo pixel-centre coordinates."""
    edge = (-0.5, size - 0.5)
    return transform(np.array([(x, y) for x in edge for y in edge], np.float64))


def crop_face(photo: np.ndarray, transform: SimilarityTransform, size: int) -> np.ndarray:
    """The ``size x size`` crop of ``photo`` that ``transform`` places, as uint8 RGB.

    A face larger than the crop is first reduced with Pillow's Lanczos filter
    (no aliasing); the turn and the last fraction of the scale are a bicubic
    warp. Outside the photo the image is mirrored.
    """
    height, width = photo.shape[:2]
    corners = _corners(transform, size)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the photo: mirror the whole of it
        x0, y0, x1, y1 = 0, 0, width, height
    factor = max(1.0, float(transform.scale))
    small_w, small_h = max(1, math.ceil((x1 - x0) / factor)), max(1, math.ceil((y1 - y0) / factor))
    region = Image.fromarray(photo).resize((small_w, small_h), Image.Resampling.LANCZOS,
                                           box=(x0, y0, x1, y1))
    # photo pixel-centre -> region pixel-centre
    sx, sy = small_w / (x1 - x0), small_h / (y1 - y0)
    to_region = np.array([[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5], [0, 0, 1]])
    inverse = AffineTransform(matrix=to_region @ transform.params)
    out = warp(np.asarray(region, np.float64) / 255, inverse, output_shape=(size, size), order=3,
               mode="symmetric")
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def to_placement(transform: SimilarityTransform, size: int) -> Placement:
    """The header field of a ``size``-pixel crop placed by ``transform`` (rounded to its steps)."""
    centre = transform(np.array([[(size - 1) / 2, (size - 1) / 2]]))[0] + 0.5
    return Placement.from_geometry(centre=(float(centre[0]), float(centre[1])),
                                   side=float(transform.scale) * size,
                                   angle=float(transform.rotation))


def from_placement(placement: Placement, size: int) -> SimilarityTransform:
    """The transform of a header's placement for the model's ``size``-pixel crop.

    Examples
    --------
    >>> t = SimilarityTransform(scale=1.5, rotation=0.3, translation=(40.0, 70.0))
    >>> back = from_placement(to_placement(t, 128), 128)
    >>> corners = np.array([[0.0, 0.0], [127.0, 127.0]])
    >>> bool(np.abs(back(corners) - t(corners)).max() < 0.05)   # 1/16-pixel steps
    True
    """
    scale = placement.side_pixels / size
    rotation = placement.angle_radians
    half = (size - 1) / 2
    centre = np.array(placement.centre) - 0.5
    turn = np.array([[math.cos(rotation), -math.sin(rotation)], [math.sin(rotation), math.cos(rotation)]])
    translation = centre - scale * turn @ (half, half)
    return SimilarityTransform(scale=scale, rotation=rotation, translation=translation)


def face_mask(size: int, *, width: float = 0.78, height: float = 0.92, feather: float = 0.2
              ) -> np.ndarray:
    """A soft ellipse ``(size, size)`` in [0, 1]: 1 over the face, 0 at the crop's edges.

    ``width`` and ``height`` are the ellipse's axes as fractions of the crop;
    ``feather`` the fraction of its radius over which it fades out.
    """
    grid = (np.arange(size) + 0.5) / size - 0.5
    radius = np.hypot(grid[None, :] / (width / 2), grid[:, None] / (height / 2))
    return np.clip((1 - radius) / feather, 0, 1)


def paste_face(photo: np.ndarray, face: np.ndarray, transform: SimilarityTransform, *,
               mask: np.ndarray | None = None) -> np.ndarray:
    """``photo`` with ``face`` (a crop) warped back to where ``transform`` placed it.

    The face is blended in through ``mask`` (``(size, size)`` in [0, 1];
    :func:`face_mask` by default), so its edges and corners (background the
    model made up) leave the photo as it was.
    """
    from skimage.filters import gaussian

    height, width = photo.shape[:2]
    size = face.shape[0]
    corners = _corners(transform, size)
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    pixels = np.asarray(face, np.float64) / 255
    scale = float(transform.scale)
    if scale < 0.8:  # the crop is shrunk into the photo: blur it first rather than alias
        pixels = gaussian(pixels, sigma=(1 / scale - 1) / 2, channel_axis=-1)
    # region pixel-centre -> photo -> crop
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    inverse = AffineTransform(matrix=np.linalg.inv(transform.params) @ shift)
    shape = (y1 - y0, x1 - x0)
    patch = warp(pixels, inverse, output_shape=shape, order=3, mode="edge")
    mask = warp(face_mask(size) if mask is None else mask, inverse, output_shape=shape, order=1,
                mode="constant", cval=0)
    region = out[y0:y1, x0:x1].astype(np.float64) / 255
    blended = region * (1 - mask[..., None]) + np.clip(patch, 0, 1) * mask[..., None]
    out[y0:y1, x0:x1] = (blended * 255 + 0.5).astype(np.uint8)
    return out
