"""FID: the Frechet distance against scipy's sqrtm formula, FID of a set with itself, pytorch-fid's Inception v3
layout loaded strictly, batched features summed like the full set, and tools/evaluate.py --fid end to end."""
import os

import numpy as np
import pytest
import scipy.linalg
import torch

from colorization.engine.fid import FIDAccumulator, build_fid_network
from colorization.errors import UserError
from colorization.metrics import frechet_distance
from colorization.modeling.inception import FID_INCEPTION_WEIGHTS, FIDInceptionV3
from conftest import REPO, copy_photos, run_tools_in_one_process


def _scipy_frechet(mu1, s1, mu2, s2):
    """The formula as pytorch-fid writes it: ||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def _stats(features):
    return features.mean(axis=0), np.cov(features, rowvar=False)


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 64))
    b = rng.normal(size=(250, 64)) @ rng.normal(size=(64, 64)) * 0.3 + 0.5
    for x, y in ((a, b), (b, a), (a, a[:200] * 1.5)):
        mine = frechet_distance(*(torch.from_numpy(t) for t in _stats(x) + _stats(y)))
        assert mine == pytest.approx(_scipy_frechet(*_stats(x), *_stats(y)), rel=1e-6)
    # Fewer samples than dimensions: singular covariances (trace about 64), where sqrtm struggles and the eigen route
    # stays real.
    few = rng.normal(size=(20, 64))
    assert frechet_distance(*(torch.from_numpy(t) for t in _stats(few) + _stats(few))) == pytest.approx(0, abs=1e-4)


def torchvision_fid_inception_layout():
    """{conv name: (out, in, kh, kw)} of the Inception v3 in pytorch-fid's file, from its published structure (each
    conv followed by a BatchNorm of its outputs), plus the 1008-class fc."""
    convs = {"Conv2d_1a_3x3": (32, 3, 3, 3), "Conv2d_2a_3x3": (32, 32, 3, 3), "Conv2d_2b_3x3": (64, 32, 3, 3),
             "Conv2d_3b_1x1": (80, 64, 1, 1), "Conv2d_4a_3x3": (192, 80, 3, 3)}

    def block(prefix, spec):
        convs.update({f"{prefix}.{name}": shape for name, shape in spec.items()})

    for name, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        block(name, {"branch1x1": (64, cin, 1, 1), "branch5x5_1": (48, cin, 1, 1), "branch5x5_2": (64, 48, 5, 5),
                     "branch3x3dbl_1": (64, cin, 1, 1), "branch3x3dbl_2": (96, 64, 3, 3),
                     "branch3x3dbl_3": (96, 96, 3, 3), "branch_pool": (pool, cin, 1, 1)})
    block("Mixed_6a", {"branch3x3": (384, 288, 3, 3), "branch3x3dbl_1": (64, 288, 1, 1),
                       "branch3x3dbl_2": (96, 64, 3, 3), "branch3x3dbl_3": (96, 96, 3, 3)})
    for name, c in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        block(name, {"branch1x1": (192, 768, 1, 1), "branch7x7_1": (c, 768, 1, 1), "branch7x7_2": (c, c, 1, 7),
                     "branch7x7_3": (192, c, 7, 1), "branch7x7dbl_1": (c, 768, 1, 1), "branch7x7dbl_2": (c, c, 7, 1),
                     "branch7x7dbl_3": (c, c, 1, 7), "branch7x7dbl_4": (c, c, 7, 1), "branch7x7dbl_5": (192, c, 1, 7),
                     "branch_pool": (192, 768, 1, 1)})
    block("Mixed_7a", {"branch3x3_1": (192, 768, 1, 1), "branch3x3_2": (320, 192, 3, 3),
                       "branch7x7x3_1": (192, 768, 1, 1), "branch7x7x3_2": (192, 192, 1, 7),
                       "branch7x7x3_3": (192, 192, 7, 1), "branch7x7x3_4": (192, 192, 3, 3)})
    for name, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        block(name, {"branch1x1": (320, cin, 1, 1), "branch3x3_1": (384, cin, 1, 1), "branch3x3_2a": (384, 384, 1, 3),
                     "branch3x3_2b": (384, 384, 3, 1), "branch3x3dbl_1": (448, cin, 1, 1),
                     "branch3x3dbl_2": (384, 448, 3, 3), "branch3x3dbl_3a": (384, 384, 1, 3),
                     "branch3x3dbl_3b": (384, 384, 3, 1), "branch_pool": (192, cin, 1, 1)})
    layout = {"fc.weight": (1008, 2048), "fc.bias": (1008,)}
    for name, shape in convs.items():
        layout[f"{name}.conv.weight"] = shape
        layout.update({f"{name}.bn.{n}": shape[:1] for n in ("weight", "bias", "running_mean", "running_var")})
    return layout


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """A weights file in pytorch-fid's layout: random He-initialised convolutions, BatchNorm near the identity (so that
    features do not die out over 40 layers)."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in torchvision_fid_inception_layout().items():
        if key.endswith(("bn.weight", "running_var")):
            state[key] = 1 + 0.1 * torch.rand(shape, generator=gen)
        elif key.endswith(("bn.bias", "running_mean")):
            state[key] = 0.01 * torch.randn(shape, generator=gen)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=gen) * (2 / fan_in) ** 0.5
    path = tmp_path_factory.mktemp("fid") / "pt_inception-test.pth"
    torch.save(state, path)
    return path, state


def test_network_has_the_published_layout_and_loads_it_strictly(inception_file, tmp_path):
    own = {k: tuple(v.shape) for k, v in FIDInceptionV3().state_dict().items() if "num_batches" not in k}
    assert own == torchvision_fid_inception_layout()
    path, state = inception_file
    net = build_fid_network(str(path), torch.device("cpu"))
    assert torch.equal(net.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"])
    assert not net.training
    features = net(torch.rand(2, 3, 64, 48))  # any size: resized to 299x299 inside
    assert features.shape == (2, 2048) and torch.isfinite(features).all() and (features > 0).float().mean() > 0.1
    broken = {k: v for k, v in state.items() if k != "fc.bias"}
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(UserError, match="missing keys: fc.bias"):
        build_fid_network(str(tmp_path / "broken.pth"), torch.device("cpu"))
    assert FID_INCEPTION_WEIGHTS["pytorch_fid"].url.endswith("pt_inception-2015-12-05-6726825d.pth")


def test_fid_of_batches_is_the_fid_of_the_set_and_zero_against_itself():
    """The accumulator's sums over batches and streams, with a small network of 2048 outputs in place of Inception
    (the sums do not depend on which network made the features)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 2048))
    gen = torch.Generator().manual_seed(1)
    target = (torch.rand(12, 3, 16, 16, generator=gen) * 255).to(torch.uint8)
    other = (torch.rand(12, 3, 16, 16, generator=gen) * 128).to(torch.uint8)
    fid = FIDAccumulator(net, torch.device("cpu"))
    for i in range(0, 12, 4):
        fid.add("target", target[i:i + 4])
        fid.add("model", other[i:i + 4])
        fid.add("baseline", target[i:i + 4])
    scores, count = fid.compute(("model", "baseline"))
    assert count == 12 and scores["baseline"] == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        f_target, f_other = (net(x.float() / 255).double().numpy() for x in (target, other))
    from_features = frechet_distance(*(torch.from_numpy(t) for t in _stats(f_other) + _stats(f_target)))
    assert scores["model"] == pytest.approx(from_features, rel=1e-6) and scores["model"] > 0.01


def _three_photos(photo_dir, tmp_path):
    """A folder with the first 3 test photos (FID on few images: fast, and its small-set warning shows)."""
    return copy_photos(photo_dir, tmp_path / "photos", 3)


@pytest.mark.slow
def test_evaluate_reports_fid_with_the_number_of_images(inception_file, photo_dir, tmp_path):
    photos = _three_photos(photo_dir, tmp_path)
    out = tmp_path / "eval"
    evaluate = [os.path.join(REPO, "tools", "evaluate.py"), "--model_to_load",
                f"{REPO}/models/landscape_train/basic_LAB.pth", "--dataset", photos, "--fid"]
    results = run_tools_in_one_process({  # one after the other in one Python process
        "fid": [*evaluate, "--output", out, "--num_images", "0", "--device", "cpu", "--fid_weights",
                inception_file[0]],
        "bad_weights": [*evaluate, "--output", tmp_path / "eval2", "--fid_weights", tmp_path / "nowhere.pth"],
    }, tmp_path)
    proc, bad = results["fid"], results["bad_weights"]
    assert proc["returncode"] == 0, proc["stderr"][-3000:]
    assert "FID ↓" in proc["stdout"] and "these 3 images; below 2048 images FID is biased upwards" in proc["stdout"]
    import json
    metrics = json.loads((out / "metrics.json").read_text())
    model, baseline = metrics["models"][0]["metrics"], metrics["baselines"][0]["metrics"]
    assert model["fid_images"] == 3 and model["fid"] > 0 and baseline["fid"] > 0
    assert bad["returncode"] == 2 and bad["stderr"].startswith("error: FID weights"), bad["stderr"][-2000:]
    assert "nowhere.pth" in bad["stderr"]


@pytest.mark.slow
def test_validation_reports_fid_with_test_fid(inception_file, photo_dir, tmp_path):
    import json

    from colorization.config import load_cfg
    from colorization.engine.trainer import Trainer
    photos = _three_photos(photo_dir, tmp_path)
    out = tmp_path / "run"
    cfg = load_cfg(f"{REPO}/configs/quick/basic_LAB_quick.yaml", [
        "DATASETS.TRAIN", f"('{photos}',)", "DATASETS.TEST", f"('{photos}',)", "OUTPUT_DIR", str(out),
        "PREDICTIONS_DIR", str(tmp_path / "preds"), "SOLVER.MAX_EPOCHS", "1", "SOLVER.IMS_PER_BATCH", "2",
        "TEST.NUM_TRIPLETS", "0", "MODEL.DEVICE", "cpu", "TEST.FID", "True",
        "TEST.FID_WEIGHTS", str(inception_file[0])])
    with Trainer(cfg) as trainer:
        trainer.train()
    (record,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert record["val_fid_images"] == 3 and record["val_fid"] > 0 and record["val_baseline_fid"] > 0
    assert "validation: FID" in (out / "log.txt").read_text()
