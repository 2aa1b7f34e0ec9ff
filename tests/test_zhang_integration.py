"""Zhang et al.'s networks wired into the framework (issue 3): heads, official weights, download, tools, memory.

The official weight files cannot be fetched here, so the tests make official-layout files themselves: an
ECCV16Net state dict with random weights whose model_out holds 313 distinct ab bin centres / 110, its last
classifier layer scaled so that the logits are as peaked as a trained network's (std ~5 instead of ~0.04).
"""
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from colorization.config import load_cfg
from colorization.data.image_io import read_image_file
from colorization.engine.color_prior import prepare_color_prior
from colorization.engine.colorizer import Colorizer
from colorization.errors import UserError
from colorization.modeling import build_model
from colorization.modeling.registry import MODEL_REGISTRY, PublishedWeights
from colorization.checkpoint import model_from_official
from colorization.modeling.color_bins import ab_gamut_bins, load_color_prior, rebalancing_weights
from colorization.modeling.zhang import ECCV16Net, SIGGRAPH17Net
from conftest import REPO, copy_photos, run_tool, run_tools_in_one_process


CONFIGS = os.path.join(REPO, "configs")
LARGER_NET = os.path.join(CONFIGS, "larger_net.yaml")
LARGER_NET_PRETRAINED = os.path.join(CONFIGS, "larger_net_pretrained.yaml")
SIGGRAPH17 = os.path.join(CONFIGS, "siggraph17.yaml")
QUICK = os.path.join(CONFIGS, "quick")
PEAK_RSS_LIMIT_BYTES = 3 * 1024 ** 3


def _load_tool(name):
    """tools/<name>.py as a module, to call its main(argv) in this process (the same code as the command line,
    without paying a Python + torch start-up per call)."""
    spec = importlib.util.spec_from_file_location(f"_tool_{name}", os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


inference_tool = _load_tool("inference")
compute_color_prior_tool = _load_tool("compute_color_prior")


def _official_like_bins():
    """313 distinct ab points on the grid of 10: the 261 in-gamut cells, then the out-of-gamut cells nearest to
    them (ImageNet's 313 are of the same kind: in-gamut cells plus some reached by real photos)."""
    gamut = ab_gamut_bins()
    axis = torch.arange(-110.0, 111.0, 10.0)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack((a.reshape(-1), b.reshape(-1)), dim=1)
    distance = torch.cdist(grid, gamut).min(dim=1).values
    outside = grid[distance > 0]
    extra = outside[torch.argsort(distance[distance > 0], stable=True)[:313 - len(gamut)]]
    return torch.cat((gamut, extra))


def _eccv16_official_state(seed=0):
    torch.manual_seed(seed)
    state = ECCV16Net().state_dict()
    # As in the official file: model_out's weights are the bin centres / 110.
    state["model_out.weight"] = (_official_like_bins() / 110.0).t().reshape(2, 313, 1, 1)
    state["model8.6.weight"] = state["model8.6.weight"] * 1000.0  # peaked logits, as a trained net gives
    return state


@pytest.fixture(scope="module")
def eccv16_official(tmp_path_factory):
    """(raw official-layout eccv16 .pth saved with torch.save, its state dict)."""
    state = _eccv16_official_state()
    path = tmp_path_factory.mktemp("official") / "eccv16-official.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def siggraph17_official(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("official17") / "siggraph17-official.pth"
    torch.save(SIGGRAPH17Net().state_dict(), path)
    return path


def _gray_input(batch=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 1, size, size, generator=gen) - 0.5  # (L - 50) / 100


def _mean_chroma(ab_norm):
    return (ab_norm * 110.0).pow(2).sum(dim=1).sqrt().mean().item()


def _image_size(path):
    img = cv2.imread(str(path))
    assert img is not None, f"{path} was not written as an image"
    return img.shape[:2]


def _error_lines(text):
    return [line for line in text.splitlines() if line.startswith("error:")]


# --- 1. every parameter the chosen head uses gets a gradient -------------------------------------------------

SIGGRAPH17_DECODER = {"model9up", "model2short9", "model9", "model10up", "model1short10", "model10", "model_out"}


def _expected_trained(model, arch, head):
    """Parameter names a training step must reach. eccv16 classification reads the logits of model8, so
    model_out (the bins / 110 of the T=1 read-out) is unused; siggraph17 classification reads model_class on
    the conv8 features, so the decoder to full resolution (model9*, model10*, model_out) is unused, and its
    regression does not use model_class."""
    names = {name for name, _ in model.named_parameters()}
    block = {name: name.split(".")[1] for name in names}  # "net.<block>.<index>.<weight|bias>"
    if arch == "eccv16":
        unused = {"model_out"} if head == "classification" else set()
    elif head == "classification":
        unused = SIGGRAPH17_DECODER
    else:
        unused = {"model_class"}
    return {name for name in names if block[name] not in unused}


@pytest.mark.parametrize("arch", ["eccv16", "siggraph17"])
@pytest.mark.parametrize("head", ["regression", "classification"])
@pytest.mark.slow
def test_forward_backward_reaches_what_the_head_uses(arch, head):
    cfg = load_cfg(None, ["MODEL.ARCH", arch, "MODEL.HEAD", head, "INPUT.SIZE", "64"])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    x = _gray_input()
    gen = torch.Generator().manual_seed(1)
    target = (torch.rand(2, 2, 64, 64, generator=gen) - 0.5) * 0.8  # ab / 110
    raw = model(x)
    if head == "classification":
        assert raw.shape == (2, model.head.num_bins, 16, 16)
        assert model.head.num_bins == (529 if arch == "siggraph17" else len(ab_gamut_bins()))
    loss = model.loss(raw, target)
    assert torch.isfinite(loss)
    loss.backward()
    reached = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert reached == _expected_trained(model, arch, head)
    for name, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), name


# --- 2. official eccv16 weights: the classification read-out at T = 1 is the official output -----------------

@pytest.mark.slow
def test_classification_readout_reproduces_official_eccv16(eccv16_official):
    _, state = eccv16_official
    cfg = load_cfg(LARGER_NET_PRETRAINED)
    assert cfg.MODEL.HEAD == "classification"
    model = model_from_official(cfg, state)
    model.eval()
    torch.testing.assert_close(model.head.bins, _official_like_bins())
    official = ECCV16Net()
    official.load_state_dict(state, strict=True)
    official.eval()
    x = _gray_input()
    chroma = {}
    with torch.no_grad():
        model.head.temperature = 1.0
        torch.testing.assert_close(model.predict(x), official(x), atol=1e-5, rtol=0)
        for temperature in (1.0, 0.38, 0.1):
            model.head.temperature = temperature
            chroma[temperature] = _mean_chroma(model.predict(x))
    assert chroma[1.0] < chroma[0.38] < chroma[0.1], chroma


def test_official_file_brings_its_bins_to_a_from_scratch_config(eccv16_official):
    """larger_net.yaml would classify over the 261 bins it computes; an official file has its own 313."""
    path, state = eccv16_official
    model = Colorizer.from_checkpoint(str(path), LARGER_NET, "cpu").model
    torch.testing.assert_close(model.head.bins, _official_like_bins())
    assert torch.equal(model.net.state_dict()["model_out.weight"], state["model_out.weight"])


# --- 3. "imagenet" weights downloaded over HTTP, and official files through tools/inference.py ----------------

def test_imagenet_weights_download_once_and_colorize(server, monkeypatch, eccv16_official, photo_path):
    base, served, requests = server
    path, state = eccv16_official
    shutil.copy(path, served / "eccv16-official.pth")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(MODEL_REGISTRY["eccv16"].weights, "imagenet",
                        PublishedWeights(f"{base}/eccv16-official.pth", sha))
    colorizer = Colorizer.from_checkpoint("imagenet", LARGER_NET_PRETRAINED, "cpu")
    assert requests == ["/eccv16-official.pth"]
    cached = os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints", "eccv16-official.pth")
    assert os.path.isfile(cached)
    assert torch.equal(colorizer.model.net.state_dict()["model8.6.weight"], state["model8.6.weight"])
    torch.testing.assert_close(colorizer.model.head.bins, _official_like_bins())
    rgb = read_image_file(photo_path)
    out = colorizer.colorize(rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    Colorizer.from_checkpoint("imagenet", LARGER_NET_PRETRAINED, "cpu")
    assert len(requests) == 1  # the second time it comes from the cache


@pytest.mark.slow
def test_inference_tool_on_an_official_weights_file(eccv16_official, photo_path, tmp_path):
    path, _ = eccv16_official
    dst = tmp_path / "colorized.png"
    env = {"TORCH_HOME": str(tmp_path / "torch_home")}
    result = run_tool("inference.py", "--img_path", photo_path, "--model_to_load", path,
                      "--config", LARGER_NET_PRETRAINED, "--output", dst, env=env)
    assert result.returncode == 0, result.stderr
    assert _image_size(dst) == _image_size(photo_path)

    result = run_tool("inference.py", "--img_path", photo_path, "--model_to_load", path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "--config" in lines[0] and "eccv16-official.pth" in lines[0]


# --- 4. config-time checks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["eccv16", "siggraph17"])
def test_zhang_nets_need_lab(arch):
    with pytest.raises(UserError, match="COLOR_SPACE") as info:
        load_cfg(None, ["MODEL.ARCH", arch, "INPUT.COLOR_SPACE", "RGB"])
    assert "LAB" in str(info.value)


def test_unknown_arch_lists_the_zhang_nets():
    with pytest.raises(UserError, match="MODEL.ARCH") as info:
        load_cfg(None, ["MODEL.ARCH", "eccv17"])
    assert "eccv16" in str(info.value) and "siggraph17" in str(info.value)


# --- 5. one-epoch classification runs through tools/train.py -------------------------------------------------

@pytest.fixture(scope="module")
def train_photos(photo_dir, tmp_path_factory):
    """8 real photos in a folder, the training and validation set of the quick runs."""
    return copy_photos(photo_dir, tmp_path_factory.mktemp("train_photos") / "photos", 8)


def _data_opts(folder):
    return ["DATASETS.TRAIN", f"('{folder}',)", "DATASETS.TEST", f"('{folder}',)", "SOLVER.IMS_PER_BATCH", "4"]


@pytest.fixture(scope="module")
def color_prior_file(train_photos, tmp_path_factory):
    path = tmp_path_factory.mktemp("prior") / "prior.npz"
    config = os.path.join(QUICK, "basic_classification_quick.yaml")
    assert compute_color_prior_tool.main(["--config-file", config, "--output", str(path),
                                          *_data_opts(train_photos)]) == 0
    return path


QUICK_RUNS = ("basic_classification_quick", "larger_net_quick", "siggraph17_quick")


@pytest.fixture(scope="module")
def quick_runs(train_photos, color_prior_file, tmp_path_factory):
    """name -> run folder of a one-epoch classification run of configs/quick/<name>.yaml through tools/train.py
    on the 8 photos (the basic one with MODEL.COLOR_PRIOR), the three one after the other in one Python process."""
    root = tmp_path_factory.mktemp("quick_runs")
    cases = {}
    for name in QUICK_RUNS:
        opts = [*_data_opts(train_photos), "MODEL.HEAD", "classification",
                "OUTPUT_DIR", root / name / "out", "PREDICTIONS_DIR", root / name / "predictions"]
        if name == "basic_classification_quick":
            opts += ["MODEL.COLOR_PRIOR", color_prior_file]
        cases[name] = [os.path.join(REPO, "tools", "train.py"), "--config-file", os.path.join(QUICK, f"{name}.yaml"),
                       *opts]
    for name, result in run_tools_in_one_process(cases, root).items():
        assert result["returncode"] == 0, f"{name}: {result['stderr'][-3000:]}"
    return {name: root / name / "out" for name in QUICK_RUNS}


@pytest.mark.parametrize("name", QUICK_RUNS)
@pytest.mark.slow
def test_quick_classification_run_and_inference(name, quick_runs, photo_path, tmp_path, capsys):
    out = quick_runs[name]
    state = torch.load(out / "model_final.pth", weights_only=True)["model"]
    assert {"head.bins", "head.class_weights"} <= set(state)
    weights = state["head.class_weights"]
    assert weights.shape == (len(state["head.bins"]),)
    assert weights.max() > 1.5 * weights.min()  # rebalanced from the data's prior, not left at 1
    if name == "siggraph17_quick":
        assert len(state["head.bins"]) == 529
    dst = tmp_path / "colorized.png"
    assert inference_tool.main(["--img_path", photo_path, "--model_to_load", str(out / "model_final.pth"),
                                "--temperature", "0.2", "--output", str(dst), "--device", "cpu"]) == 0
    assert str(dst) in capsys.readouterr().out
    assert _image_size(dst) == _image_size(photo_path)


@pytest.mark.slow
def test_color_prior_file_is_used_and_checked(quick_runs, color_prior_file):
    out = quick_runs["basic_classification_quick"]
    bins, prior = load_color_prior(color_prior_file)
    assert len(bins) == len(ab_gamut_bins()) and abs(prior.sum().item() - 1.0) < 1e-4
    assert f"from {color_prior_file}" in (out / "log.txt").read_text()
    state = torch.load(out / "model_final.pth", weights_only=True)["model"]
    torch.testing.assert_close(state["head.bins"], bins)
    torch.testing.assert_close(state["head.class_weights"], rebalancing_weights(prior, bins))

    # siggraph17 classifies over its own 529-cell grid: a prior over other bins is refused, naming the file.
    cfg = load_cfg(SIGGRAPH17, ["MODEL.HEAD", "classification", "MODEL.COLOR_PRIOR", str(color_prior_file)])
    with pytest.raises(UserError, match="prior.npz"):
        prepare_color_prior(build_model(cfg), cfg, dataset=None)


@pytest.mark.slow
@pytest.mark.parametrize("mix", [0.25, 1.0])
def test_rebalance_mix_sets_the_class_weights(color_prior_file, mix):
    bins, prior = load_color_prior(color_prior_file)
    cfg = load_cfg(os.path.join(QUICK, "basic_classification_quick.yaml"),
                   ["MODEL.COLOR_PRIOR", str(color_prior_file), "LOSS.REBALANCE_MIX", str(mix)])
    model = build_model(cfg)
    prepare_color_prior(model, cfg, dataset=None)
    expected = torch.ones(len(bins)) if mix == 1.0 else rebalancing_weights(prior, bins, lam=mix)
    torch.testing.assert_close(model.head.class_weights, expected)
    if mix < 1.0:  # rarer colors weigh more the lower the mix
        assert model.head.class_weights.max() > rebalancing_weights(prior, bins, lam=0.5).max()


# --- 6. memory at 12 megapixels -------------------------------------------------------------------------------

_PEAK_RSS_WRAPPER = """\
import resource, runpy, sys
rc = runpy.run_path("tools/inference.py")["main"](sys.argv[1:])
print("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(rc)
"""


@pytest.mark.slow
def test_12_megapixel_photo_stays_under_3_gb(eccv16_official, photo_path, tmp_path):
    path, _ = eccv16_official
    big = tmp_path / "big.jpg"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(photo_path), (4000, 3000), interpolation=cv2.INTER_CUBIC))
    dst = tmp_path / "big_colorized.png"
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_WRAPPER, "--img_path", str(big), "--model_to_load", str(path),
         "--config", LARGER_NET, "--output", str(dst), "--device", "cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TORCH_HOME=str(tmp_path / "torch_home")))
    assert result.returncode == 0, result.stderr
    peak_kb = int(result.stdout.split("peak_rss_kb")[1].split()[0])  # Linux reports KiB
    print(f"peak RSS colorizing 4000x3000 with eccv16: {peak_kb / 1024:.0f} MiB")
    assert peak_kb * 1024 < PEAK_RSS_LIMIT_BYTES
    assert _image_size(dst) == (3000, 4000)


# --- 7. --saturation, --brightness, --temperature ---------------------------------------------------------------

@pytest.mark.parametrize("option,value", [("saturation", "3.5"), ("saturation", "-0.5"),
                                          ("brightness", "0.1"), ("brightness", "2.5")])
def test_out_of_range_options_exit_2(option, value, eccv16_official, photo_path, tmp_path, capsys):
    path, _ = eccv16_official
    rc = inference_tool.main(["--img_path", photo_path, "--model_to_load", str(path), "--config",
                              LARGER_NET_PRETRAINED, f"--{option}", value, "--output", str(tmp_path / "o.png")])
    assert rc == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and f"--{option}" in lines[0], lines
    assert not (tmp_path / "o.png").exists()


def _colorize(model_path, photo_path, dst, *options):
    assert inference_tool.main(["--img_path", photo_path, "--model_to_load", str(model_path), "--output",
                                str(dst), "--device", "cpu", *options]) == 0
    return cv2.imread(str(dst)).astype(np.int32)


@pytest.mark.slow
def test_saturation_and_brightness(quick_runs, photo_path, tmp_path):
    out = quick_runs["basic_classification_quick"]
    model = out / "model_final.pth"
    plain = _colorize(model, photo_path, tmp_path / "plain.png", "--temperature", "0.1")
    gray = _colorize(model, photo_path, tmp_path / "gray.png", "--temperature", "0.1", "--saturation", "0")
    bright = _colorize(model, photo_path, tmp_path / "bright.png", "--temperature", "0.1", "--brightness", "1.5")

    def spread(img):
        return img.max(axis=2) - img.min(axis=2)

    def mean_lightness(img):
        return cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2LAB)[..., 0].mean()

    assert spread(plain).max() > 10  # the model does color the photo ...
    assert spread(gray).max() <= 2  # ... and saturation 0 takes all of it away
    assert mean_lightness(bright) > mean_lightness(plain) + 5


def test_temperature_is_refused_for_a_regression_model(siggraph17_official, photo_path, tmp_path, capsys):
    rc = inference_tool.main(["--img_path", photo_path, "--model_to_load", str(siggraph17_official),
                              "--config", SIGGRAPH17, "--temperature", "0.5", "--output", str(tmp_path / "o.png"),
                              "--device", "cpu"])
    assert rc == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "--temperature" in lines[0] and "classification" in lines[0], lines
    assert not (tmp_path / "o.png").exists()
