"""``model="auto"``: every installed model encodes, the best file is kept (gzcodec.model_choice).

Each test recomputes what ``auto`` should keep from the models' separate
encodes (decoded, measured against the model input with gzcodec.metrics), so
the rule is checked, not the figures of today's models.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.families import FAMILIES, family_of, register_family
from gzcodec.imageio import model_input
from gzcodec.metrics import psnr, ssim
from gzcodec.model_choice import encode_with_best_model, usable_models
from gzcodec.options import EncodeOptions, OptionError
from gzcodec.zoo import BUNDLED_DIR, LoadedModel, ModelInfo, list_models

from .conftest import EXAMPLES, FACE128
from .test_registry import _retrained_copy
from .test_toy_family import MeanColourFamily, ToyConfig, ToyNetwork

pytest.importorskip("torch")

#: Every model the package ships (the default first): all of them compete under "auto".
BUNDLED = tuple(sorted((m.name for m in list_models() if m.path.parent == BUNDLED_DIR),
                      key=lambda name: name != "face128-v2"))
REFUSAL = "model auto needs max_bytes or target_ssim: bits means a different size for each model"


def _measure(data: bytes, reference: np.ndarray) -> tuple[float, float]:
    """PSNR and SSIM of a file's decoded image, at the reference's size."""
    lm = gzcodec.load_model(gzcodec.read_header(data).model_id_hex)
    decoded = family_of(lm).decode_pixels(lm, data)
    side = reference.shape[0]
    if decoded.shape[0] != side:
        decoded = np.asarray(Image.fromarray(decoded).resize((side, side), Image.Resampling.LANCZOS))
    return psnr(reference, decoded), ssim(reference, decoded)


def _separate(image, models, **options) -> dict[str, bytes]:
    """Each model's own file of ``image`` (the models that cannot make one left out)."""
    files = {}
    for name in models:
        with contextlib.suppress(ValueError), warnings.catch_warnings():  # ValueError: not a candidate
            warnings.simplefilter("ignore")  # a model's own unreached target
            files[name] = gzcodec.encode(image, model=name, **options)
    return files


def _best_psnr(files: dict[str, bytes], reference: np.ndarray) -> bytes:
    # The rule: the best PSNR, then the smaller file, then the order given (the default first).
    ranked = [(-_measure(data, reference)[0], len(data), i) for i, data in enumerate(files.values())]
    return list(files.values())[min(ranked)[2]]


@pytest.fixture
def reference(face) -> np.ndarray:
    return np.asarray(model_input(face, 128).pixels)


# 70 bytes: face128 alone fits, by raising its rate weight (~15 s on a busy CPU); the smallest
# files of this face are face128's ~61 B, cat128's 75 and face128-v2's 80 (80 was the budget
# until the last one, on some machines, made exactly 80).
@pytest.mark.parametrize("max_bytes", [pytest.param(70, marks=pytest.mark.slow), 441])
def test_auto_keeps_the_best_psnr_file_within_the_budget(isolated_models, face, reference, max_bytes):
    data = gzcodec.encode(face, model="auto", max_bytes=max_bytes)
    files = _separate(face, BUNDLED, max_bytes=max_bytes)
    assert files, "no model fits: the test needs a budget one fits"
    assert data == _best_psnr(files, reference)
    assert len(data) <= max_bytes
    # The header names the winner: decoding needs no hint.
    winner = next(name for name, d in files.items() if d == data)
    assert gzcodec.load_model(winner).id.startswith(gzcodec.read_header(data).model_id_hex)
    if max_bytes == 70:  # below face128-v2's smallest file of this face: another model wins
        assert "face128-v2" not in files and FACE128 in files and winner != "face128-v2"


def test_auto_is_deterministic_and_the_same_in_a_batch(isolated_models, face):
    one = gzcodec.encode(face, model="auto", max_bytes=441)
    assert gzcodec.encode(face, model="auto", max_bytes=441) == one
    assert gzcodec.encode_batch([face, EXAMPLES / "face.png"], model="auto", max_bytes=441) == [one, one]


def test_auto_keeps_the_smallest_file_that_reaches_the_ssim(isolated_models, face, reference):
    data = gzcodec.encode(face, model="auto", target_ssim=0.7)
    files = _separate(face, BUNDLED, target_ssim=0.7)
    reaching = [d for d in files.values() if _measure(d, reference)[1] >= 0.7]
    assert reaching and data == min(reaching, key=len)
    assert _measure(data, reference)[1] >= 0.7


def test_an_unreachable_ssim_keeps_the_highest_with_one_warning(isolated_models, face, reference):
    unreached = r"target SSIM 0.99 not reached: 0\.\d+ with \S+, the best of"
    with pytest.warns(UserWarning, match=unreached) as caught:
        data = gzcodec.encode(face, model="auto", target_ssim=0.99)
    assert sum("target SSIM" in str(w.message) for w in caught) == 1  # not one per model
    files = _separate(face, BUNDLED, target_ssim=0.99)
    assert _measure(data, reference)[1] == max(_measure(d, reference)[1] for d in files.values())


def test_without_a_budget_auto_is_refused_before_the_image_is_read(tmp_path):
    missing = tmp_path / "no-such-image.png"  # never opened: the refusal comes first
    for call in (lambda: gzcodec.encode(missing, model="auto"),
                 lambda: gzcodec.encode(missing, model="auto", bits=4),
                 lambda: gzcodec.encode_batch([missing], model="auto", rate=40),
                 lambda: gzcodec.save(missing, tmp_path / "x.gzl", model="auto")):
        with pytest.raises(OptionError, match=REFUSAL):
            call()
    assert not (tmp_path / "x.gzl").exists()


def test_without_a_budget_the_command_line_says_one_line(tmp_path):
    result = CliRunner().invoke(app, ["encode", str(tmp_path / "missing.png"), "--model", "auto",
                                      "--bits", "4"])
    assert result.exit_code == 1
    assert result.output.strip() == ("error: --model auto needs --max-bytes or --target-ssim: --bits "
                                     "means a different size for each model")


def test_no_model_fits_one_clear_error_naming_each(isolated_models, face):
    with pytest.raises(ValueError, match=r"no installed model could encode the image: face128-v2: cannot "
                                         r"fit the image in 20 bytes .*; face128: cannot fit"):
        gzcodec.encode(face, model="auto", max_bytes=20)
    # Options no model takes: the default model's error, as it alone would give.
    with pytest.raises(ValueError, match="hyperprior-context models code with .range., not .zstd."):
        gzcodec.encode(face, model="auto", max_bytes=441, coding="zstd", effort="fast")


def test_only_the_models_that_take_the_options_are_candidates(isolated_models, face):
    usable, refused = usable_models(EncodeOptions(max_bytes=441, format_version=1))
    assert [lm.info.name for lm in usable] == [FACE128]
    assert sorted(name for name, _ in refused) == sorted(n for n in BUNDLED if n != FACE128)  # the v2 ones
    data = gzcodec.encode(face, model="auto", max_bytes=441, format_version=1)
    assert gzcodec.read_header(data).version == 1


def test_im_save_and_gzcodec_save_take_auto(isolated_models, face, tmp_path):
    expected = gzcodec.encode(face, model="auto", max_bytes=441)
    buffer = io.BytesIO()
    face.save(buffer, "GZL", model="auto", max_bytes=441)
    assert buffer.getvalue() == expected
    face.save(tmp_path / "a.gzl", model="auto", max_bytes=441)
    assert (tmp_path / "a.gzl").read_bytes() == expected
    assert gzcodec.save(face, tmp_path / "b.gzl", model="auto", max_bytes=441) == len(expected)
    assert (tmp_path / "b.gzl").read_bytes() == expected


def test_a_folder_encode_on_the_command_line(isolated_models, tmp_path):
    for name in ("face.png", "generated-1.png"):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes((EXAMPLES / name).read_bytes())
    result = CliRunner().invoke(app, ["encode", str(tmp_path / "in"), "-o", str(tmp_path / "out") + "/",
                                      "--model", "auto", "--max-bytes", "441", "-q"])
    assert result.exit_code == 0, result.output
    for name in ("face", "generated-1"):
        data = (tmp_path / "out" / f"{name}.gzl").read_bytes()
        assert data == gzcodec.encode(EXAMPLES / f"{name}.png", model="auto", max_bytes=441)


def test_a_model_in_the_users_folder_is_a_candidate(isolated_models, model, monkeypatch, face, reference):
    _retrained_copy(model, isolated_models / "mine", nudge=0.05)
    monkeypatch.setenv("GZCODEC_MODEL_PATH", str(isolated_models / "mine"))
    usable, _ = usable_models(EncodeOptions(max_bytes=441))
    names = [lm.info.name for lm in usable]
    assert names[0] == "face128-v2"  # the default first
    assert sorted(names) == sorted([*BUNDLED, "face128-copy"])
    data = gzcodec.encode(face, model="auto", max_bytes=441)
    paths = {lm.info.name: lm.info.path for lm in usable}
    files = _separate(face, [paths[name] for name in names], max_bytes=441)
    assert data == _best_psnr(files, reference)


@pytest.fixture
def toy_model():
    """A 16-pixel model of the toy family (a file is the image's mean colour)."""
    register_family(MeanColourFamily())
    config = ToyConfig()
    info = ModelInfo(id="0123456789ab", name="toy", path=EXAMPLES / "toy.safetensors", size_bytes=0,
                     config={"image_size": config.image_size, "kind": config.kind})
    yield LoadedModel(info=info, network=ToyNetwork(config), pmf_tables={})
    FAMILIES.pop("mean-colour")


def test_models_of_several_sizes_are_compared_at_the_largest(toy_model, model, face, reference):
    options = EncodeOptions(target_ssim=0.2)  # the toy's flat image (SSIM ~0.29 at 128) in 17 bytes
    [data] = encode_with_best_model([face], options=options, models=[model, toy_model])
    toy_file = family_of(toy_model).encode(toy_model, [model_input(face, 16)], options, None)[0]
    assert data == toy_file
    # At 128 pixels the toy's flat image loses on PSNR to face128's at any budget it fits.
    [data] = encode_with_best_model([face], options=EncodeOptions(max_bytes=441),
                                    models=[toy_model, model])
    assert gzcodec.read_header(data).model_id_hex == model.id[:8]
    # A model input already reduced to 128 pixels: the 16-pixel toy cannot take it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [data] = encode_with_best_model([model_input(face, 128)], options=options,
                                        models=[toy_model, model])
    assert gzcodec.read_header(data).model_id_hex == model.id[:8]


@pytest.mark.parametrize("flag", ["--align", "--ray"])
def test_auto_with_align_or_ray_is_one_line(tmp_path, flag):
    result = CliRunner().invoke(app, ["encode", str(EXAMPLES / "face.png"), "-o", str(tmp_path / "o") + "/",
                                      "--model", "auto", "--max-bytes", "441", flag])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: --model auto does not go with {flag}; name a model"


def test_auto_as_text_on_the_command_line(isolated_models):
    result = CliRunner().invoke(app, ["encode", str(EXAMPLES / "face.png"), "--model", "auto",
                                      "--max-bytes", "300", "--text"])
    assert result.exit_code == 0, result.output
    expected = gzcodec.encode(EXAMPLES / "face.png", model="auto", max_bytes=300)
    assert gzcodec.from_text(result.output.strip()) == expected
