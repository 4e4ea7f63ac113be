"""face128's prior on its own (gzcodec.models.prior): its probability tables are its bins' masses.

The ANS tables of a version 1 file (``pmf_table``) and the rate that training
and the reversal minimise (``bin_likelihood``, ``rate_bits``) must be one
distribution: a randomly initialised prior, every symbol of every channel.
"""

from __future__ import annotations

import pytest
import torch

from gzcodec.models.prior import LogisticMixturePrior
from gzcodec.payload import symbol_range

CHANNELS = 3


@pytest.fixture(scope="module")
def prior() -> LogisticMixturePrior:
    torch.manual_seed(0)
    prior = LogisticMixturePrior(levels=2, channels=CHANNELS, components=3)
    with torch.no_grad():  # away from the symmetric start: each channel its own mixture
        prior.loc.normal_(0.0, 2.0)
        prior.log_scale.normal_(0.0, 0.5)
        prior.logit_weight.normal_(0.0, 1.0)
    return prior.eval().requires_grad_(False)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("level", [0, 1])
def test_a_table_row_is_the_mass_of_every_symbols_bin_tails_included(prior, level, bits):
    table = prior.pmf_table(level=level, bits=bits)
    lo, hi = symbol_range(bits)
    assert table.shape == (CHANNELS, 1 << bits) and table.dtype == torch.float64
    assert (table >= 0).all()
    torch.testing.assert_close(table.sum(dim=1), torch.ones(CHANNELS, dtype=torch.float64))
    step = 0.5  # the table is over symbols, whatever the step of the latent
    symbols = torch.arange(lo, hi + 1, dtype=torch.float32)
    y = (symbols * step).expand(1, CHANNELS, 1, -1)  # every symbol, in every channel
    masses = prior.bin_likelihood(y, level=level, step=step, bits=bits)[0, :, 0, :]
    torch.testing.assert_close(masses.double(), table.clamp_min(1e-9), rtol=1e-4, atol=1e-6)


def test_rate_bits_is_the_information_content_under_the_table(prior):
    level, bits, step = 1, 4, 0.25
    table = prior.pmf_table(level=level, bits=bits)
    lo, _ = symbol_range(bits)
    # Symbols drawn from the table itself: the likely ones, where float32 rates are exact.
    drawn = torch.multinomial(table, 2 * 16, replacement=True,
                              generator=torch.Generator().manual_seed(1))
    q = (drawn + lo).view(CHANNELS, 2, 4, 4).permute(1, 0, 2, 3)
    channel = torch.arange(CHANNELS)[None, :, None, None]
    expected = -torch.log2(table[channel, q - lo]).sum(dim=(1, 2, 3))
    rate = prior.rate_bits(q.float() * step, level=level, step=step, bits=bits)
    assert rate.shape == (2,)
    torch.testing.assert_close(rate.double(), expected, rtol=1e-4, atol=1e-3)
