"""The alignment template: where the training faces' landmarks are in a model's crop.

The numbers are not typed in: ``scripts/derive_align_template.py`` ran the
landmark detector of :mod:`gzcodec.align.detect` over the training faces and
wrote their mean positions to ``template.json`` beside this module (its full
output, with both CelebA crop conventions compared, is in ``results/align/``).

Coordinates are those of scikit-image and dlib: ``(x, y)`` with the centre of
the top-left pixel at ``(0, 0)``, for a crop of :attr:`Template.size` pixels.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

__all__ = ["TEMPLATE_FILE", "LANDMARK_NAMES", "Template", "load_template"]

TEMPLATE_FILE = Path(__file__).with_name("template.json")
#: The 5 points of dlib's 5-point model, in its order.
LANDMARK_NAMES = ("eye_a_outer", "eye_a_inner", "eye_b_outer", "eye_b_inner", "nose")


@dataclasses.dataclass(frozen=True)
class Template:
    """Mean landmark positions of the training crops.

    ``landmarks`` is ``(5, 2)`` float ``(x, y)`` in a ``size x size`` crop,
    in :data:`LANDMARK_NAMES` order.
    """

    size: int
    landmarks: np.ndarray

    @property
    def eye_centres(self) -> np.ndarray:
        """``(2, 2)``: the centre of each eye (the mean of its two corners)."""
        return eye_centres(self.landmarks)

    def scaled(self, size: int) -> Template:
        """The template for a crop of ``size`` pixels (pixel-centre coordinates scale about -0.5)."""
        factor = size / self.size
        return Template(size, (self.landmarks + 0.5) * factor - 0.5)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """The two eye centres ``(2, 2)`` of 5-point landmarks ``(..., 5, 2)``."""
    landmarks = np.asarray(landmarks, np.float64)
    return np.stack([landmarks[..., 0:2, :].mean(-2), landmarks[..., 2:4, :].mean(-2)], -2)


@functools.cache
def load_template(size: int = 128) -> Template:
    """The template shipped in ``template.json``, for a crop of ``size`` pixels.

    Examples
    --------
    >>> t = load_template()
    >>> t.size, t.landmarks.shape
    (128, (5, 2))
    >>> bool(t.eye_centres[0, 0] > t.eye_centres[1, 0])   # eye a is on the image's right
    True
    """
    record = json.loads(TEMPLATE_FILE.read_text())
    template = Template(int(record["size"]), np.array(record["landmarks"], np.float64))
    return template if size == template.size else template.scaled(size)
