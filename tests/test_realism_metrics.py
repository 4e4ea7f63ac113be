"""The sharpness profile and KID of gzcodec.realism_metrics, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from gzcodec.realism_metrics import BAND_EDGES, band_powers, kid, kid_interval, sharpness_profile


@pytest.fixture(scope="module")
def faces(astronaut) -> list[np.ndarray]:
    """Four 128-pixel crops of a real photo (textures at every scale)."""
    from PIL import Image

    return [np.asarray(Image.fromarray(astronaut).crop(box).resize((128, 128)))
            for box in ((0, 0, 150, 150), (50, 50, 200, 200), (20, 40, 180, 200), (0, 50, 150, 200))]


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([gaussian_filter(image[..., c].astype(float), sigma) for c in range(3)], axis=-1)


def test_the_bands_span_an_eighth_to_all_of_nyquist_evenly_in_log_frequency():
    assert len(BAND_EDGES) == 5 and BAND_EDGES[0] == 1 / 8 and BAND_EDGES[-1] == 1
    assert np.allclose(np.diff(np.log(BAND_EDGES)), np.log(8) / 4)


def test_identical_images_are_as_sharp_in_every_band(faces):
    assert np.array_equal(sharpness_profile(faces, faces), np.ones(4))


def test_blur_lowers_every_band_and_more_at_high_frequencies(faces):
    profile = sharpness_profile(faces, [_blur(f, 1.5) for f in faces])
    assert (profile < 1).all() and (np.diff(profile) < 0).all() and profile[-1] < 0.05


def test_added_noise_raises_the_high_bands(faces):
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255) for f in faces]
    profile = sharpness_profile(faces, noisy)
    assert profile[-1] > 1.2 and abs(profile[0] - 1) < 0.1


def test_a_constant_image_has_no_power_and_the_profile_needs_pairs(faces):
    assert np.allclose(band_powers(np.full((32, 32, 3), 128, np.uint8)), 0)
    with pytest.raises(ValueError, match="as many decodes as originals"):
        sharpness_profile(faces, faces[:2])
    with pytest.raises(ValueError):
        sharpness_profile([], [])


def test_the_sharpness_of_a_shifted_image_is_unchanged_by_brightness(faces):
    # The mean is removed before windowing: a brighter decode is not a sharper one.
    brighter = [np.clip(f.astype(float) + 10, 0, 255) for f in faces]
    assert np.allclose(sharpness_profile(faces, brighter), 1, atol=0.1)


def test_kid_of_two_samples_of_one_distribution_is_about_zero_with_zero_inside():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(200, 128)) * 0.1, rng.normal(size=(200, 128)) * 0.1
    value, low, high = kid_interval(x, y, resamples=300)
    assert abs(value) < 1e-3 and low < 0 < high and low <= value <= high


def test_kid_of_clearly_different_samples_is_positive_with_zero_outside():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 128)) * 0.1, rng.normal(size=(200, 128)) * 0.1 + 0.05
    value, low, high = kid_interval(x, y, resamples=300)
    assert value > 0 and 0 < low <= value <= high


def test_kid_is_the_unbiased_estimator_of_binkowski_et_al():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / 20
    yy = sum(k(y[i], y[j]) for i in range(7) for j in range(7) if i != j) / 42
    xy = sum(k(a, b) for a in x for b in y) / 35
    assert kid(x, y) == pytest.approx(xx + yy - 2 * xy)


def test_kid_intervals_are_reproducible_and_take_unpaired_sets():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(80, 4)) + 1
    assert kid_interval(x, y, resamples=50) == kid_interval(x, y, resamples=50)
    value, low, high = kid_interval(x, y, resamples=50)
    assert low <= value <= high and low > 0
    with pytest.raises(ValueError, match="paired"):
        kid_interval(x, y, paired=True)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        kid(x[:1], y)


def test_paired_kid_of_decodes_near_their_originals_is_about_zero_with_zero_inside():
    # A decode is not independent of its original: the cross term leaves each face's own pair out,
    # or the estimate and every bootstrap draw would fall below zero.
    rng = np.random.default_rng(7)
    originals = rng.normal(size=(100, 128)) * 0.1
    decodes = originals + rng.normal(size=originals.shape) * 0.02
    value, low, high = kid_interval(decodes, originals, resamples=300)
    assert abs(value) < 1e-3 and low < 0 < high and low <= value <= high
    shifted = kid_interval(decodes + 0.03, originals, resamples=300)
    assert shifted[1] > 0


def test_the_paired_estimator_leaves_each_items_own_pair_out():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    pairs = [(i, j) for i in range(6) for j in range(6) if i != j]
    expected = sum(k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(x[j], y[i]) for i, j in pairs) / 30
    assert kid(x, y, paired=True) == pytest.approx(expected)
