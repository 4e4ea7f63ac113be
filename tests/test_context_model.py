"""The v2 model's pieces: Gaussian tables and snapping, the context model, SGA refinement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gzcodec.models import gaussian
from gzcodec.models.context_model import ContextModel, ContextModelConfig, rate_position
from gzcodec.reversal import rd_objective, refine

TINY = ContextModelConfig(image_size=32, channels=8, latent_channels=8, slices=(4, 4),
                          context_hidden=16, position_channels=2, hyper_channels=0, name="tiny")


def test_tables_are_normalised_and_centred():
    tables = gaussian.build_tables()
    r = gaussian.TABLE_RADIUS
    assert tables.shape == (gaussian.SCALE_LEVELS, gaussian.MEAN_FRACTIONS, 2 * r + 1)
    np.testing.assert_allclose(tables.sum(-1), 1.0, atol=1e-6)
    # The narrowest Gaussian centred on an integer puts almost all its mass there.
    assert tables[0, 0, r] > 0.99
    # A mean a quarter above the integer leans to the right.
    assert tables[20, 1, r + 1] > tables[20, 1, r - 1]


def test_snap_puts_each_mean_in_its_window():
    rng = np.random.default_rng(0)
    mean = rng.normal(0, 20, 1000)
    scale = np.exp(rng.uniform(-4, 5, 1000))
    base, fraction, index = gaussian.snap(mean, scale)
    snapped = base + fraction / gaussian.MEAN_FRACTIONS
    assert np.abs(snapped - mean).max() <= 0.5 / gaussian.MEAN_FRACTIONS + 1e-12
    assert fraction.min() >= 0 and fraction.max() < gaussian.MEAN_FRACTIONS
    assert index.min() >= 0 and index.max() < gaussian.SCALE_LEVELS
    ladder = gaussian.scale_ladder()
    inside = (scale > ladder[0]) & (scale < ladder[-1])
    ratio = np.abs(np.log(ladder[index[inside]] / scale[inside]))
    assert ratio.max() <= 0.5 * np.log(ladder[1] / ladder[0]) + 1e-9


def test_bin_likelihood_sums_to_one_over_integers():
    y = torch.arange(-60, 61, dtype=torch.float64)
    for mean, scale in ((0.3, 0.2), (-2.7, 3.0), (5.0, 11.0)):
        p = gaussian.bin_likelihood(y, torch.tensor(mean), torch.tensor(scale))
        assert float(p.sum()) == pytest.approx(1.0, abs=1e-6)


def test_rate_positions_span_the_levels():
    assert rate_position(0, 7) == 0.0
    assert rate_position(255, 7) == 6.0
    with pytest.raises(ValueError):
        rate_position(256, 7)


def test_forward_gives_an_image_and_a_positive_rate():
    torch.manual_seed(0)
    model = ContextModel(TINY)
    x = torch.rand(3, 3, 32, 32)
    x_hat, rate = model(x, torch.tensor([0.0, 2.5, 6.0]))
    assert x_hat.shape == x.shape
    assert (rate > 0).all() and torch.isfinite(rate).all()


def test_higher_rate_positions_cost_more_bits():
    torch.manual_seed(0)
    model = ContextModel(TINY).eval()
    x = torch.rand(2, 3, 32, 32)
    bits = []
    with torch.no_grad():
        for r in (0.0, 6.0):
            position = torch.full((2,), r)
            enc, _ = model.gains(position)
            q = torch.round(model.analyse(x) * enc)
            bits.append(float(model.prior.rate_bits(q, q, enc, position, None).sum()))
    assert bits[1] > bits[0]


def test_the_guess_is_the_rounded_latent_and_hyper_latent_and_their_bits():
    from gzcodec.models.context_prior import HYPER_BITS
    from gzcodec.payload import symbol_range

    torch.manual_seed(0)
    model = ContextModel(ContextModelConfig(image_size=64, channels=8, latent_channels=8,
                                            slices=(4, 4), context_hidden=16, position_channels=2,
                                            hyper_channels=4)).eval()
    x = torch.rand(2, 3, 64, 64)
    position = torch.tensor([1.0, 4.5])
    with torch.no_grad():
        y_u = model.analyse(x)
        guess = model.guess(y_u, position)
        enc, dec = model.gains(position)
        z = model.prior.analyse_hyper(y_u, position)
    assert torch.equal(guess.q, torch.round(y_u * enc)) and torch.equal(guess.dec_gain, dec)
    low, high = symbol_range(HYPER_BITS)
    assert torch.equal(guess.z, torch.round(z).clamp(low, high))
    assert guess.features is not None and guess.bits.shape == (2,) and (guess.bits > 0).all()
    # Without a hyperprior there is nothing but the latent to pay for.
    plain = ContextModel(TINY).eval()
    small = plain.guess(plain.analyse(x[:, :, :32, :32]), position)
    assert small.z is None and small.features is None and (small.bits > 0).all()


def _latent(n: int):
    """A tiny model, ``n`` images, their rate positions and the encoder's scaled latent."""
    torch.manual_seed(0)
    model = ContextModel(TINY).eval().requires_grad_(False)
    x = torch.rand(n, 3, 32, 32)
    position = torch.full((n,), 3.0)
    enc, _ = model.gains(position)
    return model, x, position, model.analyse(x) * enc


def test_refinement_is_never_worse_than_the_guess_and_follows_the_seed():
    from gzcodec.reversal import LOSSES

    model, x, position, y = _latent(4)
    guess = refine(model, y, x, position, iterations=0)
    assert torch.equal(guess, torch.round(y))
    refined = refine(model, y, x, position, iterations=12, lr=0.3, seed=1)
    assert torch.equal(refined, torch.round(refined))

    def objective(q):
        return rd_objective(model, q, q, x, position, distortion=LOSSES["mse"])

    assert (objective(refined) <= objective(guess) + 1e-6).all()
    other = refine(model, y, x, position, iterations=12, lr=0.3, seed=2)
    assert not torch.equal(other, refined) or torch.equal(refined, guess)


def test_refinement_keeps_the_models_guess_where_it_does_no_better():
    from gzcodec.reversal import LOSSES

    model, x, position, y = _latent(2)
    guess = model.guess(model.analyse(x), position)
    # refine() rounds nothing itself when given the guess: ContextModel.guess is the one rounding.
    assert torch.equal(refine(model, y, x, position, iterations=0, guess=guess), guess.q)
    refined = refine(model, y, x, position, iterations=6, lr=0.3, guess=guess)

    def objective(q):
        return rd_objective(model, q, q, x, position, distortion=LOSSES["mse"],
                            features=guess.features)

    assert (objective(refined) <= objective(guess.q) + 1e-6).all()
    with pytest.raises(ValueError, match="guess"):
        refine(model, y[:1], x[:1], position[:1], iterations=0, guess=guess)


def test_a_table_row_holds_the_gaussian_masses_at_the_snapped_mean_and_scale():
    tables = gaussian.build_tables()
    rng = np.random.default_rng(1)
    mean = rng.normal(0, 10, 200)
    scale = np.exp(rng.uniform(np.log(0.2), np.log(40.0), 200))
    base, fraction, index = gaussian.snap(mean, scale)
    rows = gaussian.table_rows(tables, fraction, index)
    r = gaussian.TABLE_RADIUS
    symbols = torch.from_numpy((base[:, None] + np.arange(-r, r + 1)).astype(np.float64))
    centre = torch.from_numpy(base + fraction / gaussian.MEAN_FRACTIONS)[:, None]
    snapped_scale = torch.from_numpy(gaussian.scale_ladder()[index])[:, None]
    expected = gaussian.bin_likelihood(symbols, centre, snapped_scale).numpy()
    # Every column but the two ends, which also hold the tails beyond the window.
    np.testing.assert_allclose(rows[:, 1:-1], expected[:, 1:-1], atol=1e-6)


def test_the_coders_tables_cost_what_the_prior_estimates():
    from gzcodec.models.context_coding import ContextCoder

    torch.manual_seed(0)
    model = ContextModel(TINY).eval()
    coder = ContextCoder(model, gaussian.build_tables())
    x = torch.rand(1, 3, 32, 32)
    for rate in (0, 128, 255):
        position = torch.tensor([rate_position(rate, TINY.levels)])
        with torch.no_grad():
            enc, _ = model.gains(position)
            q = torch.round(model.analyse(x) * enc)
            estimate = float(model.prior.rate_bits(q, q, enc, position, None)[0])
        coded = coder.information_bits(coder.join(q[0].numpy()), rate=rate)
        # Snapping means to quarters and scales to the ladder costs a little, not more.
        assert coded == pytest.approx(estimate, rel=0.03), rate


def test_refinement_counts_its_iterations_and_refuses_bad_options():
    model, x, position, y = _latent(2)
    done = []
    q = refine(model, y, x, position, iterations=3, on_step=done.append)
    assert done == [1, 2, 3] and torch.equal(q, torch.round(q))
    with pytest.raises(ValueError, match="iterations"):
        refine(model, y, x, position, iterations=-1)
    with pytest.raises(ValueError, match="unknown loss"):
        refine(model, y, x, position, loss="psnr")


@pytest.mark.parametrize("radius", [40, gaussian.TABLE_RADIUS])
def test_the_coding_window_is_the_tables_and_clamps_only_what_falls_outside(radius):
    from gzcodec.models.context_coding import ContextCoder
    from gzcodec.payload import SymbolReader, SymbolWriter

    torch.manual_seed(0)
    model = ContextModel(TINY).eval()
    coder = ContextCoder(model, gaussian.build_tables(radius))
    assert coder.radius == radius
    rng = np.random.default_rng(0)
    q = rng.integers(-3, 4, size=TINY.latent_shape)
    q[0, 0, 0] = 60  # far from any predicted mean: kept by radius 64, clamped by 40
    symbols = coder.clamp(coder.join(q), rate=255)
    writer = SymbolWriter()
    coder.write_symbols(symbols, writer, rate=255)
    reader = SymbolReader(writer.finish())
    decoded, _ = coder.split(coder.read_symbols(reader, rate=255))
    reader.close()
    assert np.array_equal(decoded[1:], q[1:]) and np.array_equal(decoded[0, 1:], q[0, 1:])
    assert (decoded[0, 0, 0] == 60) == (radius > 60)


def test_a_gaussian_table_of_even_width_is_refused(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    import gzcodec
    from gzcodec.errors import ModelFileError
    from gzcodec.zoo.weights_file import save_weights

    path = tmp_path / "tiny.safetensors"
    save_weights(ContextModel(TINY), path, name="tiny")
    assert gzcodec.load_model(path).entropy.radius == gaussian.TABLE_RADIUS
    tensors = load_file(path)
    tensors["gaussian_tables"] = tensors["gaussian_tables"][..., :-1].contiguous()
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    save_file(tensors, tmp_path / "even.safetensors", metadata=meta)
    with pytest.raises(ModelFileError, match="gaussian_tables"):
        gzcodec.load_model(tmp_path / "even.safetensors")


def test_windowed_tables_widen_only_the_large_scales_rows():
    assert gaussian.scale_windows(gaussian.TABLE_RADIUS) is None  # the default stays uniform
    assert gaussian.scale_windows(40) is None
    windows = gaussian.scale_windows(511)
    ladder = gaussian.scale_ladder()
    assert windows.min() == gaussian.TABLE_RADIUS and windows.max() <= 511
    assert (np.diff(windows) >= 0).all()
    assert (windows[ladder * gaussian.TAIL_SIGMAS <= gaussian.TABLE_RADIUS] == gaussian.TABLE_RADIUS).all()
    tables = gaussian.build_tables(511, windows)
    for s in (0, 40, gaussian.SCALE_LEVELS - 1):
        w = windows[s]
        # The scale's own rows of width 2w + 1 (tails in their end columns), centred, zeros around.
        np.testing.assert_array_equal(tables[s, :, 511 - w:511 + w + 1], gaussian.build_tables(int(w))[s])
        assert not tables[s, :, :511 - w].any() and not tables[s, :, 511 + w + 1:].any()
    with pytest.raises(ValueError, match="coding windows"):
        gaussian.build_tables(100, windows)  # windows wider than the table


def test_coding_tables_group_elements_by_window_narrowest_first_in_order():
    windows = gaussian.scale_windows(511)
    tables = gaussian.CodingTables(gaussian.build_tables(511, windows), windows)
    top = gaussian.SCALE_LEVELS - 1
    base = np.array([5, -3, 7, 0, 2])
    fraction = np.array([0, 1, 2, 3, 0])
    scale_index = np.array([top, 0, top, 3, 55])
    groups = list(tables.groups(base, fraction, scale_index))
    assert [(list(where), list(centre), w) for where, centre, w, _ in groups] == [
        ([1, 3], [-3, 0], 64), ([4], [2], int(windows[55])), ([0, 2], [5, 7], int(windows[top]))]
    # Uniform tables: one group of every element, in order (their payloads as before windows).
    uniform = gaussian.CodingTables(gaussian.build_tables())
    [(where, _, w, _)] = uniform.groups(base, fraction, scale_index)
    assert list(where) == [0, 1, 2, 3, 4] and w == gaussian.TABLE_RADIUS and not uniform.windowed


def test_a_windowed_coder_round_trips_what_a_wide_window_keeps():
    from gzcodec.models.context_coding import ContextCoder

    torch.manual_seed(0)
    model = ContextModel(TINY).eval()
    windows = gaussian.scale_windows(511)
    windowed = ContextCoder(model, gaussian.build_tables(511, windows), windows=windows)
    uniform = ContextCoder(model, gaussian.build_tables(511))
    rng = np.random.default_rng(0)
    q = rng.integers(-200, 201, size=TINY.latent_shape)  # wide: some beyond small scales' windows
    for rate in (0, 255):
        symbols = windowed.clamp(windowed.join(q), rate=rate)
        assert np.array_equal(windowed.clamp(symbols, rate=rate), symbols)  # clamped once for all
        # A window is never wider than the uniform one: what that clamps, this clamps too.
        given = windowed.join(q)
        by_uniform = uniform.clamp(given, rate=rate) != given
        by_windowed = symbols != given
        assert (by_windowed | ~by_uniform).all() and not by_windowed.all()
        round_trip(windowed, symbols, rate)
    # Windows that are all the radius code exactly as uniform tables do, byte for byte.
    flat = ContextCoder(model, gaussian.build_tables(100), windows=np.full(gaussian.SCALE_LEVELS, 100))
    plain = ContextCoder(model, gaussian.build_tables(100))
    symbols = plain.clamp(plain.join(q), rate=128)
    assert round_trip(flat, symbols, 128) == round_trip(plain, symbols, 128)


def round_trip(coder, symbols: np.ndarray, rate: int) -> bytes:
    """``symbols`` written and read back by ``coder`` (checked equal); the payload.

    Also checks that the payload is within two bytes of the information content (the
    trimmed termination can land either side of it).
    """
    from gzcodec.payload import SymbolReader, SymbolWriter

    writer = SymbolWriter()
    coder.write_symbols(symbols, writer, rate=rate)
    payload = writer.finish()
    reader = SymbolReader(payload)
    assert np.array_equal(coder.read_symbols(reader, rate=rate), symbols)
    reader.close()
    assert -2 < len(payload) - coder.information_bits(symbols, rate=rate) / 8 < 2
    return payload


def test_an_export_wider_than_the_default_stores_its_windows_and_bad_windows_are_refused(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    import gzcodec
    from gzcodec.errors import ModelFileError
    from gzcodec.zoo.weights_file import save_weights

    save_weights(ContextModel(TINY), tmp_path / "plain.safetensors", name="plain")
    assert "gaussian_windows" not in load_file(tmp_path / "plain.safetensors")
    path = tmp_path / "wide.safetensors"
    save_weights(ContextModel(TINY), path, name="wide", table_radius=300)
    coder = gzcodec.load_model(path).entropy
    assert coder.radius == 300 and coder.tables.windowed
    np.testing.assert_array_equal(coder.tables.windows, gaussian.scale_windows(300))
    tensors = load_file(path)
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    for bad in (tensors["gaussian_windows"].float(), tensors["gaussian_windows"][:-1],
                tensors["gaussian_windows"] * 0, tensors["gaussian_windows"] + 300):
        save_file({**tensors, "gaussian_windows": bad.contiguous()}, tmp_path / "bad.safetensors",
                  metadata=meta)
        with pytest.raises(ModelFileError, match="gaussian_windows"):
            gzcodec.load_model(tmp_path / "bad.safetensors")


def test_a_grown_model_computes_what_it_grew_from_at_the_old_levels():
    # face128-v3 starts from face128-v2's checkpoint: zero-initialised residual blocks and new
    # levels on top must leave every old level's encode, rate and decode as they were.
    import dataclasses

    from gzcodec.models.growth import grow

    torch.manual_seed(0)
    small = ContextModel(ContextModelConfig(image_size=64, channels=8, latent_channels=8, slices=(8,),
                                            hyper_channels=4)).eval()
    big = grow(small, encoder_blocks=(0, 1, 0, 1), generator_blocks=(1, 2, 1, 0), add_levels=2).eval()
    assert big.config == dataclasses.replace(
        small.config, encoder_blocks=(0, 1, 0, 1), generator_blocks=(1, 2, 1, 0),
        level_lambdas=big.config.level_lambdas)
    assert big.config.level_lambdas[:small.config.levels] == small.config.level_lambdas
    assert big.config.level_lambdas[-1] > big.config.level_lambdas[-2] > small.config.level_lambdas[-1]
    x = torch.rand(3, 3, 64, 64)
    position = torch.tensor([0.0, 1.5, float(small.config.levels - 1)])
    with torch.no_grad():
        torch.manual_seed(1)
        a, rate_a = small(x, position)
        torch.manual_seed(1)  # the same rounding noise for both
        b, rate_b = big(x, position)
        guess_a, guess_b = small.guess(small.analyse(x), position), big.guess(big.analyse(x), position)
    assert torch.equal(a, b) and torch.equal(guess_a.q, guess_b.q) and torch.equal(guess_a.bits, guess_b.bits)
    assert torch.equal(rate_a, rate_b)
    assert sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in small.parameters())
