"""User hints: the simulated hints of training and evaluation, the encoding a hint model (and the official siggraph17
weights) takes, hint files from the user, and training with hints."""
import json

import cv2
import numpy as np
import pytest
import torch

from colorization.config import load_cfg
from colorization.data import color
from colorization.data.hint_files import hints_from_json, read_hint_image, read_hints_file
from colorization.data.hints import HintSampling, geometric_count, sample_hints, user_hint_channels
from colorization.engine.evaluator import evaluation_hints
from colorization.errors import UserError
from colorization.modeling import build_model
from colorization.modeling.zhang import SIGGRAPH17Net


def _colorful_target(size=64, seed=0):
    """ab / 110 of a smooth random color field (every patch has chroma)."""
    rng = np.random.default_rng(seed)
    field = cv2.resize(rng.uniform(-0.6, 0.6, (4, 4, 2)).astype(np.float32), (size, size))
    return np.ascontiguousarray(field.transpose(2, 0, 1))


def test_geometric_count_has_the_paper_statistics():
    rng = np.random.default_rng(0)
    counts = np.array([geometric_count(rng, 0.125) for _ in range(20000)])
    assert abs(counts.mean() - 7.0) < 0.2  # (1 - p) / p
    assert abs((counts == 0).mean() - 0.125) < 0.01  # about 1 item in 8 gets no hint


def test_sampled_patches_sizes_positions_and_values():
    target = _colorful_target()
    rng = np.random.default_rng(1)
    sides, centres = [], []
    for _ in range(300):
        hint_ab, mask, points = sample_hints(target, rng, HintSampling(stop_prob=0.125, max_patch=9))
        for top, left, side in points:
            assert 0 <= top and top + side <= 64 and 0 <= left and left + side <= 64
            sides.append(side)
            centres.append((top + side / 2, left + side / 2))
        # every hinted pixel holds the mean ab of the ground truth over one of the patches covering it
        if points:
            top, left, side = points[-1]  # the last patch is not overwritten by a later one
            expected = target[:, top:top + side, left:left + side].reshape(2, -1).mean(axis=1)
            np.testing.assert_allclose(hint_ab[:, top, left], expected, rtol=1e-5)
            assert mask[0, top:top + side, left:left + side].all()
        assert ((mask[0] > 0) == (np.abs(hint_ab).sum(axis=0) > 0)).all()
    assert set(sides) == set(range(1, 10))  # uniform in 1..9
    counts = np.bincount(sides)[1:]
    assert counts.min() > 0.6 * counts.mean()
    centres = np.array(centres)
    assert abs(centres.mean() - 32) < 2  # Gaussian around the centre
    assert centres.std() < 64 / np.sqrt(12)  # tighter than uniform


def test_gray_patches_are_skipped():
    gray = np.zeros((2, 32, 32), np.float32)
    hint_ab, mask, points = sample_hints(gray, np.random.default_rng(0), num_points=10)
    assert points == [] and not mask.any()


def test_training_items_draw_hints_as_a_pure_function_of_seed_epoch_index(photo_dir):
    from colorization.data.build import build_dataset
    cfg = load_cfg(None, ["MODEL.HINTS", "True", "INPUT.SIZE", "64", "DATASETS.TRAIN", f"('{photo_dir}',)"])
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
    a, b, c = dataset[(3, 1)], dataset[(3, 1)], dataset[(4, 1)]
    assert a["input"].shape == (4, 64, 64)
    assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], b["target"])
    assert not torch.equal(a["input"], c["input"])
    masks = [dataset[(e, i)]["input"][3] for e in range(4) for i in range(len(dataset))]
    assert any(m.sum() == 0 for m in masks) and any(m.sum() > 0 for m in masks)
    assert build_dataset(cfg, cfg.DATASETS.TRAIN, train=False)[0]["input"].shape == (1, 64, 64)


def test_evaluation_hints_are_fixed_per_image_and_nested():
    targets = torch.from_numpy(np.stack([_colorful_target(seed=s) for s in range(3)]))
    names = ["a.jpg", "b.jpg", "c.jpg"]
    five, points5 = evaluation_hints(targets, names, 5)
    again, _ = evaluation_hints(targets, names, 5)
    ten, points10 = evaluation_hints(targets, names, 10)
    assert torch.equal(five, again)
    assert all(p10[:5] == p5 for p5, p10 in zip(points5, points10))  # 5 hints are the first of 10
    assert [len(p) for p in points5] == [5, 5, 5]


def test_hint_input_is_the_official_siggraph17_convention():
    """Channels after L: ab / 110 where a hint is (0 elsewhere) and a 0/1 mask, as the official forward(L, ab, mask)
    takes them; a user's point maps by the photo's resize and keeps only its color's ab."""
    hints = hints_from_json({"points": [{"x": 100, "y": 50, "color": "#3a7bd5"}], "size": 3}, 200, 100)
    hint_ab, mask, points = user_hint_channels(hints, 200, 100, 64)
    (top, left, side), = points
    assert side == 3 and abs(left + 1.5 - 100.5 * 64 / 200) <= 0.5 and abs(top + 1.5 - 50.5 * 64 / 100) <= 0.5
    lab = cv2.cvtColor(np.array([[[0x3a, 0x7b, 0xd5]]], np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0, 0]
    np.testing.assert_allclose(hint_ab[:, top + 1, left + 1], lab[1:] / 110.0, rtol=1e-5)
    assert mask.sum() == 9 and mask[0, top:top + 3, left:left + 3].all()
    assert not hint_ab[:, mask[0] == 0].any()
    torch.manual_seed(0)
    net = SIGGRAPH17Net().eval()
    x = torch.rand(1, 1, 64, 64) - 0.5
    ab, m = torch.from_numpy(hint_ab)[None], torch.from_numpy(mask)[None]
    with torch.no_grad():
        torch.testing.assert_close(net(torch.cat([x, ab, m], 1)), net(x, ab, m))


def test_models_that_take_hints():
    assert build_model(load_cfg(None, ["MODEL.HINTS", "True"])).in_channels == 4
    assert build_model(load_cfg(None, ["MODEL.ARCH", "siggraph17"])).in_channels == 4  # always
    assert build_model(load_cfg(None)).in_channels == 1
    with pytest.raises(UserError, match="MODEL.HINTS is True, but MODEL.ARCH 'eccv16' cannot take hints"):
        load_cfg(None, ["MODEL.ARCH", "eccv16", "MODEL.HINTS", "True"])
    with pytest.raises(UserError, match="MODEL.HINTS.*INPUT.COLOR_SPACE 'LAB'"):
        load_cfg(None, ["MODEL.HINTS", "True", "INPUT.COLOR_SPACE", "RGB"])


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "must hold an object"),
    ('{"points": [], "colour": 1}', "unknown key 'colour'"),
    ('{"points": {}}', "points must be a list"),
    ('{"points": [{"x": 1, "y": 2}]}', r"points\[0\] is \['x', 'y'\]; each point holds exactly"),
    ('{"points": [{"x": 1, "y": 2, "color": "#12345", "z": 0}]}', r"points\[0\]"),
    ('{"points": [{"x": "1", "y": 2, "color": "#123456"}]}', r"points\[0\]\.x is '1'; expected a number"),
    ('{"points": [{"x": 640, "y": 2, "color": "#123456"}]}', r"points\[0\] \(640, 2\) is outside the photo"),
    ('{"points": [{"x": 1, "y": -1, "color": "#123456"}]}', r"points\[0\] \(1, -1\) is outside the photo"),
    ('{"points": [{"x": 1, "y": 2, "color": "blue"}]}', r"points\[0\]\.color is 'blue'; a color is written"),
    ('{"points": [], "size": 0}', "size is 0; expected a whole number"),
    ('{"points": [], "size": 2.5}', "size is 2.5"),
    ('{"points": [', "is not valid JSON"),
])
def test_bad_hint_files_name_the_field(tmp_path, content, message):
    path = tmp_path / "hints.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        read_hints_file(str(path), 640, 480)


def test_hint_file_reads_points_and_short_colors(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text(json.dumps({"points": [{"x": 10, "y": 20.5, "color": "#f00"}]}))
    hints = read_hints_file(str(path), 64, 64)
    assert hints.points == [(10.0, 20.5, (1.0, 0.0, 0.0))] and hints.size == 3


def test_scribbles_with_alpha_and_with_a_background(tmp_path):
    layer = np.zeros((48, 64, 4), np.uint8)
    layer[10:14, 20:40] = (0, 0, 255, 255)  # a red stroke (BGRA)
    cv2.imwrite(str(tmp_path / "layer.png"), layer)
    hints = read_hint_image(str(tmp_path / "layer.png"), 64, 48)
    assert hints.scribble_mask.sum() == 4 * 20
    np.testing.assert_allclose(hints.scribble_rgb[12, 30], (1.0, 0.0, 0.0))
    hint_ab, mask, _ = user_hint_channels(hints, 64, 48, 32)
    red_ab = color.rgb_to_lab(np.array([[[1.0, 0.0, 0.0]]], np.float32))[0, 0, 1:] / 110.0
    assert mask.sum() > 0
    expected = np.broadcast_to(red_ab, (int(mask.sum()), 2))
    np.testing.assert_allclose(hint_ab[:, mask[0] > 0].T, expected, rtol=1e-4)

    painted = np.full((48, 64, 3), 255, np.uint8)
    painted[30:33, 5:9] = (255, 0, 0)  # blue (BGR) on white, no alpha
    cv2.imwrite(str(tmp_path / "painted.png"), painted)
    assert read_hint_image(str(tmp_path / "painted.png"), 64, 48).scribble_mask.sum() == 12
    cv2.imwrite(str(tmp_path / "white.png"), np.full((48, 64, 3), 255, np.uint8))
    with pytest.raises(UserError, match="holds no hints"):
        read_hint_image(str(tmp_path / "white.png"), 64, 48)
    # another background: every pixel unlike it is a hint
    assert read_hint_image(str(tmp_path / "white.png"), 64, 48, background="#000000").scribble_mask.all()
    with pytest.raises(UserError, match="must have the photo's size, 65x48"):
        read_hint_image(str(tmp_path / "painted.png"), 65, 48)
    (tmp_path / "not.png").write_bytes(b"nope")
    with pytest.raises(UserError, match="cannot read hint image"):
        read_hint_image(str(tmp_path / "not.png"), 64, 48)


def _quick_hint_cfg(photo_dir, out):
    from conftest import REPO
    import os
    return load_cfg(os.path.join(REPO, "configs", "quick", "basic_hints_quick.yaml"),
                    ["OUTPUT_DIR", str(out), "PREDICTIONS_DIR", str(out / "preds"),
                     "DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)",
                     "SOLVER.IMS_PER_BATCH", "4"])


def test_hint_training_resumes_bit_identically(tmp_path, photo_dir):
    from colorization.engine.trainer import Trainer
    with Trainer(_quick_hint_cfg(photo_dir, tmp_path / "whole")) as whole:
        whole.train()
    with Trainer(_quick_hint_cfg(photo_dir, tmp_path / "split")) as first:
        assert first.train_epoch()
        first.epoch += 1
        first._end_of_epoch()  # validation, metrics and the epoch-1 checkpoint, as the loop does
    with Trainer(_quick_hint_cfg(photo_dir, tmp_path / "split"), resume=True) as second:
        assert second.epoch == 1
        second.train()
    a = torch.load(tmp_path / "whole" / "model_final.pth", weights_only=True)["model"]
    b = torch.load(tmp_path / "split" / "model_final.pth", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    metrics = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert {"val_psnr", "val_hints1_psnr", "val_hints5_psnr", "val_baseline_psnr"} <= set(metrics[-1])
    grid = cv2.imread(str(tmp_path / "whole" / "preds" / "whole" / "epoch_2" / "grid.png"))
    assert grid.shape[1] == 4 * 64 + 3 * 4  # gray | target | prediction | with hints


def test_distribution_modes_are_the_peaks_by_mass():
    from colorization.engine.colorizer import distribution_modes
    from colorization.modeling.color_bins import ab_gamut_bins
    bins = ab_gamut_bins()
    distance_to = lambda a, b: ((bins - torch.tensor([a, b])) ** 2).sum(dim=1)  # noqa: E731
    probs = 0.7 * torch.softmax(-distance_to(-20, 40) / 50, 0) + 0.3 * torch.softmax(-distance_to(40, 10) / 50, 0)
    modes = distribution_modes(probs, bins, top=4)
    assert len(modes) == 2  # the flat tail far from both peaks holds "maxima" of no mass: not suggestions
    assert modes[0]["ab"] == [-20.0, 40.0] and modes[1]["ab"] == [40.0, 10.0]
    assert modes[0]["probability"] > modes[1]["probability"] > 0.1
    assert sum(m["probability"] for m in modes[:2]) <= 1.0 + 1e-6


def test_suggested_colors_of_a_classification_hint_model(photo_path):
    from colorization.data.image_io import read_image_file
    from colorization.engine.colorizer import Colorizer
    cfg = load_cfg(None, ["MODEL.HINTS", "True", "MODEL.HEAD", "classification", "INPUT.SIZE", "64",
                          "MODEL.BASIC_WIDTH", "8"])
    torch.manual_seed(0)
    colorizer = Colorizer(build_model(cfg), cfg, torch.device("cpu"))
    rgb = read_image_file(photo_path)
    modes = colorizer.suggest_colors(rgb, 10, 20, top=3)
    assert 1 <= len(modes) <= 3
    assert all(m["hex"].startswith("#") and len(m["hex"]) == 7 for m in modes)
    assert [m["probability"] for m in modes] == sorted((m["probability"] for m in modes), reverse=True)
    with pytest.raises(UserError, match="outside the photo"):
        colorizer.suggest_colors(rgb, rgb.shape[1], 0)
    hint_cfg = load_cfg(None, ["MODEL.HINTS", "True"])
    regression = Colorizer(build_model(hint_cfg), hint_cfg, torch.device("cpu"))
    with pytest.raises(UserError, match="MODEL.HEAD classification"):
        regression.suggest_colors(rgb, 1, 1)
