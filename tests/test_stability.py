"""Stable decoding: same pixels on every run, within one level across thread counts; same
image, model and seed give the same bytes; golden files guard against format or model drift.

The golden files (``tests/golden``) are made by ``tests/golden/make_golden.py``
with the bundled model, in both format versions (the version 1 ones are kept as
they were first written: old files must decode forever). Their *container*
checks always run; the decoded *symbols* must match bit for bit at any thread
count (entropy decoding is integer arithmetic under stored tables); the pixel
comparison (within one level: the generator's float kernels differ between
thread counts and CPUs) is skipped, saying why, only while the installed
default model is not the one they were made with.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gzcodec
from gzcodec.container import pack, unpack

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "golden.json").read_text())
NAMES = [entry["name"] for entry in MANIFEST["files"]]


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture
def threads():
    """Set torch's thread count for one test, then restore it."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- repeatability


def test_repeated_decodes_are_identical(valid_files):
    for data in valid_files.values():
        first = gzcodec.decode(data).tobytes()
        assert gzcodec.decode(data).tobytes() == first
        with Image.open(io.BytesIO(data)) as im:
            assert im.tobytes() == first


def test_one_thread_and_all_cores_decode_within_one_level(valid_files, threads):
    many = max(2, os.cpu_count() or 1)
    for data in valid_files.values():
        threads(1)
        single = _pixels(gzcodec.decode(data))
        threads(many)
        multi = _pixels(gzcodec.decode(data))
        assert np.abs(single - multi).max() <= 1


def test_same_image_model_and_seed_give_the_same_bytes(astronaut, model):
    options = dict(bits=5, steps=2, seed=11, model=model)
    batch = [astronaut, np.ascontiguousarray(astronaut[::-1])]
    assert gzcodec.encode_batch(batch, **options) == gzcodec.encode_batch(batch, **options)


_CHILD = textwrap.dedent("""
    import sys
    import numpy as np, torch
    import gzcodec
    torch.set_num_threads(int(sys.argv[4]))  # as the parent: encoding must repeat exactly
    image = np.load(sys.argv[1])
    sys.stdout.write(gzcodec.encode(image, bits=5, steps=3, seed=11, model="face128").hex() + "\\n")
    torch.set_num_threads(1)  # decoding must agree within one level whatever the threads
    np.save(sys.argv[3], np.asarray(gzcodec.decode(bytes.fromhex(sys.argv[2]))))
""")


@pytest.mark.slow
def test_a_fresh_single_threaded_process_agrees(astronaut, model, valid_files, tmp_path):
    """A second run in a fresh process encodes the same bytes, and its single-threaded
    decode is within one level of this one's."""
    np.save(tmp_path / "image.npy", astronaut)
    data = valid_files["range6"]
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "image.npy"), data.hex(),
         str(tmp_path / "decoded.npy"), str(torch.get_num_threads())],
        capture_output=True, text=True, timeout=300, check=True,
    )
    here = gzcodec.encode(astronaut, bits=5, steps=3, seed=11, model=model)
    assert bytes.fromhex(result.stdout.strip()) == here
    decoded = np.load(tmp_path / "decoded.npy").astype(np.int16)
    assert np.abs(decoded - _pixels(gzcodec.decode(data))).max() <= 1


# --------------------------------------------------------------------------- golden files


def test_golden_files_cover_both_versions():
    versions = {(e["version"], e["coding"]) for e in MANIFEST["files"]}
    assert {1, 2} == {v for v, _ in versions} and (2, "range") in versions and (1, "ans") in versions


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_is_still_a_valid_container(name):
    entry = next(e for e in MANIFEST["files"] if e["name"] == name)
    data = (GOLDEN / f"{name}.gzl").read_bytes()
    header, payload = unpack(data)
    assert pack(header, payload) == data  # the format has not drifted
    assert MANIFEST["model_id"].startswith(header.model_id_hex)
    assert (header.version, header.rate, header.coding.name.lower(), len(data)) == (
        entry["version"], entry["bits"], entry["coding"], entry["bytes"])


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_decodes_to_its_symbols_bit_for_bit_at_any_thread_count(name, model, threads):
    entry = next(e for e in MANIFEST["files"] if e["name"] == name)
    data = (GOLDEN / f"{name}.gzl").read_bytes()
    if not model.id.startswith(gzcodec.read_header(data).model_id_hex):
        pytest.skip("golden files were made with another model")
    for n in (1, max(2, os.cpu_count() or 1)):
        threads(n)
        symbols = gzcodec.codec.decode_symbols(data).symbols
        assert hashlib.sha256(symbols.astype("<i8").tobytes()).hexdigest() == entry["symbols_sha256"]


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_decodes_to_its_pixels(name, model):
    data = (GOLDEN / f"{name}.gzl").read_bytes()
    made_with = gzcodec.read_header(data).model_id_hex
    if not model.id.startswith(made_with):
        pytest.skip(f"golden files were made with model {made_with}, the installed default is "
                    f"{model.id}: run `python tests/golden/make_golden.py` and commit the result")
    with Image.open(GOLDEN / f"{name}.png") as im:
        expected = _pixels(im.convert("RGB"))
    decoded = _pixels(gzcodec.decode(data))
    assert decoded.shape == expected.shape
    worst = np.abs(decoded - expected).max()
    assert worst <= 1, f"{name} decodes {worst} levels away from its golden pixels"
