"""EfficientNet-Lite as a loss and a metric network, offline: the perceptual term on its features (LOSS.PERCEPTUAL_NETWORK)
and colorization-evaluate's --feature_distance, named as not comparable with FID."""
import json

import torch

from colorization.config import load_cfg
from colorization.engine.fid import LITE_FEATURES, FIDAccumulator, build_feature_distance_network
from colorization.engine.loss_terms import build_perceptual_loss
from colorization.modeling.efficientnet_lite import LITE_PERCEPTUAL_LAYERS

from conftest import REPO, copy_photos, run_tool


def test_perceptual_term_on_efficientnet_features_is_zero_on_the_target_and_trains_the_prediction():
    cfg = load_cfg(None, ["LOSS.PERCEPTUAL_WEIGHT", "1.0", "LOSS.PERCEPTUAL_NETWORK", "efficientnet_lite0"])
    loss = build_perceptual_loss(cfg, torch.device("cpu"))
    assert loss.layers == LITE_PERCEPTUAL_LAYERS and not loss.vgg.training
    torch.manual_seed(0)
    target = torch.rand(2, 3, 64, 64)
    pred = target.flip(-1).clone().requires_grad_(True)
    assert loss(target, target).item() == 0
    value = loss(pred, target)
    value.backward()
    assert value.item() > 0 and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())  # frozen


def test_feature_distance_is_zero_against_itself_and_grows_with_the_difference():
    net = build_feature_distance_network("efficientnet_lite0", torch.device("cpu"))
    torch.manual_seed(0)
    images = (torch.rand(6, 3, 64, 64) * 255).to(torch.uint8)
    gray = images.float().mean(1, keepdim=True).expand(-1, 3, -1, -1).to(torch.uint8)
    acc = FIDAccumulator(net, torch.device("cpu"), "feature_distance", LITE_FEATURES)
    for stream, rgb in (("target", images), ("model", images), ("baseline", gray)):
        acc.add(stream, rgb)
    scores, count = acc.compute(("model", "baseline"))
    assert count == 6 and abs(scores["model"]) < 1e-3 and scores["baseline"] > 1


def test_evaluate_reports_the_feature_distance_named_as_not_fid(photo_dir, tmp_path):
    photos = copy_photos(photo_dir, tmp_path / "photos", 3)
    out = tmp_path / "eval"
    proc = run_tool("evaluate.py", "--model_to_load", f"{REPO}/models/landscape_train/basic_LAB.pth", "--dataset",
                    photos, "--output", out, "--num_images", "0", "--device", "cpu", "--feature_distance",
                    "efficientnet_lite0", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "feature distance (not FID) ↓" in proc.stdout and "not comparable with any published FID" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    model, baseline = metrics["models"][0]["metrics"], metrics["baselines"][0]["metrics"]
    assert metrics["feature_network"] == "efficientnet_lite0"
    assert model["feature_distance_images"] == 3 and model["feature_distance"] > 0 and baseline["feature_distance"] > 0
    assert "fid" not in model
