"""face128's reversal loop on its own (gzcodec.reversal.invert); v2's ``refine``: test_context_model.

A tiny randomly initialised model: what is tested is the loop's contract (the
guess, never worse than it, deterministic, bounded symbols, progress), not a
trained model's quality.
"""

from __future__ import annotations

import pytest
import torch

from gzcodec.models import FaceModel, ModelConfig
from gzcodec.payload import symbol_range
from gzcodec.reversal import LOSSES, invert, rate_distortion

TINY = ModelConfig(image_size=32, channels=8, latent_channels=4, name="tiny-v1")


@pytest.fixture(scope="module")
def face_model() -> FaceModel:
    torch.manual_seed(0)
    return FaceModel(TINY).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _v1_objective(model: FaceModel, symbols: torch.Tensor, x: torch.Tensor, bits: int) -> torch.Tensor:
    """Per image, the objective invert() minimises, at the symbols it returned."""
    cfg = model.config
    z = symbols.float() * cfg.step(bits)
    with torch.no_grad():
        x_hat = model.generate(z, bits).clamp(0, 1)
        return rate_distortion(model.rate_bits(z, bits), x_hat, x,
                               lam=cfg.level_lambdas[cfg.level(bits)], distortion=LOSSES["mse"])


def test_invert_without_steps_is_the_encoders_rounded_guess(face_model, images):
    bits = 4
    step = face_model.config.step(bits)
    with torch.no_grad():
        guess = face_model.clip(face_model.encode_latent(images, bits), bits)
    symbols = invert(face_model, images, bits=bits, steps=0)
    assert symbols.dtype == torch.int64 and symbols.shape == guess.shape
    assert torch.equal(symbols, torch.round(guess / step).to(torch.int64).clamp(*symbol_range(bits)))


@pytest.mark.parametrize("bits", [2, 5])
def test_invert_is_never_worse_than_its_guess_and_stays_in_range(face_model, images, bits):
    done = []
    guess = invert(face_model, images, bits=bits, steps=0)
    refined = invert(face_model, images, bits=bits, steps=6, lr=2.0, on_step=done.append)
    assert done == list(range(1, 7))
    low, high = symbol_range(bits)
    assert int(refined.min()) >= low and int(refined.max()) <= high
    before = _v1_objective(face_model, guess, images, bits)
    after = _v1_objective(face_model, refined, images, bits)
    assert (after <= before + 1e-4 * before.abs()).all()
    # No randomness in this loop: the same call gives the same symbols.
    assert torch.equal(refined, invert(face_model, images, bits=bits, steps=6, lr=2.0))


def test_invert_refuses_an_unknown_loss_or_precision(face_model, images):
    with pytest.raises(ValueError, match="unknown loss"):
        invert(face_model, images, bits=4, loss="psnr")
    with pytest.raises(ValueError, match="bits"):
        invert(face_model, images, bits=17)
