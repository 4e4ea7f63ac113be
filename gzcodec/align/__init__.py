"""Faces from real photos: find each face and cut it out aligned as the training crops are.

The models are trained on aligned crops (a face of a set size, its eyes at set
places). A photo is searched for faces (dlib's HOG detector), each face's five
landmarks are found (dlib's 5-point model), and the similarity transform that
takes the template's landmarks (:mod:`gzcodec.align.template`, derived from
the training faces) onto them cuts the face out as the model's crop. This
package finds and cuts; :mod:`gzcodec.aligned` encodes the crops, each file
carrying its transform (a :class:`~gzcodec.container.Placement`, about 10
bytes), and :func:`gzcodec.outputs.paste_back` puts decoded faces back.

Needs the optional extra: ``pip install "gzcodec[align]"``; without it every
function here raises :class:`~gzcodec.errors.MissingDependencyError` saying so.

Examples
--------
>>> import gzcodec
>>> from skimage import data
>>> photo = data.astronaut()                                  # doctest: +SKIP
>>> faces = gzcodec.detect_faces(photo)                       # doctest: +SKIP
>>> len(faces), faces[0].crop.shape                           # doctest: +SKIP
(1, (128, 128, 3))
>>> files = gzcodec.encode_faces(photo, max_bytes=441)        # doctest: +SKIP
>>> pasted = gzcodec.paste_back(files, photo)                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from ..container import Placement
from ..imageio import ImageSource, read_rgb
from .detect import find_faces, reading_order
from .geometry import alignment_transform, crop_face, to_placement
from .template import Template, eye_centres, load_template

__all__ = ["ALIGN_POINTS", "Face", "detect_faces", "face_file_name", "no_face_name"]

ImageLike = Image.Image | np.ndarray | ImageSource
#: The landmarks the alignment is fitted to: the four eye corners (not the nose).
ALIGN_POINTS = slice(0, 4)


@dataclasses.dataclass(frozen=True)
class Face:
    """A face found in a photo, and its aligned crop.

    Attributes
    ----------
    box : (float, float, float, float)
        The detector's box ``(left, top, right, bottom)``, photo pixels.
    score : float
        The detector's confidence (above 0 is a detection).
    landmarks : numpy.ndarray
        ``(5, 2)`` ``(x, y)``: two corners of each eye, then the base of the
        nose, photo pixel-centre coordinates.
    transform : skimage.transform.SimilarityTransform
        Crop coordinates to photo coordinates (the ``inverse_map`` of
        :func:`skimage.transform.warp` that cuts the crop out).
    crop : numpy.ndarray
        The aligned face, ``(size, size, 3)`` uint8: what is encoded.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    transform: SimilarityTransform
    crop: np.ndarray

    @property
    def eyes(self) -> np.ndarray:
        """``(2, 2)``: the eye centres in the photo."""
        return eye_centres(self.landmarks)

    @property
    def placement(self) -> Placement:
        """The transform as a ``.gzl`` header stores it (rounded to 1/16 pixel)."""
        return to_placement(self.transform, self.crop.shape[0])


def detect_faces(image: ImageLike, *, size: int = 128, max_faces: int | None = None,
                 min_face: float | None = None) -> list[Face]:
    """The faces in a photo, aligned to the training crops, in reading order.

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        A photo, as :func:`gzcodec.encode` takes it (EXIF orientation applied).
    size : int
        The crop's side (the model's image size).
    max_faces : int, optional
        Keep only the largest this many faces.
    min_face : float, optional
        Smallest face looked for, in pixels (default 60, proportionally more
        in photos over 1024 pixels; see :func:`gzcodec.align.detect.find_faces`).

    Returns
    -------
    list of Face
        In reading order: rows from top to bottom, each row left to right.
        Empty if no face was found.
    """
    if max_faces is not None and max_faces < 1:
        raise ValueError(f"max_faces must be 1 or more, not {max_faces}")
    photo = read_rgb(image)
    detections = find_faces(photo, min_face=min_face)
    if max_faces is not None:
        detections = sorted(detections, key=lambda d: -(d.box[2] - d.box[0]))[:max_faces]
    template = load_template(size)
    # Fitted to the eye corners alone: they land on the template's within 2 pixels for 99.6 %
    # of the synthetic set's faces, where a fit to all five points (the nose too) gave 94.9 %
    # (results/align/README.md): the model's crops are defined by where the eyes are.
    eyes = Template(template.size, template.landmarks[ALIGN_POINTS])
    faces = []
    for i in reading_order([d.box for d in detections]):
        found = detections[i]
        transform = alignment_transform(found.landmarks[ALIGN_POINTS], eyes)
        faces.append(Face(found.box, found.score, found.landmarks, transform,
                          crop_face(photo, transform, size)))
    return faces


def face_file_name(stem: str, index: int, count: int, suffix: str = ".gzl") -> str:
    """The file name of face ``index`` (from 1) of ``count``: ``photo.gzl`` or ``photo.face-2.gzl``.

    Examples
    --------
    >>> face_file_name("photo", 1, 1), face_file_name("photo", 2, 3)
    ('photo.gzl', 'photo.face-2.gzl')
    """
    return f"{stem}{suffix}" if count == 1 else f"{stem}.face-{index}{suffix}"


def no_face_name(image: ImageLike) -> str:
    """How an error names a photo: its path, or its type."""
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        return str(image)
    return f"the {type(image).__name__}"
