"""The optional face-finding backend: dlib and the model files of ``face_recognition_models``.

Both come with ``pip install "gzcodec[align]"`` (``dlib-bin``, a prebuilt dlib
wheel, and ``face_recognition_models``). Neither is imported until a face is
looked for, and a missing one is a :class:`~gzcodec.errors.MissingDependencyError`
that says what to install.

``face_recognition_models`` imports ``pkg_resources`` (gone from recent
setuptools) only to find its own folder, so its files are located through
:func:`importlib.util.find_spec` without importing it.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from ..errors import MissingDependencyError, import_optional

__all__ = ["INSTALL_HINT", "dlib_module", "model_file", "hog_detector", "landmark_predictor"]

#: What a user without the extra is told to run.
INSTALL_HINT = 'pip install "gzcodec[align]" (dlib-bin and face_recognition_models)'

#: The 5-point landmark model: two corners of each eye and the base of the nose.
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"


def dlib_module():
    """The ``dlib`` module, or :class:`MissingDependencyError` saying what to install."""
    return import_optional("dlib", f"face alignment needs dlib: {INSTALL_HINT}")


def model_file(name: str) -> Path:
    """A model file of ``face_recognition_models``, found without importing the package."""
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise MissingDependencyError(f"face alignment needs {name} from face_recognition_models: {INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def hog_detector():
    """dlib's HOG face detector (frontal, turned and profile-leaning filters), loaded once."""
    return dlib_module().get_frontal_face_detector()


@functools.lru_cache(maxsize=1)
def landmark_predictor():
    """dlib's 5-point landmark model, loaded once (9 MB)."""
    dlib = dlib_module()
    return dlib.shape_predictor(str(model_file(LANDMARKS_FILE)))
