"""Rate control (gzcodec.bench.ratecontrol) and the rate of a file (bits_per_pixel)."""

from __future__ import annotations

import pytest

from gzcodec.bench.classic import (
    JpegCodec,
)
from gzcodec.bench.interface import bits_per_pixel
from gzcodec.bench.ratecontrol import EncodeCache, largest_within, match_budget


@pytest.mark.parametrize("budget", [99, 100, 101, 555, 1099, 1100, 5000])
def test_largest_within_is_the_largest_setting_that_fits(budget):
    def size(q):
        return 100 + 10 * q

    got = largest_within(size, range(101), budget)
    expected = max((q for q in range(101) if size(q) <= budget), default=None)
    assert got == expected


def test_largest_within_reports_unreachable_and_uses_known_sizes():
    calls = []

    def size(q):
        calls.append(q)
        return 450 + q

    assert largest_within(size, range(1, 101), 449) is None
    assert calls == [1]  # one encode at the lowest setting says it cannot be done
    calls.clear()
    known = {q: 450 + q for q in (1, 40, 41)}
    assert largest_within(size, range(1, 101), 490, known=known) == 40
    assert calls == []  # the bracket 40 / 41 was already known


def test_largest_within_never_exceeds_the_budget_when_sizes_are_not_monotone():
    sizes = [100, 120, 115, 140, 138, 160, 150, 200]
    for budget in range(90, 210, 3):
        got = largest_within(lambda i: sizes[i], range(len(sizes)), budget)
        assert got is None or sizes[got] <= budget
        assert (got is None) == (budget < sizes[0])


def test_match_budget_memoises_encodes(face):
    codec = JpegCodec()
    cache = EncodeCache(codec, face)
    low = match_budget(cache, 700)
    encodes = len(cache.trials)
    high = match_budget(cache, 1500)
    assert low is not None and high is not None
    assert low.nbytes <= 700 < len(codec.encode(face, param=low.param + 1))
    assert high.nbytes <= 1500 and high.param > low.param
    assert len(cache.trials) < 2 * encodes  # the second search reused the first's sizes
    assert match_budget(cache, 100) is None  # no JPEG of a face fits in 100 bytes


def test_bits_per_pixel_counts_every_byte():
    assert bits_per_pixel(b"x" * 441, (128, 128)) == pytest.approx(0.2153, abs=1e-4)
    assert bits_per_pixel(2048, (128, 128)) == 1.0
