"""Is a decoded face still the same person? dlib's face-recognition network decides.

The bench's identity rule (issue 20's measurement rules): the face box (dlib's
HOG detector) and the five landmarks (dlib's 5-point shape predictor) are
taken from the *original* image, once; the 128-D descriptor of dlib's
face-recognition ResNet is computed on the original and on the decoded image,
both aligned by the original's landmarks; a Euclidean distance below
:data:`SAME_PERSON_DISTANCE` (dlib's published threshold) means the same
person. A decode whose descriptor cannot be computed is not the same person.
Where the detector finds no face in the original, the whole image is the box
(:attr:`Reference.detected` is then ``False``, and the report counts it).

dlib and its model files are the optional ``[bench]`` dependencies
``dlib-bin`` and ``face_recognition_models``: never needed to encode or
decode. :func:`unavailable_reason` says why they cannot be used, if they
cannot.

Examples
--------
The astronaut's face (scikit-image's sample) is herself; a blank image is no one:

>>> import numpy as np
>>> from PIL import Image
>>> from skimage import data
>>> face = np.asarray(Image.fromarray(data.astronaut()[:224, 100:324]).resize((128, 128)))
>>> judge = FaceIdentity()
>>> reference = judge.reference(face)  # once per original
>>> reference.detected, judge.same_person(reference, face)
(True, True)
>>> judge.same_person(reference, np.full_like(face, 128))
False
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np

from ..align.backend import LANDMARKS_FILE, model_file
from ..errors import MissingDependencyError

__all__ = [
    "LANDMARKS_FILE",
    "RECOGNITION_FILE",
    "SAME_PERSON_DISTANCE",
    "FaceIdentity",
    "Reference",
    "models_dir",
    "unavailable_reason",
]

SAME_PERSON_DISTANCE = 0.6
"""Descriptors closer than this are the same person (dlib's threshold, 99.38 % on LFW)."""

RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"

_UPSAMPLE = 1
"""Times the detector upsamples the image: at 128x128 a face is below its 80-pixel
window without it (the astronaut's face is found with one, not without)."""


def models_dir() -> Path | None:
    """The folder of ``face_recognition_models``' ``.dat`` files, or ``None`` if it is not installed.

    Found as ``--align`` finds its landmark model (:func:`gzcodec.align.backend.model_file`),
    without importing the package.
    """
    try:
        folder = model_file(RECOGNITION_FILE).parent
    except MissingDependencyError:
        return None
    return folder if (folder / LANDMARKS_FILE).is_file() else None


def unavailable_reason() -> str | None:
    """Why identity cannot be measured here (``"not installed"``), or ``None`` when it can."""
    if importlib.util.find_spec("dlib") is None or models_dir() is None:
        return "not installed"
    return None


@dataclasses.dataclass(frozen=True)
class Reference:
    """What the original face gives every comparison: where the face is, and who it is.

    Plain values only, so that a reference travels to a worker process.

    Attributes
    ----------
    box : tuple of int
        Left, top, right, bottom of the face (inclusive), from the detector or
        the whole image.
    landmarks : tuple of (int, int)
        The five landmarks dlib's shape predictor finds in ``box``.
    descriptor : numpy.ndarray
        The original's 128-D descriptor.
    detected : bool
        Whether the detector found the face (``False``: ``box`` is the whole image).
    """

    box: tuple[int, int, int, int]
    landmarks: tuple[tuple[int, int], ...]
    descriptor: np.ndarray
    detected: bool


class FaceIdentity:
    """dlib's detector, 5-point landmarks and face-recognition ResNet, loaded once.

    Parameters
    ----------
    folder : path, optional
        Folder holding :data:`LANDMARKS_FILE` and :data:`RECOGNITION_FILE`;
        :func:`models_dir` by default.

    Raises
    ------
    ImportError
        When dlib or the model files are not installed.
    """

    def __init__(self, *, folder: str | Path | None = None) -> None:
        import dlib  # optional: the [bench] extra

        folder = models_dir() if folder is None else Path(folder)
        if folder is None:
            raise ImportError("face_recognition_models is not installed")
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(Path(folder) / LANDMARKS_FILE))
        self._network = dlib.face_recognition_model_v1(str(Path(folder) / RECOGNITION_FILE))

    def reference(self, original: np.ndarray) -> Reference:
        """The face box, landmarks and descriptor of an original (``H x W x 3`` uint8)."""
        pixels = np.ascontiguousarray(original, dtype=np.uint8)
        found = self._detector(pixels, _UPSAMPLE)
        if len(found):
            # Several faces: the largest is the one the crop was made around.
            rect = max(found, key=lambda r: r.width() * r.height())
        else:
            rect = self._dlib.rectangle(0, 0, pixels.shape[1] - 1, pixels.shape[0] - 1)
        shape = self._landmarks(pixels, rect)
        descriptor = np.array(self._network.compute_face_descriptor(pixels, shape))
        return Reference(
            box=(rect.left(), rect.top(), rect.right(), rect.bottom()),
            landmarks=tuple((p.x, p.y) for p in shape.parts()),
            descriptor=descriptor,
            detected=bool(len(found)),
        )

    def descriptor(self, reference: Reference, decoded: np.ndarray) -> np.ndarray | None:
        """The 128-D descriptor of ``decoded``, aligned by the original's landmarks (``None``: none).

        What :meth:`distance` compares, and what the realism bench's KID is
        computed on (:mod:`gzcodec.bench.realism_run`).
        """
        dlib = self._dlib
        try:
            pixels = np.ascontiguousarray(decoded, dtype=np.uint8)
            rect = dlib.rectangle(*reference.box)
            shape = dlib.full_object_detection(rect, [dlib.point(x, y) for x, y in reference.landmarks])
            descriptor = np.array(self._network.compute_face_descriptor(pixels, shape))
        except (RuntimeError, TypeError, ValueError):
            return None
        if descriptor.shape != reference.descriptor.shape or not np.all(np.isfinite(descriptor)):
            return None
        return descriptor

    def distance(self, reference: Reference, decoded: np.ndarray) -> float:
        """Distance between the original's descriptor and the decode's, aligned by the original.

        Returns
        -------
        float
            Euclidean distance; ``inf`` when the decode's descriptor cannot be
            computed (a failure: not the same person).
        """
        descriptor = self.descriptor(reference, decoded)
        if descriptor is None:
            return math.inf
        return float(np.linalg.norm(descriptor - reference.descriptor))

    def same_person(self, reference: Reference, decoded: np.ndarray) -> bool:
        """Whether ``decoded`` shows the person of ``reference`` (distance below the threshold)."""
        return self.distance(reference, decoded) < SAME_PERSON_DISTANCE
