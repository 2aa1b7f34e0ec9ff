"""Hints from the command line, as a user gives them: a JSON file of points and a scribble layer, on a real photo with
the shipped hint model and with official-layout siggraph17 weights; every mistake is one error line."""
import json
import os

import cv2
import numpy as np
import pytest
import torch

from colorization.data import color
from colorization.data.hint_files import hints_from_json
from colorization.data.hints import user_hint_channels
from colorization.engine.colorizer import Colorizer
from colorization.modeling.zhang import SIGGRAPH17Net

from conftest import REPO, run_tool, run_tools_in_one_process

INFERENCE = os.path.join(REPO, "tools", "inference.py")
HINT_MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB_hints.pth")
PLAIN_MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
BLUE, RED = "#2050ff", "#ff3020"


def _mean_ab(path, x, y, r=6):
    lab = cv2.cvtColor(cv2.imread(path).astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    return lab[y - r:y + r, x - r:x + r, 1:].reshape(-1, 2).mean(axis=0)


def _ab_of(hex_color):
    rgb = np.array([[[int(hex_color[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]]], np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0, 0, 1:]


@pytest.fixture(scope="module")
def runs(photo_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hint_cli")
    h, w = cv2.imread(photo_path).shape[:2]
    points = [(w // 3, h // 2, BLUE), (2 * w // 3, h // 3, RED)]
    (folder / "hints.json").write_text(json.dumps(
        {"points": [{"x": x, "y": y, "color": c} for x, y, c in points], "size": 5}))
    layer = np.zeros((h, w, 4), np.uint8)
    layer[h // 2 - 8:h // 2 + 8, w // 3 - 30:w // 3 + 30] = (255, 80, 32, 255)  # a blue stroke (BGRA)
    cv2.imwrite(str(folder / "scribble.png"), layer)
    cv2.imwrite(str(folder / "small_scribble.png"), layer[:-1])
    (folder / "outside.json").write_text(json.dumps({"points": [{"x": w, "y": 0, "color": BLUE}]}))
    cases = {
        "auto": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--output", folder / "auto.png"],
        "hints": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--hints", folder / "hints.json",
                  "--output", folder / "hints.png"],
        "scribble": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--hint_image",
                     folder / "scribble.png", "--output", folder / "scribble.png.out.png"],
        "outside": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--hints",
                    folder / "outside.json", "--output", folder / "x1.png"],
        "wrong_size": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--hint_image",
                       folder / "small_scribble.png", "--output", folder / "x2.png"],
        "no_hint_model": [INFERENCE, "--img_path", photo_path, "--model_to_load", PLAIN_MODEL, "--hints",
                          folder / "hints.json", "--output", folder / "x3.png"],
        "many_photos": [INFERENCE, "--img_path", os.path.dirname(photo_path), "--model_to_load", HINT_MODEL,
                        "--hints", folder / "hints.json", "--output", folder / "many"],
        "suggest_regression": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--suggest", "3,4"],
        "bad_point": [INFERENCE, "--img_path", photo_path, "--model_to_load", HINT_MODEL, "--suggest", "3"],
    }
    return folder, points, run_tools_in_one_process(cases, folder)


def test_hints_move_the_color_near_each_point_towards_its_color(runs):
    folder, points, results = runs
    for name in ("auto", "hints", "scribble"):
        assert results[name]["returncode"] == 0, results[name]["stderr"][-2000:]
    for x, y, hex_color in points:
        auto, hinted = _mean_ab(str(folder / "auto.png"), x, y), _mean_ab(str(folder / "hints.png"), x, y)
        target = _ab_of(hex_color)
        assert np.linalg.norm(hinted - target) < np.linalg.norm(auto - target) - 5, (hex_color, auto, hinted)
    x, y, _ = points[0]
    blue = _mean_ab(str(folder / "scribble.png.out.png"), x, y)
    assert blue[1] < _mean_ab(str(folder / "auto.png"), x, y)[1] - 15  # b towards blue under the stroke


@pytest.mark.parametrize("name, message", [
    ("outside", r"outside\.json: points\[0\] \(\d+, 0\) is outside the photo"),
    ("wrong_size", r"small_scribble\.png is \d+x\d+; it must have the photo's size"),
    ("no_hint_model", r"basic_LAB\.pth takes no hints"),
    ("many_photos", r"one photo's pixels; --img_path names \d+ images"),
    ("suggest_regression", r"suggested colors need a model with MODEL.HEAD classification"),
    ("bad_point", r"--suggest '3': give the pixel as X,Y"),
])
def test_hint_mistakes_are_one_error_line(runs, name, message):
    import re
    folder, _, results = runs
    result = results[name]
    assert result["returncode"] == 2, result["stderr"][-2000:]
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.search(message, lines[0]), lines
    assert not list(folder.glob("x*.png")) and not (folder / "many").exists()


def test_official_siggraph17_weights_take_hints_as_the_official_code(tmp_path, photo_path):
    """An official-layout siggraph17 file: colorize --hints gives what the reference forward(L, ab, mask) gives for
    the same hints: L normalised, ab / 110 on the hinted patch, mask 1 there."""
    torch.manual_seed(0)
    net = SIGGRAPH17Net().eval()
    torch.save(net.state_dict(), tmp_path / "siggraph17-official.pth")
    h, w = cv2.imread(photo_path).shape[:2]
    data = {"points": [{"x": w // 2, "y": h // 2, "color": BLUE}], "size": 4}
    (tmp_path / "hints.json").write_text(json.dumps(data))
    config = os.path.join(REPO, "configs", "siggraph17_pretrained.yaml")
    result = run_tool("inference.py", "--img_path", photo_path, "--model_to_load", tmp_path / "siggraph17-official.pth",
                      "--config", config, "--hints", tmp_path / "hints.json", "--output", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr[-2000:]

    rgb = cv2.cvtColor(cv2.imread(photo_path), cv2.COLOR_BGR2RGB)
    small = cv2.resize(color.to_unit(rgb), (256, 256), interpolation=cv2.INTER_AREA)
    lightness = torch.from_numpy(color.rgb_to_lab(small)[:, :, :1].transpose(2, 0, 1).copy())[None]
    hint_ab, mask, _ = user_hint_channels(hints_from_json(data, w, h), w, h, 256)
    with torch.no_grad():
        reference = net((lightness - 50) / 100, torch.from_numpy(hint_ab)[None], torch.from_numpy(mask)[None])
    colorizer = Colorizer.from_checkpoint(str(tmp_path / "siggraph17-official.pth"), config, "cpu")
    x, _ = colorizer.network_input(color.to_unit(rgb), hints_from_json(data, w, h))
    with torch.no_grad():
        torch.testing.assert_close(colorizer.model(x), reference, atol=1e-5, rtol=0)
    out = cv2.cvtColor(cv2.imread(str(tmp_path / "out.png")), cv2.COLOR_BGR2RGB)
    expected = colorizer.colorize(rgb, hints=hints_from_json(data, w, h))
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
