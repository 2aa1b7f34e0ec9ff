"""ONNX export and the onnxruntime backend: for every network and every head the exported graph gives PyTorch's read-out
within 1e-4 (ab / 110) on a real photo, through the same Colorizer, at any batch and size; temperature, suggested
colors and evaluation work through either backend."""
import json

import numpy as np
import onnx
import pytest
import torch

from colorization.checkpoint import load_model
from colorization.config import cfg_from_yaml_string, load_cfg
from colorization.data import color
from colorization.data.hint_files import UserHints
from colorization.data.image_io import read_image_file
from colorization.deploy import export_onnx, load_onnx_model, save_onnx
from colorization.deploy.graph_rewrites import fold_batch_norms, with_phase_convolutions
from colorization.deploy.onnx_format import OPSET, read_metadata
from colorization.deploy.onnx_quantize import calibration_feeds, quantize_int8
from colorization.engine.compare import compare_checkpoints
from colorization.engine.colorizer import Colorizer
from colorization.errors import UserError
from colorization.modeling import build_model

from conftest import REPO

TOLERANCE = 1e-4  # ab / 110 (RGB models: [0, 1])

# name -> (config, overrides, checkpoint or None for fresh weights): every network and every head, color space and
# hint input at least once (a head is the same module on every network, so not every pairing: each export costs
# seconds).
MODELS = {
    "basic_regression": ("configs/base_config_LAB.yaml", [], "models/landscape_train/basic_LAB.pth"),
    "basic_rgb": ("configs/base_config.yaml", [], "models/landscape_train/basic_RGB.pth"),
    "basic_classification": ("configs/quick/basic_classification_quick.yaml", [], None),
    "basic_hints": ("configs/quick/basic_hints_quick.yaml", [], None),
    "eccv16_classification": ("configs/quick/larger_net_quick.yaml", [], None),
    "siggraph17_regression": ("configs/quick/siggraph17_quick.yaml", [], None),
}


def _torch_model(name):
    config, overrides, checkpoint = MODELS[name]
    if checkpoint:
        return load_model(f"{REPO}/{checkpoint}")
    cfg = load_cfg(f"{REPO}/{config}", overrides)
    torch.manual_seed(0)
    model = build_model(cfg)
    # He initialisation keeps the signal's scale through the deep nets (PyTorch's default shrinks it layer by layer
    # until the output is nearly constant); BatchNorm statistics get a spread, as trained ones have.
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return cfg, model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (torch Colorizer, onnxruntime Colorizer from the written .onnx, path); exported once per module."""
    folder = tmp_path_factory.mktemp("onnx")
    cache = {}

    def get(name):
        if name not in cache:
            cfg, model = _torch_model(name)
            path = str(folder / f"{name}.onnx")
            save_onnx(export_onnx(model, cfg), path)
            cache[name] = (Colorizer(model, cfg, torch.device("cpu")), Colorizer.from_checkpoint(path), path)
        return cache[name]
    return get


@pytest.fixture(scope="module")
def photo(photo_path):
    return read_image_file(photo_path)


def _hints(rgb):
    h, w = rgb.shape[:2]
    return UserHints(points=[(w // 3, h // 2, (0.1, 0.4, 0.9)), (2 * w // 3, h // 4, (0.9, 0.6, 0.1))], size=3)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.slow
def test_onnxruntime_gives_pytorchs_output_on_a_real_photo(exported, photo, name):
    torch_c, onnx_c, _ = exported(name)
    assert_onnxruntime_gives_pytorchs_output(torch_c, onnx_c, photo)


def assert_onnxruntime_gives_pytorchs_output(torch_c, onnx_c, photo):
    """The network's read-out, the ab at the photo's size and the colorized photo agree between the two backends,
    with and without hints for a hint model; hints change the prediction."""
    assert onnx_c.model.backend == "onnxruntime" and torch_c.backend.backend == "torch"
    hint_cases = [None, _hints(photo)] if torch_c.takes_hints else [None]
    assert onnx_c.takes_hints == torch_c.takes_hints
    for hints in hint_cases:
        x, _ = torch_c.network_input(color.to_unit(photo), hints)
        with torch.no_grad():
            want, got = torch_c.backend.readout(x), onnx_c.backend.readout(x)
        assert got.shape == want.shape
        assert float(want.abs().max()) > 1e-3  # a real prediction, not all zeros
        assert float((got - want).abs().max()) <= TOLERANCE
        # The same Colorizer post-processing on both: the photo's own L, the ab upsampled to its size.
        lab_torch, = torch_c.predict_lab([color.to_unit(photo)], [hints])
        lab_onnx, = onnx_c.predict_lab([color.to_unit(photo)], [hints])
        assert lab_onnx.shape == photo.shape
        if torch_c.cfg.INPUT.COLOR_SPACE == "LAB":
            assert np.abs(lab_onnx - lab_torch).max() <= TOLERANCE * color.AB_SCALE
        assert np.abs(onnx_c.colorize(photo, hints=hints).astype(int) - torch_c.colorize(photo, hints=hints)).max() <= 1
    if torch_c.takes_hints:  # the hint inputs are used: hints change the prediction
        plain, hinted = (onnx_c.predict_lab([color.to_unit(photo)], [h])[0] for h in hint_cases)
        assert np.abs(plain - hinted).max() > 0.05  # ab units; the two backends agree to about 1e-4


@pytest.mark.parametrize("name", ["basic_hints", "eccv16_classification", "siggraph17_regression"])
def test_batch_height_and_width_are_free(exported, name):
    torch_c, onnx_c, _ = exported(name)
    for batch, height, width in ((3, 52, 37), (1, 16, 16)):  # 16: the smallest side the export allows
        x = torch.randn(batch, torch_c.model.in_channels, height, width) * 0.3
        with torch.no_grad():
            want = torch_c.model.predict(x)
        got = onnx_c.model.predict(x)
        assert got.shape == want.shape == (batch, 2, height, width)
        assert float((got - want).abs().max()) <= TOLERANCE


def test_file_checks_and_carries_config_colors_and_bins(exported):
    torch_c, _, path = exported("eccv16_classification")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == OPSET
    meta = read_metadata({p.key: p.value for p in proto.metadata_props})
    assert cfg_from_yaml_string(meta["cfg"]) == torch_c.cfg
    assert json.loads(meta["color"]) == {"color_space": "LAB", "l_center": 50.0, "l_scale": 100.0, "ab_scale": 110.0}
    np.testing.assert_allclose(json.loads(meta["bins"]), torch_c.model.head.bins.numpy(), atol=1e-5)
    assert [i.name for i in proto.graph.input] == ["lightness", "temperature"]
    assert [o.name for o in proto.graph.output] == ["ab", "logits"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 1 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))  # free batch, H, W


def test_temperature_is_an_input_and_suggestions_match(exported, photo):
    torch_c, onnx_c, _ = exported("eccv16_classification")
    x, _ = torch_c.network_input(color.to_unit(photo))
    before = onnx_c.backend.readout(x)
    for colorizer in (torch_c, onnx_c):
        colorizer.set_temperature(0.1)
    try:
        with torch.no_grad():
            want = torch_c.backend.readout(x)
        got = onnx_c.backend.readout(x)
        assert float((got - want).abs().max()) <= TOLERANCE
        assert float((got - before).abs().max()) > 1e-3  # the temperature reached the graph
        h, w = photo.shape[:2]
        want_modes = torch_c.suggest_colors(photo, w // 2, h // 2)
        got_modes = onnx_c.suggest_colors(photo, w // 2, h // 2)
        assert [m["ab"] for m in got_modes] == [m["ab"] for m in want_modes]
        np.testing.assert_allclose([m["probability"] for m in got_modes], [m["probability"] for m in want_modes],
                                   atol=1e-3)
    finally:
        for colorizer in (torch_c, onnx_c):
            colorizer.set_temperature(torch_c.cfg.MODEL.ANNEALED_T)
    _, regression, _ = exported("basic_regression")
    with pytest.raises(UserError, match="classification"):
        regression.suggest_colors(photo, 1, 1)
    with pytest.raises(UserError, match="classification"):
        regression.set_temperature(0.5)


@pytest.mark.slow
def test_evaluation_is_the_same_through_either_backend(exported, photo_dir):
    """The evaluator runs an onnxruntime model as it runs a PyTorch one, the hint counts of a hint model included."""
    _, _, path = exported("basic_hints")
    torch_c, _, _ = exported("basic_hints")
    checkpoint = path[:-len(".onnx")] + ".pth"
    torch.save({"format": 1, "model": torch_c.model.state_dict(), "cfg": torch_c.cfg.dump(),
                "color": {"color_space": "LAB", "l_center": 50.0, "l_scale": 100.0, "ab_scale": 110.0}}, checkpoint)
    by_torch = compare_checkpoints([checkpoint], str(photo_dir), num_images=2, progress=False).models[0]
    by_onnx = compare_checkpoints([path], str(photo_dir), num_images=2, progress=False).models[0]
    in_memory = compare_checkpoints([checkpoint], str(photo_dir), num_images=0, progress=False,
                                    backend="onnxruntime").models[0]
    assert "hints5_psnr" in by_onnx.metrics and by_onnx.metrics.keys() == by_torch.metrics.keys()
    for key, value in by_torch.metrics.items():
        assert by_onnx.metrics[key] == pytest.approx(value, abs=1e-3), key
        assert in_memory.metrics[key] == pytest.approx(value, abs=1e-3), key
    assert len(by_onnx.kept) == 2 and "hinted" in by_onnx.kept[0]


@pytest.mark.slow
def test_int8_variant_of_a_hint_network(exported, photo_dir, photo, tmp_path):
    """siggraph17 trained without MODEL.HINTS reads 1-channel data: calibration gives its hint inputs as zeros."""
    torch_c, onnx_c, _ = exported("siggraph17_regression")
    feeds = calibration_feeds(torch_c.cfg, str(photo_dir), count=4)
    assert len(feeds) == 4 and feeds[0]["hint_ab"].shape == (1, 2, 32, 32) and not feeds[0]["hint_mask"].any()
    save_onnx(export_onnx(torch_c.model, torch_c.cfg, phase_convolutions=True), str(tmp_path / "phase.onnx"))
    quantize_int8(str(tmp_path / "phase.onnx"), str(tmp_path / "int8.onnx"), feeds)
    ops = [n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node]
    assert "ConvTranspose" not in ops and ops.count("QLinearConv") >= 20  # every convolution in int8
    int8 = Colorizer.from_checkpoint(str(tmp_path / "int8.onnx"))
    assert int8.model.precision == "int8" and int8.takes_hints
    x, _ = torch_c.network_input(color.to_unit(photo), _hints(photo))
    got, want = int8.backend.readout(x), onnx_c.backend.readout(x)
    assert got.shape == want.shape and torch.isfinite(got).all()
    assert 0 < float((got - want).abs().mean()) < 0.1  # quantised: close to float, not equal


@pytest.mark.parametrize("name", ["eccv16_classification", "siggraph17_regression"])
def test_phase_convolutions_give_the_transposed_ones_numbers(name):
    _, model = _torch_model(name)
    rewritten = with_phase_convolutions(model)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in rewritten.modules())
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())  # a copy: the model is untouched
    x = torch.randn(2, model.in_channels, 45, 38) * 0.3
    with torch.no_grad():
        assert float((model(x) - rewritten(x)).abs().max()) <= 1e-5


def _batch_norms(module):
    return sum(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())


# config, overrides, the BatchNorms left in the part of the network checked: none where each follows a plain
# convolution in a Sequential (basic), the stem's where a hint branch is added between (EfficientNet, ResNet, whose
# blocks declare their pairs), and in DDColor those after its spectral-norm convolutions, once these are plain
# convolutions with their eval-mode weight (3 of 9: the others follow a ReLU or normalise a skip feature).
FOLDS = {
    "basic": ("configs/quick/basic_hints_quick.yaml", [], lambda m: m, 0),
    "efficientnet": ("configs/quick/effnet_unet_quick.yaml", ["MODEL.PRETRAINED", "", "MODEL.HINTS", "True"],
                     lambda m: m.encoder, 1),
    "resnet": ("configs/quick/recipe_resnet34_quick.yaml", [], lambda m: m.encoder, 1),
    "ddcolor": ("configs/quick/ddcolor_quick.yaml", [], lambda m: m, 6),
}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_folded_batch_norms_give_the_same_numbers(name):
    config, overrides, part, left = FOLDS[name]
    cfg = load_cfg(f"{REPO}/{config}", overrides)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.002, 0.02)  # small: a fold that left out eps would show
            m.weight.data.uniform_(0.02, 0.2)
            m.bias.data.uniform_(-0.2, 0.2)
    before = _batch_norms(part(model))
    folded = fold_batch_norms(model)
    assert _batch_norms(part(model)) == before  # a copy: the model is untouched
    if left is None:
        assert _batch_norms(part(folded)) == before
    else:
        assert _batch_norms(part(folded)) == left < before
    side = 64
    x = torch.randn(2, model.in_channels, side, side) * 0.3
    with torch.no_grad():
        want, got = model(x), folded(x)
    assert float((want - got).abs().max()) <= 1e-5 * max(1.0, float(want.abs().max()))


def test_a_batch_norm_without_its_own_scale_and_shift_is_folded_too():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4, affine=False)).eval()
    model[1].running_mean.uniform_(-1.0, 1.0)
    model[1].running_var.uniform_(0.01, 0.1)
    folded = fold_batch_norms(model)
    assert isinstance(folded[1], torch.nn.Identity)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert float((model(x) - folded(x)).abs().max()) <= 1e-5


def test_an_exported_model_cannot_be_trained(exported):
    _, onnx_c, path = exported("basic_regression")
    model = onnx_c.model
    assert model.eval() is model and model.training is False
    with pytest.raises(UserError, match="cannot be trained"):
        model.train()
    with pytest.raises(UserError, match="onnxruntime backend runs on the CPU"):
        load_onnx_model(path, device="cuda")
