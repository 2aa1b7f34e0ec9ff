"""DDColor through every tool, as a user runs them: published-layout weights with their config made into one file
(colorization-export), colorize on a file and a folder, colorization-evaluate, colorization-video, the ONNX export
run by onnxruntime, the web server's model list, and a file of another network refused in one error line."""
import json
import os

import cv2
import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from conftest import REPO, copy_photos, run_tools_in_one_process
from test_ddcolor import published_file, quick_config

CLI = {name: os.path.join(REPO, "tools", f"{name}.py")
       for name in ("inference", "evaluate", "colorize_video", "export_model")}


@pytest.fixture(scope="module")
def runs(photo_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("ddcolor_tools")
    weights, _ = published_file(root)
    config = quick_config(root)
    frames = root / "frames"
    frames.mkdir()
    for i, p in enumerate(sorted(photo_dir.iterdir())[:3]):
        cv2.imwrite(str(frames / f"frame_{i:03d}.png"), cv2.resize(cv2.imread(str(p)), (96, 64)))
    photos = copy_photos(photo_dir, root / "photos", 3)
    other = root / "other.pth"
    torch.save({"model1.0.weight": torch.zeros(64, 1, 3, 3)}, other)
    one = root / "ddcolor_quick.pth"
    cases = {
        "export": [CLI["export_model"], "--checkpoint", weights, "--config-file", config, "--output", one],
        "colorize_file": [CLI["inference"], "--img_path", sorted(photos.iterdir())[0], "--model_to_load", weights,
                          "--config", config, "--device", "cpu", "--output", root / "one.png"],
        "colorize_folder": [CLI["inference"], "--img_path", photos, "--model_to_load", one, "--device", "cpu",
                            "--output", root / "colorized"],
        "evaluate": [CLI["evaluate"], "--model_to_load", one, "--dataset", photos, "--num_images", "1",
                     "--device", "cpu", "--output", root / "evaluated"],
        "video": [CLI["colorize_video"], "--video", frames, "--model_to_load", one, "--device", "cpu",
                  "--output", root / "video_frames"],
        "export_onnx": [CLI["export_model"], "--format", "onnx", "--checkpoint", one, "--output", root / "q.onnx"],
        "colorize_onnx": [CLI["inference"], "--img_path", photos, "--model_to_load", root / "q.onnx",
                          "--output", root / "colorized_onnx"],
        "another_network": [CLI["inference"], "--img_path", photos, "--model_to_load", other, "--config", config,
                            "--device", "cpu", "--output", root / "never"],
    }
    return root, run_tools_in_one_process(cases, root)


def test_export_colorize_evaluate_and_video(runs, photo_dir):
    root, results = runs
    for name in ("export", "colorize_file", "colorize_folder", "evaluate", "video"):
        assert results[name]["returncode"] == 0, (name, results[name]["stderr"][-2000:])
    first = sorted(photo_dir.iterdir())[0]
    assert cv2.imread(str(root / "one.png")).shape == cv2.imread(str(first)).shape
    assert len(os.listdir(root / "colorized")) == 3
    (model,) = json.loads((root / "evaluated" / "metrics.json").read_text())["models"]
    assert model["name"] == "ddcolor_quick" and model["num_images"] == 3 and model["metrics"]["psnr"] > 10
    assert len(os.listdir(root / "video_frames")) == 3
    # The exported file colorizes exactly as the published-layout file with its config.
    colorized = cv2.imread(str(root / "colorized" / (os.path.splitext(first.name)[0] + "_colorized.png")))
    assert colorized is not None and np.array_equal(colorized, cv2.imread(str(root / "one.png")))


def test_a_file_of_another_network_is_one_error_line(runs):
    _, results = runs
    r = results["another_network"]
    assert r["returncode"] == 2
    lines = r["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "does not fit this model" in lines[0]
    assert "missing keys: mean, std" in lines[0] and "unexpected keys: model1.0.weight" in lines[0]


def test_the_server_lists_it_as_a_model_without_hints(runs):
    from colorization.serve.models import load_models

    root, _ = runs
    (name, served), = load_models([str(root / "ddcolor_quick.pth")], device="cpu").items()
    info = served.info()
    assert name == "ddcolor_quick" and info["arch"] == "ddcolor" and info["takes_hints"] is False


def test_onnx_export_colorizes_as_pytorch(runs, photo_dir):
    root, results = runs
    for name in ("export_onnx", "colorize_onnx"):
        assert results[name]["returncode"] == 0, (name, results[name]["stderr"][-2000:])
    assert results["export_onnx"]["stderr"] == ""  # the exporter's and its optimizer's logs say nothing to a user
    for photo in sorted(photo_dir.iterdir())[:3]:
        name = os.path.splitext(photo.name)[0] + "_colorized.png"
        torch_out = cv2.imread(str(root / "colorized" / name)).astype(int)
        onnx_out = cv2.imread(str(root / "colorized_onnx" / name)).astype(int)
        assert np.abs(torch_out - onnx_out).mean() < 1.0  # within 1 level on average
    # One graph for any batch (no batch fixed at export), sides declared as the multiples of 32 the network needs.
    graph = onnx.load(str(root / "q.onnx")).graph
    batch, channels, height, width = (d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim)
    assert batch == "batch" and channels == 1 and height.startswith("32*") and width.startswith("32*")
    session = onnxruntime.InferenceSession(str(root / "q.onnx"), providers=["CPUExecutionProvider"])
    ab, = session.run(None, {graph.input[0].name: np.zeros((3, 1, 64, 96), np.float32)})
    assert ab.shape == (3, 2, 64, 96)
