"""colorization-export to .pth: a slim checkpoint, and with --half its weights stored in float16."""
import os

import cv2
import numpy as np
import torch

from colorization.cli import export_model
from colorization.engine.colorizer import Colorizer

from conftest import REPO

BASIC_LAB = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")


def test_half_halves_the_file_and_colorizes_as_the_float_model(photo_path, tmp_path):
    full, half = tmp_path / "full.pth", tmp_path / "half.pth"
    assert export_model.main(["--checkpoint", BASIC_LAB, "--output", str(full)]) == 0
    assert export_model.main(["--checkpoint", BASIC_LAB, "--output", str(half), "--half"]) == 0
    assert os.path.getsize(half) < 0.6 * os.path.getsize(full)
    stored = torch.load(half, weights_only=True)["model"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert any(not v.is_floating_point() for v in stored.values())  # BatchNorm's counters stay integers
    photo = cv2.cvtColor(cv2.imread(photo_path), cv2.COLOR_BGR2RGB)
    colorizers = [Colorizer.from_checkpoint(str(p), device="cpu") for p in (full, half)]
    assert next(colorizers[1].model.parameters()).dtype == torch.float32  # loaded back into the float32 network
    a, b = (c.colorize(photo).astype(np.int16) for c in colorizers)
    assert not np.array_equal(a, b)  # really the rounded weights
    assert np.abs(a - b).max() <= 3 and np.abs(a - b).mean() < 0.2


def test_half_refuses_a_value_float16_cannot_hold(tmp_path, capsys):
    ckpt = torch.load(BASIC_LAB, weights_only=True)
    key = next(k for k, v in ckpt["model"].items() if v.is_floating_point())
    ckpt["model"][key] = ckpt["model"][key].clone().fill_(1e6)
    source, out = tmp_path / "large.pth", tmp_path / "half.pth"
    torch.save(ckpt, source)
    assert export_model.main(["--checkpoint", str(source), "--output", str(out), "--half"]) == 2
    err = capsys.readouterr().err
    assert "--half" in err and key in err and "float16" in err and not out.exists()


def test_half_is_for_pth_files(tmp_path, capsys):
    assert export_model.main(["--checkpoint", BASIC_LAB, "--output", str(tmp_path / "model.onnx"), "--half"]) == 2
    assert "--half applies to --format pth" in capsys.readouterr().err
