"""The models shipped in models/landscape_train/ load, colorize a real photo, and reproduce their model card."""
import os
import re

import cv2
import onnx
import pytest
import torch

from colorization.checkpoint import load_model
from colorization.data.image_io import read_image_file
from colorization.deploy.onnx_export import export_onnx, save_onnx
from colorization.deploy.onnx_format import read_metadata
from colorization.engine.compare import compare_checkpoints
from colorization.engine.colorizer import Colorizer

from conftest import REPO
from test_onnx import assert_onnxruntime_gives_pytorchs_output

MODELS_DIR = os.path.join(REPO, "models", "landscape_train")
CARD = os.path.join(MODELS_DIR, "README.md")
SHIPPED = {"basic_LAB.pth": "LAB", "basic_RGB.pth": "RGB", "basic_LAB_hints.pth": "LAB",
           "effnet_lite0_unet_LAB_hints.pth": "LAB", "effnet_lite0_unet_LAB_cls.pth": "LAB",
           "effnet_lite0_unet_LAB_cls_hints.pth": "LAB"}
HINT_MODELS = ["basic_LAB_hints.pth", "effnet_lite0_unet_LAB_hints.pth", "effnet_lite0_unet_LAB_cls_hints.pth"]
# A shipped file stays small enough for the repository: 10 MB, and 18 MB for the ImageNet-encoder models (8.0 to
# 8.4 M parameters, stored in float16).
MAX_MB = {"effnet_lite0_unet_LAB_hints.pth": 18, "effnet_lite0_unet_LAB_cls.pth": 18,
          "effnet_lite0_unet_LAB_cls_hints.pth": 18}


def card_metric(model_file, row):
    """(model, no color) values of a row in the model's card table: | row | model | no color |."""
    text = open(CARD, encoding="utf-8").read()
    section = text.split(f"## {model_file}", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"^\| {re.escape(row)} \| ([-0-9.]+) \| ([-0-9.]+) \|", section, re.M)
    assert match, f"no '{row}' row for {model_file} in {CARD}"
    return float(match.group(1)), float(match.group(2))


@pytest.fixture(scope="module")
def landscape_val():
    """model file -> (its metrics, no color's) on landscape_val, each model evaluated once for the module (a hint
    model at every hint count of TEST.HINT_COUNTS)."""
    measured = {}

    def get(model_file):
        if model_file not in measured:
            comparison = compare_checkpoints([os.path.join(MODELS_DIR, model_file)], "landscape_val", device="cpu",
                                             num_images=0, progress=False)
            measured[model_file] = comparison.models[0].metrics, comparison.baselines[0].metrics
        return measured[model_file]
    return get


@pytest.mark.parametrize("model_file,space", SHIPPED.items())
def test_shipped_model_is_small_and_rebuilds_from_the_file_alone(model_file, space, photo_path):
    path = os.path.join(MODELS_DIR, model_file)
    assert os.path.getsize(path) < MAX_MB.get(model_file, 10) * 2**20
    colorizer = Colorizer.from_checkpoint(path, device="cpu")
    assert colorizer.cfg.INPUT.COLOR_SPACE == space
    photo = cv2.cvtColor(cv2.imread(photo_path), cv2.COLOR_BGR2RGB)
    out = colorizer.colorize(photo)
    assert out.shape == photo.shape and out.dtype == photo.dtype


@pytest.mark.parametrize("model_file", SHIPPED)
@pytest.mark.slow
def test_shipped_model_reproduces_its_model_card(model_file, landscape_val):
    model, baseline = landscape_val(model_file)
    card_model, card_baseline = card_metric(model_file, "PSNR (dB)")
    assert abs(model["psnr"] - card_model) < 0.1
    assert abs(baseline["psnr"] - card_baseline) < 0.1


@pytest.mark.parametrize("model_file", HINT_MODELS)
@pytest.mark.slow
def test_hint_model_reproduces_its_card_along_the_number_of_hints(model_file, landscape_val):
    """The card's table against the number of hints: PSNR at each count within 0.1 dB, and 10 hints at least
    1.5 dB above "no color"."""
    metrics, baseline = landscape_val(model_file)
    section = open(CARD, encoding="utf-8").read().split(f"## {model_file}", 1)[1].split("\n## ", 1)[0]
    table = section.split("Against the number of hints", 1)[1].split("\n\n", 2)[1]  # the landscape_val table
    rows = dict(re.findall(r"^\| (\d+) \| ([0-9.]+) \|", table, re.M))
    assert set(rows) == {"0", "1", "2", "5", "10", "20"}
    for count, psnr in rows.items():
        key = "psnr" if count == "0" else f"hints{count}_psnr"
        assert abs(metrics[key] - float(psnr)) < 0.1, (count, metrics[key], psnr)
    assert metrics["hints10_psnr"] - baseline["psnr"] >= 1.5


@pytest.mark.slow
def test_the_efficientnet_model_runs_through_onnxruntime_as_in_pytorch(photo_path, tmp_path):
    """Exporting it once hung in the exporter's shape simplification (TensorFlow's "SAME" padding of the encoder
    traced at free sides); now the file exports and onnxruntime colorizes as PyTorch does, hints included."""
    cfg, model = load_model(os.path.join(MODELS_DIR, "effnet_lite0_unet_LAB_hints.pth"))
    path = str(tmp_path / "effnet.onnx")
    save_onnx(export_onnx(model, cfg), path)
    proto = onnx.load(path)
    graph_sides = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim[2:]]
    assert all(d.startswith("32*") for d in graph_sides), graph_sides  # declared multiples of 32: a faster export
    assert "multiple of 32" in read_metadata({p.key: p.value for p in proto.metadata_props})["sizes"]
    torch_c = Colorizer(model, cfg, torch.device("cpu"))
    assert_onnxruntime_gives_pytorchs_output(torch_c, Colorizer.from_checkpoint(path), read_image_file(photo_path))
