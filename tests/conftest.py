"""Shared fixtures and Hypothesis profiles of the test suite.

Fixtures: ``EXAMPLES`` and :func:`psnr`; ``model`` (``face128``, pinned: see
:data:`FACE128`), ``default_model`` (the bundled default, ``face128-v2``), ``face``
(``examples/face.png``), ``face_gzl`` (it encoded at 6 bits with ``face128``),
``isolated_models`` (no user cache or ``GZCODEC_MODEL_PATH`` models; returns
``tmp_path``), ``astronaut`` (scikit-image's astronaut cropped to her face) and
``valid_files`` (it encoded in every payload coding of both format versions).

Profiles (select with ``HYPOTHESIS_PROFILE=name`` or ``--hypothesis-profile=name``):

* ``gzcodec`` (default): modest example counts, a deadline per example, no
  "too slow" health check (the machine may be busy training);
* ``ci``: the same, derandomized so that CI runs are reproducible;
* ``fuzz``: ten times the examples, for a longer local hunt.

Hypothesis's deadline only reports a slow example after it returns, so the
hostile-input tests also wrap every decode in :func:`hard_timeout`, which
interrupts a hang (SIGALRM) instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=timedelta(seconds=5), print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("gzcodec", **_COMMON)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=10 * settings.default.max_examples, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gzcodec"))


def scaled(n: int) -> int:
    """``n`` examples, times ten under the ``fuzz`` profile."""
    return n * 10 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else n


class HangError(AssertionError):
    """A decode ran past its hard time limit."""


@contextlib.contextmanager
def hard_timeout(seconds: float):
    """Fail with :class:`HangError` if the body runs longer than ``seconds`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _alarm(signum, frame):
        raise HangError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# --------------------------------------------------------------------------- model fixtures


#: The model of the tests of the codec's mechanics (payload codings, format versions 1 and 2,
#: the bits ladder, squeezing, the container, the registry, threads): the first bundled
#: model. Only it has every coding and format version, and its encoder's guess takes ~0.03 s
#: where the default's refined encode takes 0.3-0.7 s. The default is tested end to end in
#: tests/test_default_model.py.
FACE128 = "face128"


@pytest.fixture(scope="session")
def model():
    """``face128`` (:data:`FACE128`), whichever model is the default."""
    import gzcodec

    return gzcodec.load_model(FACE128)


@pytest.fixture(scope="session")
def default_model():
    """The bundled default model (:data:`gzcodec.zoo.DEFAULT_MODEL`, whatever snapshot is bundled)."""
    import gzcodec

    return gzcodec.load_model()


@pytest.fixture(scope="session")
def face():
    """The shipped example face (128x128 RGB PIL image)."""
    from PIL import Image

    with Image.open(EXAMPLES / "face.png") as im:
        return im.convert("RGB")


@pytest.fixture(scope="session")
def face_gzl(face, model) -> bytes:
    """``face`` encoded at 6 bits with ``face128`` and 5 refinement steps (fast)."""
    import gzcodec

    return gzcodec.encode(face, bits=6, model=model, steps=5)


@pytest.fixture
def isolated_models(tmp_path, monkeypatch) -> Path:
    """Only the bundled models: the user cache moves to ``tmp_path/cache``, no env path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GZCODEC_MODEL_PATH", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A second real face: the astronaut of scikit-image's bundled data, cropped to her face."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[20:220, 150:350])


@pytest.fixture(scope="session")
def valid_files(model, astronaut) -> dict[str, bytes]:
    """Valid ``.gzl`` files of the face in every coding, made with ``face128``.

    Version 2 files are ``range6``, ``raw4``, ``zstd8``, ``zstd12``; version 1
    files the same with a ``v1-`` prefix (``v1-ans6`` for the range one).
    """
    import gzcodec

    files = {}
    for version, prefix in ((2, ""), (1, "v1-")):
        for name, bits, coding in [("range6", 6, "range"), ("raw4", 4, "raw"), ("zstd8", 8, "zstd"),
                                   ("zstd12", 12, "zstd")]:
            if version == 1 and coding == "range":
                name, coding = "ans6", "ans"
            files[prefix + name] = gzcodec.encode(astronaut, bits=bits, steps=0, coding=coding,
                                                  model=model, format_version=version)
    return files
