"""The bundled default model, ``face128-v2``, end to end: what a user gets without ``--model``.

The rest of the suite pins the codec's mechanics to ``face128`` (``conftest.FACE128``); these
tests run the default as a user does, at the default effort (``fast``, 0.3-0.7 s a face):
the command line, the Python API, the Pillow plugin, and the model card beside the weights.
Old ``face128`` files keep decoding with the bundled ``face128`` (the golden files in
``tests/golden/``, ``test_stability.py``).

Quality bounds are loose on purpose: the bundled snapshot is replaced as training goes on
(``scripts/export_default_model.py``); ``benchmarks/example_face.py`` prints what the
bundled one gives (``results/example-face.txt``).
"""

from __future__ import annotations

import io
import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec import zoo
from gzcodec.cli import app
from gzcodec.codec import decode_symbols
from gzcodec.imageio import to_model_input
from gzcodec.metrics import psnr
from gzcodec.rate import bits_to_rate

from .conftest import EXAMPLES, FACE128

runner = CliRunner()
DEFAULT_RATE = bits_to_rate(gzcodec.DEFAULT_BITS)
#: Bounds for examples/face.png at the defaults (348 bytes, 25.8 dB with the 9-level
#: step-85,167 snapshot; 420 bytes, 26.7 dB with the 10-level step-102,678 one; 424 bytes,
#: 26.7 dB at step 147,458; 404 bytes, 26.9 dB at the end of the run, step 250,000), loose
#: enough for models fine-tuned from it.
BYTES_RANGE = (250, 560)
PSNR_FLOOR = 24.5


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def reference():
    with Image.open(EXAMPLES / "face.png") as im:
        return np.asarray(to_model_input(im.convert("RGB"), 128)[0])


@pytest.fixture(scope="module")
def default_file(tmp_path_factory) -> bytes:
    """``gzcodec encode face.png`` with no option at all: the README's first command."""
    work = tmp_path_factory.mktemp("default")
    shutil.copy(EXAMPLES / "face.png", work / "face.png")
    result = _run("encode", work / "face.png", "-q")
    assert result.exit_code == 0, result.output
    return (work / "face.gzl").read_bytes()


def test_the_default_is_face128_v2_and_face128_is_still_bundled(isolated_models, default_model):
    assert zoo.DEFAULT_MODEL == "face128-v2" and default_model.info.name == "face128-v2"
    assert default_model.is_context and default_model.config.name == "face128-v2"
    assert not gzcodec.load_model(FACE128).is_context


def test_cli_encode_info_decode_with_every_default(default_file, default_model, reference, tmp_path):
    header = gzcodec.read_header(default_file)
    assert default_model.id.startswith(header.model_id_hex)
    assert (header.version, header.rate, header.coding) == (2, DEFAULT_RATE, gzcodec.Coding.RANGE)
    assert BYTES_RANGE[0] <= len(default_file) <= BYTES_RANGE[1]
    # The default effort of a v2 model is "fast": the command's file is the API's at "fast".
    assert default_file == gzcodec.encode(EXAMPLES / "face.png", effort="fast")

    (tmp_path / "face.gzl").write_bytes(default_file)
    fields = json.loads(_run("info", tmp_path / "face.gzl", "--json").output)
    assert fields["model"].startswith("available (face128-v2, ")
    assert fields["rate"].startswith(f"{DEFAULT_RATE} of 255") and "bits" not in fields
    result = _run("decode", tmp_path / "face.gzl", "-o", tmp_path / "face.png")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "face.png") as im:
        decoded = np.asarray(im.convert("RGB"))
    assert psnr(decoded, reference) >= PSNR_FLOOR


def test_cli_max_bytes_fits_the_budget_with_the_default(tmp_path):
    shutil.copy(EXAMPLES / "face.png", tmp_path / "face.png")
    result = _run("encode", tmp_path / "face.png", "--max-bytes", 300, "-q")
    assert result.exit_code == 0, result.output
    data = (tmp_path / "face.gzl").read_bytes()
    assert 200 < len(data) <= 300  # the budget is filled, not just respected
    assert gzcodec.read_header(data).rate > bits_to_rate(4)  # ~200 bytes at --bits 4


def test_face128_keeps_its_own_defaults_by_name(face):
    # No refinement by default (its straight-through steps do not change its files) and
    # bits as its rate byte; effort is a v2 option.
    data = gzcodec.encode(face, model=FACE128)
    assert data == gzcodec.encode(face, model=FACE128, steps=0)
    assert gzcodec.read_header(data).rate == gzcodec.FACE128_DEFAULT_BITS
    with pytest.raises(ValueError, match="options of hyperprior-context models"):
        gzcodec.encode(face, model=FACE128, effort="fast")


def test_a_default_file_decodes_bit_for_bit_at_any_thread_count(default_file):
    before = torch.get_num_threads()
    try:
        decoded = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            decoded.append((decode_symbols(default_file).symbols,
                            np.asarray(gzcodec.decode(default_file), np.int16)))
    finally:
        torch.set_num_threads(before)
    (sym1, px1), (sym2, px2) = decoded
    assert np.array_equal(sym1, sym2)
    assert np.abs(px1 - px2).max() <= 1
    assert np.array_equal(np.asarray(gzcodec.decode(default_file), np.int16), px1)


def test_pillow_save_and_open_with_the_default(face, default_model, tmp_path):
    # The README's example: im.save("x.gzl", bits=6), then Image.open.
    face.save(tmp_path / "x.gzl", bits=6)
    data = (tmp_path / "x.gzl").read_bytes()
    with Image.open(tmp_path / "x.gzl") as im:
        assert (im.format, im.size, im.info["format_version"]) == ("GZL", (128, 128), 2)
        assert im.info["rate"] == bits_to_rate(6) and default_model.id.startswith(im.info["model_id"])
        assert im.tobytes() == gzcodec.decode(data).tobytes()
    with Image.open(io.BytesIO(data)) as im:
        im.load()


def test_the_model_card_names_every_bundled_model_and_the_snapshot(isolated_models):
    card = (zoo.BUNDLED_DIR / "MODEL_CARD.md").read_text()
    for info in zoo.list_models():
        assert f"# `{info.name}` (id `{info.id}`)" in card, f"{info.name}: the card has another id"
    v2 = zoo.default_model()
    training = re.search(r"\| training \| ([\d,]+) steps, ([\d.]+) CPU-hours", card)
    assert training, "the card's training row is missing"
    assert (training[1], float(training[2])) == (f"{v2.training['steps']:,}", v2.training["cpu_hours"])


def test_the_default_model_has_its_bundled_realism_decoder(isolated_models, tmp_path):
    # Shipped beside face128-v2, found by the registry, and named by the model card; its
    # β = 1 decode differs from the fidelity decode, which it leaves bit for bit as it was.
    from gzcodec.zoo.realism_file import find_realism

    v2 = zoo.load_model("face128-v2")
    info = find_realism(v2)
    assert info is not None and info.path.parent == zoo.BUNDLED_DIR
    assert info.path.name == "face128-v2.realism.safetensors"
    card = (zoo.BUNDLED_DIR / "MODEL_CARD.md").read_text()
    assert f"`face128-v2.realism.safetensors`, id `{info.id}`" in card
    data = gzcodec.encode(Image.open(EXAMPLES / "face.png"), model=v2, bits=3)
    fidelity = np.asarray(gzcodec.decode(data))
    assert np.array_equal(fidelity, np.asarray(gzcodec.decode(data, realism=0)))
    realistic = np.asarray(gzcodec.decode(data, realism=1))
    assert realistic.shape == fidelity.shape and not np.array_equal(realistic, fidelity)
