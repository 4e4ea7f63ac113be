"""The atheris harness (``fuzz/fuzz_gzl.py``) and its seed corpus.

The fast test replays every seed through the harness's checks in-process;
the slow one runs the real coverage-guided fuzzer for a couple of thousand
inputs, as CI does (``fuzz/README.md`` has the longer runs).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gzcodec.container import MAGIC, Coding, unpack
from gzcodec.errors import FormatError, GzcodecError
from gzcodec.families import decode_symbols
from gzcodec.zoo import BUNDLED_DIR, list_models

from .conftest import hard_timeout

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
RUNS = 10_000  # about ten seconds; fuzz/README.md has the longer runs
SEEDS = sorted((FUZZ / "corpus").glob("*.gzl"))


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("fuzz_gzl", FUZZ / "fuzz_gzl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_has_valid_files_of_both_versions_in_every_coding_and_edge_cases():
    codings = set()
    for path in SEEDS:
        with contextlib.suppress(FormatError):
            header = unpack(path.read_bytes())[0]
            codings.add((header.version, header.coding))
    assert codings == {(1, c) for c in (Coding.RAW, Coding.ZSTD, Coding.ANS)} | {
        (2, c) for c in (Coding.RAW, Coding.ZSTD, Coding.RANGE)}
    assert sum(p.name.startswith("edge-v2-") for p in SEEDS) >= 20
    assert sum(p.name.startswith("v1-edge-") for p in SEEDS) >= 20


def _form(data: bytes) -> str:
    return "file" if data[:3] == MAGIC else "text" if data[:4] == b"gzl:" else "picture"


def test_corpus_has_valid_files_of_every_shipped_model_in_every_form():
    # Each shipped model's entropy model and generator are reached only through files that
    # carry its id; so are the text and QR readers' paths to them.
    shipped = {info.id for info in list_models() if info.path.resolve().parent == BUNDLED_DIR.resolve()}
    assert len(shipped) >= 2
    reached = set()
    for path in SEEDS:
        data = path.read_bytes()
        with contextlib.suppress(GzcodecError):
            reached.add((decode_symbols(data).model.id, _form(data)))
    assert {(model_id, form) for model_id in shipped for form in ("file", "text", "picture")} <= reached


def test_the_harness_runs_gzcodec_info_and_every_models_generator(harness, monkeypatch):
    monkeypatch.setattr(harness, "GENERATOR_EVERY", 1)
    monkeypatch.setattr(harness, "STATS", dict.fromkeys(harness.STATS, 0))
    monkeypatch.setattr(harness, "BY_MODEL", {})
    for path in SEEDS:
        if path.name.startswith("valid-"):
            with hard_timeout(30):
                harness.check(path.read_bytes())
    assert harness.STATS["info_ok"] >= harness.STATS["decode_checks_ok"] > 0
    assert harness.BY_MODEL["generator[face128-v2]"] >= 5
    assert harness.BY_MODEL["generator[face128]"] >= 5


def test_every_seed_passes_the_harness(harness, model):
    for path in SEEDS:
        with hard_timeout(30):
            harness.check(path.read_bytes())


@pytest.mark.slow
def test_a_short_fuzzing_run_finds_nothing(tmp_path):
    pytest.importorskip("atheris")
    new = tmp_path / "new"
    new.mkdir()
    result = subprocess.run(
        [sys.executable, str(FUZZ / "fuzz_gzl.py"), str(new), str(FUZZ / "corpus"),
         f"-dict={FUZZ / 'gzl.dict'}", f"-atheris_runs={RUNS}", "-timeout=20", "-rss_limit_mb=3072"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        # The gzcodec this test imports (a worktree's, not the editable install's): the script's
        # folder, not the repository, is first on its path.
        env={**os.environ, "GZL_FUZZ_GENERATOR_EVERY": "8",
             "PYTHONPATH": os.pathsep.join(filter(None, [str(FUZZ.parent),
                                                         os.environ.get("PYTHONPATH")]))},
    )
    report = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")), report
    assert f"Done {RUNS} " in result.stderr, report
