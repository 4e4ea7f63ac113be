"""The ``enhanced`` family: a hyperprior-context model with a rate-gated enhancement latent.

Tiny models with random weights (no data needed): the coder's round trip, the gate (below
the enhancement level a file is the base model's), growth from a trained model that starts
computing exactly what it grew from, and a short training run from a grown checkpoint to an
exported model that ``gzcodec info`` describes.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.codec import decode_symbols, information_bits
from gzcodec.families import family_of
from gzcodec.families.enhanced import first_enhanced_rate
from gzcodec.models.config import ContextModelConfig, EnhancedModelConfig, config_problem
from gzcodec.models.context_model import ContextModel
from gzcodec.models.enhancement import EnhancedModel
from gzcodec.models.growth import enhance, grow
from gzcodec.payload import SymbolWriter
from gzcodec.zoo.weights_file import save_weights

from .test_context_model import round_trip
from .test_train import TINY, _images

ROOT = Path(__file__).resolve().parents[1]
BASE = ContextModelConfig(image_size=64, channels=8, latent_channels=8, slices=(4, 4), context_hidden=16,
                          position_channels=2, hyper_channels=4, hyper_hidden=8,
                          level_lambdas=(0.001, 0.003, 0.01, 0.03), name="tiny-base")
#: Rate indices of the 4-level tiny models: 0 and 169 below the enhancement level 2 (rate 170),
#: 170 and 255 from it up.
BELOW, ABOVE = (0, 169), (170, 255)


def _base() -> ContextModel:
    torch.manual_seed(0)
    return ContextModel(BASE).eval()


def _enhanced(base: ContextModel, *, checkerboard: bool = True, widths=(0, 0)) -> EnhancedModel:
    model = enhance(base, enhancement_channels=4, enhancement_level=2, enhancement_hidden=8,
                    checkerboard=checkerboard, generator_widths=widths, name="tiny-enhanced")
    with torch.no_grad():  # as if trained: the enhancement holds something and changes the image
        for layer, std in ((model.enhancement_encoder[-1], 2.0), (model.enhancement_injection[-1], 0.2),
                           (model.enhancement_prior.head[-1], 0.2)):
            layer.weight.normal_(0, std)
    return model.eval()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """``(base, enhanced)`` weights files: the enhanced model grown from the base one."""
    root = tmp_path_factory.mktemp("enhanced")
    base = _base()
    save_weights(base, root / "base.safetensors", name="tiny-base")
    save_weights(_enhanced(base), root / "enhanced.safetensors", name="tiny-enhanced")
    return gzcodec.load_model(root / "base.safetensors"), gzcodec.load_model(root / "enhanced.safetensors")


@pytest.fixture(scope="module")
def face():
    from skimage import data as samples

    return samples.astronaut()[20:220, 150:350]


def test_the_config_round_trips_and_refuses_a_gate_above_the_levels():
    config = EnhancedModelConfig(**{**dataclasses.asdict(BASE), "kind": "enhanced"}, enhancement_level=3)
    assert config_problem(json.loads(json.dumps(config.to_dict()))) is None
    assert type(gzcodec.models.config.config_from_dict(config.to_dict())) is EnhancedModelConfig
    with pytest.raises(ValueError, match="enhancement_level 4 is not one of the 4 rate levels"):
        dataclasses.replace(config, enhancement_level=4).validate()
    assert "generator_widths" in config_problem({**config.to_dict(), "generator_widths": [8]})


@pytest.mark.parametrize(("checkerboard", "windowed"), [(True, False), (False, False), (True, True)])
def test_the_coder_round_trips_and_codes_the_enhancement_only_from_its_level(checkerboard, windowed):
    from gzcodec.models import gaussian
    from gzcodec.models.enhancement_coding import EnhancedCoder

    model = _enhanced(_base(), checkerboard=checkerboard)
    # Windowed: each scale's rows +-2 sigma, 2..8 (narrow enough that the draws below need them).
    windows = np.clip(np.ceil(2 * gaussian.scale_ladder()), 2, 8).astype(int) if windowed else None
    coder = EnhancedCoder(model, gaussian.build_tables(8, windows),
                          model.prior.hyper_prior.pmf_table(level=0, bits=6).float().numpy(),
                          windows=windows)
    assert coder.tables.windowed == windowed
    rng = np.random.default_rng(1)
    q = rng.integers(-20, 21, BASE.latent_shape)
    z = rng.integers(-3, 4, (4, 1, 1))
    e = rng.integers(-20, 21, model.config.enhancement_shape)
    assert [first_enhanced_rate(4, 2), coder.codes_enhancement(169), coder.codes_enhancement(170)] == [
        170, False, True]
    for rate in BELOW + ABOVE:
        coded = coder.codes_enhancement(rate)
        symbols = coder.clamp(coder.join(q, z, e if coded else None), rate=rate)
        assert symbols.shape == (coder.size(rate),)
        payload = round_trip(coder, symbols, rate)
        assert (coder.enhancement(symbols) is not None) == coded
        # Below the level the payload is the base coder's, byte for byte.
        if not coded:
            base_writer = SymbolWriter()
            coder.base.write_symbols(symbols, base_writer, rate=rate)
            assert base_writer.finish() == payload
    with pytest.raises(ValueError, match="a file of rate 255 codes"):
        coder.clamp(coder.join(q, z), rate=255)


def test_below_its_level_a_file_is_the_base_models_and_above_it_holds_the_enhancement(models, face):
    base, enhanced = models
    assert family_of(enhanced).name == "enhanced" and enhanced.is_context
    for rate in BELOW + ABOVE:
        ours = gzcodec.encode(face, model=enhanced, rate=rate, steps=3)
        theirs = gzcodec.encode(face, model=base, rate=rate, steps=3)
        decoded = decode_symbols(ours, model=enhanced)
        e = enhanced.entropy.enhancement(decoded.symbols)
        header = gzcodec.read_header(ours)
        assert -1 < header.payload_length - information_bits(ours, model=enhanced) / 8 < 2
        payload = ours[len(ours) - header.payload_length:]
        pixels = np.asarray(gzcodec.decode(ours, model=enhanced))
        if rate in BELOW:
            assert payload == theirs[len(theirs) - header.payload_length:] and e is None
            assert np.array_equal(pixels, np.asarray(gzcodec.decode(theirs, model=base)))
        else:
            assert e is not None and e.shape == (4, 8, 8) and len(ours) > len(theirs)
            # Decoding the same file twice gives the same pixels; the enhancement changes them.
            assert np.array_equal(pixels, np.asarray(gzcodec.decode(ours, model=enhanced)))
            net = enhanced.network
            q, _ = enhanced.entropy.split(decoded.symbols)
            position = torch.tensor([rate * 3 / 255])
            plain = net.synthesise(torch.from_numpy(q).float()[None], net.gains(position)[1])
            assert not torch.equal(plain[0], family_of(enhanced).generate(decoded))


def test_a_damaged_enhancement_is_refused_or_decodes_to_other_symbols(models, face):
    # Symbols and payloads are one to one (spec/gzl.md §4.2), the enhancement's too: with the
    # CRC made to match, a changed, missing or added byte is refused or decodes to other symbols.
    from gzcodec.errors import FormatError
    from gzcodec.testing import with_valid_crc

    _, enhanced = models
    data = gzcodec.encode(face, model=enhanced, rate=255, effort="none")
    original = decode_symbols(data, model=enhanced).symbols
    start = len(data) - gzcodec.read_header(data).payload_length
    damaged = [data[:-1], data + b"\x01"]
    for i in {*range(start, len(data), 5), *range(len(data) - 4, len(data))}:  # the end: e's
        changed = bytearray(data)
        changed[i] ^= 0x5A
        damaged.append(bytes(changed))
    refused = 0
    for file in damaged:
        try:
            symbols = decode_symbols(with_valid_crc(file), model=enhanced).symbols
        except FormatError:
            refused += 1
        else:
            assert not np.array_equal(symbols, original)
    assert refused > 0


def test_realism_is_refused_in_one_line_not_tried_on_another_generator(models, face):
    from gzcodec.errors import ModelNotFoundError
    from gzcodec.train.realism_checkpoints import base_model

    _, enhanced = models
    data = gzcodec.encode(face, model=enhanced, rate=255, effort="none")
    with pytest.raises(ModelNotFoundError, match="enhanced models .* have no realism decoder"):
        gzcodec.decode(data, model=enhanced, realism=1.0)
    assert gzcodec.decode(data, model=enhanced, realism=0.0).size == (64, 64)
    with pytest.raises(ValueError, match="is of the enhanced family: realism decoders are made for"):
        base_model(str(enhanced.path))


def test_a_target_size_is_met_across_the_gate(models, face):
    _, enhanced = models
    # 73 bytes just below the gate (rate 169), 144 just above it (rate 170), 185 at the top.
    files = {budget: gzcodec.encode(face, model=enhanced, max_bytes=budget, effort="fast")
             for budget in (70, 120, 250)}
    assert all(len(data) <= budget for budget, data in files.items())
    rates = {budget: gzcodec.read_header(data).rate for budget, data in files.items()}
    assert rates[70] < rates[120] < first_enhanced_rate(4, 2) <= rates[250]


@pytest.mark.parametrize("widths", [(0, 0), (12, 16)])
def test_a_grown_model_computes_what_it_grew_from(widths):
    torch.manual_seed(0)
    small = grow(_base(), generator_blocks=(1, 2, 1, 0), encoder_blocks=(0, 1, 1, 0)).eval()
    with torch.no_grad():  # blocks that do something, as trained ones do
        for p in small.parameters():
            p.add_(0.01 * torch.randn_like(p))
    big = enhance(grow(small, add_levels=1), enhancement_channels=4, enhancement_level=2,
                  generator_widths=widths).eval()
    assert big.config.levels == 5 and big.config.widths == (widths[0] or 8, widths[1] or 8)
    x = torch.rand(3, 3, 64, 64)
    position = torch.tensor([0.0, 1.5, 3.0])
    with torch.no_grad():
        torch.manual_seed(1)
        image, rate = small(x, position)
        torch.manual_seed(1)
        grown_image, grown_rate = big(x, position)
        guess, grown = small.guess(small.analyse(x), position), big.guess(big.analyse(x), position)
        assert torch.equal(image, grown_image) and torch.equal(guess.q, grown.q)
        assert torch.equal(small.reconstruct(guess), big.reconstruct(grown))
    assert grown.coded.tolist() == [False, False, True]
    # The enhancement's rate is new, above the gate only.
    assert torch.equal(rate[:2], grown_rate[:2]) and grown_rate[2] > rate[2]
    assert torch.equal(guess.bits[:2], grown.bits[:2]) and grown.bits[2] > guess.bits[2]


def test_growth_keeps_the_blocks_a_model_has_and_refuses_fewer():
    small = grow(_base(), generator_blocks=(1, 1, 0, 0))
    with torch.no_grad():
        small.generator[0].conv2.weight.fill_(0.01)
    assert torch.equal(grow(small, generator_blocks=(2, 1, 0, 0)).generator[0].conv2.weight,
                       small.generator[0].conv2.weight)
    with pytest.raises(ValueError, match="fewer residual blocks"):
        grow(small, generator_blocks=(0, 1, 0, 0))
    with pytest.raises(ValueError, match="enhanced already"):
        enhance(enhance(small))


def _grow_script(*args) -> None:
    spec = importlib.util.spec_from_file_location("grow_model", ROOT / "scripts" / "grow_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old_argv, sys.argv = sys.argv, ["grow_model.py", *map(str, args)]
    try:
        module.main()
    finally:
        sys.argv = old_argv


@pytest.mark.slow
def test_a_grown_checkpoint_trains_resumes_exports_and_is_described(tmp_path, monkeypatch, capsys):
    from gzcodec.train import add_rate_level, load_checkpoint

    runner = CliRunner()
    data = _images(tmp_path / "data")
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "base"), "--steps", "2", *TINY])
    assert result.exit_code == 0, result.output
    grown = tmp_path / "grown.safetensors"
    _grow_script(tmp_path / "base" / "checkpoint.safetensors", grown, "--enhancement-channels", "4",
                 "--enhancement-level", "5", "--generator-widths", "12,8", "--name", "tiny-e")
    assert "max |difference| from the old model's image at its levels: 0.00e+00" in capsys.readouterr().out
    run = tmp_path / "run"
    # The architecture is the grown checkpoint's: only the run's options.
    args = ["train", str(data), "--out", str(run), "--val", str(data), "--val-every", "2",
            *TINY[TINY.index("--batch-size"):]]
    result = runner.invoke(app, [*args, "--init-from", str(grown), "--steps", "2"])
    assert result.exit_code == 0, result.output
    weights = tmp_path / "models" / "tiny-e.safetensors"
    result = runner.invoke(app, [*args, "--resume", "--steps", "3", "--export", str(weights),
                                 "--name", "tiny-e"])
    assert result.exit_code == 0 and "resuming from step 2" in result.output, result.output
    model, _, meta = load_checkpoint(run / "checkpoint.safetensors")
    assert isinstance(model, EnhancedModel) and meta["step"] == "3"
    # Its log has the validation records of both latents, top level included.
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["val"][-1]["position"] == 8.0

    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(weights.parent))
    image = data / "0.png"
    for rate, held in ((0, "not in this file"), (255, "held in this file")):
        encoded = gzcodec.encode(image, model="tiny-e", rate=rate, steps=2)
        assert gzcodec.decode(encoded).size == (32, 32)
        (tmp_path / "face.gzl").write_bytes(encoded)
        result = runner.invoke(app, ["info", str(tmp_path / "face.gzl")])
        assert result.exit_code == 0, result.output
        assert f"4x4x4 from rate 160 ({held})" in result.output
    # A rate level added mid-run extends the enhancement's gains too.
    config = add_rate_level(run / "checkpoint.safetensors", tmp_path / "more.safetensors")
    more, _, _ = load_checkpoint(tmp_path / "more.safetensors")
    assert config.levels == 10 and more.log_gain_enh_enc.shape == (10, 4)


@pytest.mark.slow
def test_the_v3_run_checkpoint_still_loads_resumes_and_exports(tmp_path):
    # The v3 training in progress (results/training-face-v3/: arm C grown into arm E, the
    # enhanced design) resumes from this file.
    import shutil

    from gzcodec.train import TrainOptions, export_model, load_checkpoint, train

    source = ROOT / "results" / "training-face-v3" / "checkpoint.safetensors"
    model, _, meta = load_checkpoint(source)
    assert type(model) is EnhancedModel and model.config.generator_blocks == (2, 3, 1, 0)
    assert model.config.enhancement_level == 7
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(source, run / "checkpoint.safetensors")
    step = int(meta["step"])
    train(_images(tmp_path / "data", n=8, size=128), run, resume=True, stop_at=step + 1,
          log=lambda line: None, options=TrainOptions(steps=300_000, threads=1, compile=False))
    _, _, meta = load_checkpoint(run / "checkpoint.safetensors")
    assert int(meta["step"]) == step + 1
    export_model(run / "checkpoint.safetensors", tmp_path / "e.safetensors", name="face-v3-e")
    assert family_of(gzcodec.load_model(tmp_path / "e.safetensors")).name == "enhanced"


@pytest.mark.slow
def test_the_v3_run_decodes_its_top_rate_as_its_network_does_with_a_wide_coding_window(tmp_path):
    # A latent element further than its window from its predicted mean is clamped when
    # coded. face128-v2's radius, 64, clamps tens of elements a face at the v3 run's top rate
    # (benchmarks/table_radius.py: 57 on 12 val faces, 6 dB lost); windowed at 511 (an export
    # above the default is), the file decodes to what the network computes.
    from gzcodec.metrics import psnr
    from gzcodec.train import export_model

    from .bench.helpers import faces

    source = ROOT / "results" / "training-face-v3" / "checkpoint.safetensors"
    face = faces(1)[0]
    pixels = np.asarray(face)
    quality = {}
    for radius in (64, 511):
        weights = tmp_path / f"r{radius}.safetensors"
        export_model(source, weights, name="face-v3-e", table_radius=radius)
        lm = gzcodec.load_model(weights)
        assert lm.entropy.radius == lm.entropy.base.radius == radius
        net = lm.network
        x = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            guess = net.guess(net.analyse(x), torch.tensor([float(net.config.levels - 1)]))
            seen = torch.round(net.reconstruct(guess).clamp(0, 1) * 255)[0].permute(1, 2, 0)
        encoded = gzcodec.encode(face, rate=255, effort="none", model=lm)
        quality[radius] = (psnr(pixels, np.asarray(gzcodec.decode(encoded, model=lm))),
                           psnr(pixels, seen.to(torch.uint8).numpy()))
    file_psnr, network_psnr = quality[511]
    assert abs(file_psnr - network_psnr) < 0.3, quality
    assert quality[64][0] < file_psnr - 2, quality  # why v3 needs the wider window
