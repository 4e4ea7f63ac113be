"""The codec with a v2 (context) model: options that change the result, rate control, files.

A tiny v2 model is trained for a few dozen steps on crops of scikit-image's
sample photos, exported and registered: enough for refinement to have
something to improve on, small enough for CI.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import gzcodec
from gzcodec.codec import information_bits

from .golden.context.make_golden import write_sample_crops

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from gzcodec.models.context_model import ContextModelConfig
    from gzcodec.train import TrainOptions, export_model, train

    root = tmp_path_factory.mktemp("tiny-v2")
    images = write_sample_crops(root / "images")
    config = ContextModelConfig(image_size=32, channels=16, latent_channels=8, slices=(2, 2, 4),
                                context_hidden=16, position_channels=2, hyper_channels=0,
                                name="tiny-v2")
    ckpt = train(images, root / "run", config=config, log=lambda line: None,
                 options=TrainOptions(steps=60, batch_size=4, lr=2e-3, warmup=1, threads=1,
                                     compile=False))
    export_model(ckpt, root / "models" / "tiny-v2.safetensors", name="tiny-v2")
    return gzcodec.load_model(root / "models" / "tiny-v2.safetensors")


@pytest.fixture(scope="module")
def faces():
    from skimage import data as samples

    photo = Image.fromarray(samples.astronaut())
    return [photo.crop((x, y, x + 160, y + 160)) for x, y in ((100, 0), (150, 40), (0, 200))]


def _encode(images, model, **options):
    return gzcodec.encode_batch(images, model=model, **options)


def test_refinement_changes_the_files_and_each_option_matters(tiny_model, faces):
    guess = _encode(faces, tiny_model, steps=0)
    refined = _encode(faces, tiny_model, steps=30)
    assert guess != refined
    # Thirty annealing steps move a latent by under a step, so one other seed can
    # round to the same integers on some CPUs (CI's did); three cannot all do so
    # unless the seed is ignored.
    assert any(_encode(faces, tiny_model, steps=30, seed=seed) != refined for seed in (1, 2, 3))
    assert _encode(faces, tiny_model, steps=30, loss="l1") != refined
    assert _encode(faces, tiny_model, effort="none") == guess
    # The same options and seed give the same bytes.
    assert _encode(faces, tiny_model, steps=30) == refined


@pytest.mark.parametrize("options", [dict(effort="archive"), dict(max_bytes=60, effort="fast")])
def test_a_file_does_not_depend_on_the_images_beside_it(tiny_model, faces, options):
    # Batched arithmetic differs in the last bits with the batch; refinement grew
    # that into other files (both cases failed here) before v2 images were encoded
    # one at a time.
    together = _encode(faces, tiny_model, **options)
    alone = [gzcodec.encode(face, model=tiny_model, **options) for face in faces]
    reversed_batch = _encode(faces[::-1], tiny_model, **options)[::-1]
    assert together == alone == reversed_batch


def test_progress_counts_image_steps(tiny_model, faces):
    done = []
    _encode(faces, tiny_model, steps=7, on_step=done.append)
    assert sum(done) == len(faces) * 7


def test_bits_and_rate_choose_the_rate_byte(tiny_model, faces):
    low, high = (_encode(faces[:1], tiny_model, bits=b)[0] for b in (2, 8))
    assert gzcodec.read_header(low).rate == 0 and gzcodec.read_header(high).rate == 255
    assert len(low) < len(high)
    assert gzcodec.read_header(_encode(faces[:1], tiny_model, rate=100)[0]).rate == 100
    with pytest.raises(ValueError, match="bits must be 2..8"):
        _encode(faces[:1], tiny_model, bits=9)


def test_max_bytes_fills_the_budget(tiny_model, faces):
    smallest = max(len(f) for f in _encode(faces, tiny_model, bits=2))
    largest = min(len(f) for f in _encode(faces, tiny_model, bits=8))
    budget = (smallest + largest) // 2
    files = _encode(faces, tiny_model, max_bytes=budget)
    assert all(len(f) <= budget for f in files)
    # Filled, not fallen to the next coarser level: within a few percent of the budget.
    assert min(len(f) for f in files) >= 0.85 * budget
    with pytest.raises(ValueError, match="cannot fit"):
        _encode(faces[:1], tiny_model, max_bytes=10)


def test_target_ssim_out_of_reach_says_so(tiny_model, faces):
    with pytest.warns(UserWarning, match="not reached"):
        _encode(faces[:1], tiny_model, target_ssim=0.9999)


def test_files_decode_and_cost_their_information_content(tiny_model, faces):
    for data in _encode(faces, tiny_model, bits=5):
        header = gzcodec.read_header(data)
        assert header.version == 2 and header.coding.name == "RANGE"
        assert gzcodec.decode(data, model=tiny_model).size == (32, 32)
        info = information_bits(data, model=tiny_model)
        assert -1 < header.payload_length - info / 8 < 2


def test_decoded_symbols_are_the_same_at_any_thread_count(tiny_model, faces):
    import torch

    from gzcodec.codec import decode_symbols

    data = _encode(faces[:1], tiny_model, bits=6)[0]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = decode_symbols(data, tiny_model).symbols
        torch.set_num_threads(max(2, before))
        many = decode_symbols(data, tiny_model).symbols
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, many)


def test_decode_symbols_reads_the_file_as_the_generator_gets_it(tiny_model, faces, tmp_path):
    from gzcodec.codec import decode_symbols

    data = _encode(faces[:1], tiny_model, bits=6)[0]
    (tmp_path / "a.gzl").write_bytes(data)
    got = decode_symbols(tmp_path / "a.gzl", tiny_model)
    assert got.header == gzcodec.read_header(data) and got.model.id == tiny_model.id
    assert got.rate == got.header.rate and got.step is None  # a v2 model runs at its rate index
    assert got.symbols.dtype == np.int64
    assert np.array_equal(got.symbols, decode_symbols(data, tiny_model).symbols)


def test_other_codings_and_version_1_are_refused(tiny_model, faces):
    with pytest.raises(ValueError, match="range"):
        _encode(faces[:1], tiny_model, coding="zstd")
    with pytest.raises(ValueError, match="format version 2"):
        _encode(faces[:1], tiny_model, format_version=1)
