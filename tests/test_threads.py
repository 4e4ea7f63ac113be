"""Thread policy (issue 11, item 3): one torch thread by default, GZCODEC_THREADS/--threads override.

Each gzcodec call sets torch's thread count only while it runs and restores
the caller's afterwards, also when several Python threads decode at once.
"""

from __future__ import annotations

import threading

import pytest
import torch
from typer.testing import CliRunner

import gzcodec
from gzcodec import threads
from gzcodec.cli import app
from gzcodec.errors import GzcodecError

from .conftest import EXAMPLES, FACE128

runner = CliRunner()


@pytest.fixture
def seen(model, monkeypatch):
    """Thread counts torch had while the generator ran; no override left behind."""
    counts: list[int] = []
    real = model.network.generate

    def generate(*args, **kwargs):
        counts.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(model.network, "generate", generate)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield counts
    threads.set_threads(None)
    torch.set_num_threads(before)


def test_decode_and_encode_run_on_one_thread_and_restore_the_callers(seen, face_gzl, face, model):
    gzcodec.decode(face_gzl)
    assert seen == [1] and torch.get_num_threads() == 3
    seen.clear()
    gzcodec.encode(face, steps=1, model=model)
    assert seen and set(seen) == {1} and torch.get_num_threads() == 3


def test_the_environment_variable_overrides_and_zero_leaves_torch_alone(seen, face_gzl, monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "2")
    gzcodec.decode(face_gzl)
    monkeypatch.setenv(threads.ENV_VAR, "0")
    gzcodec.decode(face_gzl)
    assert seen == [2, 3] and torch.get_num_threads() == 3


def test_set_threads_wins_over_the_environment(seen, face_gzl, monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "2")
    threads.set_threads(1)
    gzcodec.decode(face_gzl)
    assert seen == [1]


def test_set_threads_takes_a_numpy_integer(seen, face_gzl):
    import numpy as np

    threads.set_threads(np.int64(2))
    gzcodec.decode(face_gzl)
    assert seen == [2] and type(threads.configured_threads()) is int


@pytest.mark.parametrize("value", ["two", "-1", "1.5", "100000"])
def test_a_bad_setting_is_one_clear_error(seen, face_gzl, monkeypatch, value, tmp_path):
    monkeypatch.setenv(threads.ENV_VAR, value)
    with pytest.raises(GzcodecError, match=threads.ENV_VAR):
        gzcodec.decode(face_gzl)
    (tmp_path / "x.gzl").write_bytes(face_gzl)
    result = runner.invoke(app, ["decode", str(tmp_path / "x.gzl")])
    assert result.exit_code == 1 and result.output.startswith("error:")
    assert result.output.count("\n") == 1 and threads.ENV_VAR in result.output


def test_concurrent_decodes_restore_the_callers_count(seen, face_gzl):
    errors = []

    def work():
        try:
            for _ in range(5):
                gzcodec.decode(face_gzl)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors and set(seen) == {1} and torch.get_num_threads() == 3


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_every_computing_command_takes_threads(seen, face_gzl, tmp_path, command):
    (tmp_path / "face.gzl").write_bytes(face_gzl)
    src = EXAMPLES / "face.png" if command == "encode" else tmp_path / "face.gzl"
    out = tmp_path / ("out.gzl" if command == "encode" else "out.png")
    args = [command, str(src), "-o", str(out), "--threads", "2", "-q"]
    if command == "encode":
        args += ["--steps", "1", "--model", FACE128]  # the model whose generator `seen` watches
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {2}


def test_bench_takes_threads():
    result = runner.invoke(app, ["bench", "--help"])
    assert result.exit_code == 0 and "--threads" in result.output


def test_decoded_pixels_are_the_same_on_any_thread_count(monkeypatch):
    # GZCODEC_THREADS=1 and =2 gave different PNGs for 18 of 40 val faces, by 1 in a few
    # values (issue 26, item 5); these public images differed so before oneDNN was turned off.
    import numpy as np
    from skimage import data

    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    files = [gzcodec.encode(getattr(data, name)(), effort="none", rate=rate)
             for name in ("astronaut", "coffee", "camera", "rocket") for rate in (60, 128, 200)]
    try:
        decoded = {}
        for n in (1, 2, 3):
            threads.set_threads(n)
            decoded[n] = [np.asarray(gzcodec.decode(f)) for f in files]
    finally:
        threads.set_threads(None)
    for n in (2, 3):
        assert all(np.array_equal(a, b) for a, b in zip(decoded[1], decoded[n], strict=True)), n
    assert torch.backends.mkldnn.enabled  # the caller's setting is back
