"""Quality metrics, BD-rate and the Pareto front (gzcodec.bench.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gzcodec.bench.metrics import bd_psnr, bd_rate, ms_ssim, mse, pareto_front, psnr, quality_metrics, ssim


def test_identical_images_are_perfect(face):
    a = np.asarray(face)
    assert mse(a, a) == 0
    assert psnr(a, a) == math.inf
    assert ssim(a, a) == pytest.approx(1.0)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-5)


def test_known_mse_and_psnr():
    a = np.full((64, 64, 3), 100, np.uint8)
    b = a + np.uint8(3)
    assert mse(a, b) == 9.0
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 9))


def test_metrics_fall_with_distortion(face):
    a = np.asarray(face)
    noise = np.random.default_rng(0).normal(0, 12, a.shape)
    b = np.clip(a + noise, 0, 255).astype(np.uint8)
    m = quality_metrics(a, b)
    assert 24 < m.psnr < 30
    assert 0 < m.ssim < 0.95 and 0 < m.ms_ssim < 0.99


def test_bd_rate_of_a_curve_against_itself_and_half_its_rate():
    rate = [0.1, 0.2, 0.4, 0.8, 1.6]
    quality = [20.0, 23.5, 26.5, 29.0, 31.0]
    assert bd_rate(rate, quality, rate, quality) == pytest.approx(0.0, abs=1e-9)
    assert bd_rate(rate, quality, [r / 2 for r in rate], quality) == pytest.approx(-50.0, abs=1e-6)
    assert bd_rate(rate, quality, [r * 2 for r in rate], quality) == pytest.approx(100.0, abs=1e-6)
    assert bd_psnr(rate, quality, rate, quality) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(rate, quality, rate, [q + 1 for q in quality]) == pytest.approx(1.0, abs=1e-6)


def test_bd_rate_is_nan_without_enough_points_or_overlap():
    rate, quality = [0.1, 0.2, 0.4, 0.8], [20.0, 23.0, 26.0, 29.0]
    assert math.isnan(bd_rate(rate[:3], quality[:3], rate, quality))
    assert math.isnan(bd_rate(rate, quality, rate, [q + 20 for q in quality]))



def test_pareto_front_drops_settings_that_cost_more_for_less():
    assert pareto_front([0.2, 0.3, 0.31, 0.4], [25.0, 26.0, 25.5, 27.0]) == [0, 1, 3]
    assert pareto_front([0.4, 0.1, 0.2], [30.0, 20.0, 25.0]) == [1, 2, 0]
