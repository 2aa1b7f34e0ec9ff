"""A checkpoint records its format and color constants; loading checks both and refuses what this code would decode
wrongly, naming the file and the mismatch. Also: one door (load_model) for every kind of weights a user names."""
import os

import pytest
import torch

from colorization.checkpoint import CHECKPOINT_FORMAT, load_model
from colorization.errors import UserError

from conftest import REPO, run_tool

SHIPPED = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")


def _altered(tmp_path, name, change):
    ckpt = torch.load(SHIPPED, weights_only=True)
    change(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return str(path)


def test_shipped_checkpoint_records_format_and_colors():
    ckpt = torch.load(SHIPPED, weights_only=True)
    assert ckpt["format"] == CHECKPOINT_FORMAT
    assert ckpt["color"] == {"color_space": "LAB", "l_center": 50.0, "l_scale": 100.0, "ab_scale": 110.0}
    cfg, model = load_model(SHIPPED)
    assert cfg.MODEL.ARCH == "basic" and model.head.kind == "regression"


def test_other_color_constants_are_refused(tmp_path):
    path = _altered(tmp_path, "other_ab.pth", lambda c: c["color"].update(ab_scale=128.0))
    with pytest.raises(UserError, match=r"other_ab\.pth.*ab_scale 128\.0 \(this code: 110\.0\)"):
        load_model(path)


def test_a_newer_format_is_refused(tmp_path):
    path = _altered(tmp_path, "future.pth", lambda c: c.update(format=CHECKPOINT_FORMAT + 1))
    with pytest.raises(UserError, match=rf"future\.pth has checkpoint format {CHECKPOINT_FORMAT + 1}"):
        load_model(path)


def test_missing_color_constants_are_refused(tmp_path):
    path = _altered(tmp_path, "no_colors.pth", lambda c: c.pop("color"))
    with pytest.raises(UserError, match=r"no_colors\.pth records no color constants"):
        load_model(path)


def test_color_space_must_agree_with_the_stored_config(tmp_path):
    path = _altered(tmp_path, "rgb_label.pth", lambda c: c["color"].update(color_space="RGB"))
    with pytest.raises(UserError, match=r"rgb_label\.pth records color space 'RGB'.*'LAB'"):
        load_model(path)


def test_the_tools_refuse_it_in_one_line(tmp_path, photo_path):
    path = _altered(tmp_path, "other_ab.pth", lambda c: c["color"].update(ab_scale=100.0))
    result = run_tool("inference.py", "--img_path", photo_path, "--model_to_load", path,
                      "--output", str(tmp_path / "out.png"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "ab_scale" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_framework_state_dict_and_an_official_file_load_through_the_same_door(tmp_path):
    """A bare state dict in this framework's layout (net./head.) and the network's own layout give the same model."""
    cfg, model = load_model(SHIPPED)
    config = os.path.join(REPO, "configs", "base_config_LAB.yaml")
    torch.save(model.state_dict(), tmp_path / "framework_layout.pth")
    torch.save(model.net.state_dict(), tmp_path / "official_layout.pth")
    for name in ("framework_layout.pth", "official_layout.pth"):
        _, loaded = load_model(str(tmp_path / name), config)
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), (name, key)
    with pytest.raises(UserError, match="carries no config; give the matching one with --config"):
        load_model(str(tmp_path / "official_layout.pth"))


def test_resume_refuses_a_checkpoint_of_another_format(tmp_path, photo_dir):
    run = tmp_path / "run"
    run.mkdir()
    _altered(run, "model_epoch_0001.pth", lambda c: c.update(format=CHECKPOINT_FORMAT + 1))
    (run / "last_checkpoint").write_text("model_epoch_0001.pth")
    quick = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")
    result = run_tool("train.py", "--config-file", quick, "--resume", "OUTPUT_DIR", run,
                      "PREDICTIONS_DIR", tmp_path / "preds", "DATASETS.TRAIN", f"('{photo_dir}',)",
                      "DATASETS.TEST", f"('{photo_dir}',)", "MODEL.BASIC_WIDTH", "16")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"model_epoch_0001.pth has checkpoint format {CHECKPOINT_FORMAT + 1}" in result.stderr
    assert sorted(p.name for p in run.iterdir() if p.suffix == ".pth") == ["model_epoch_0001.pth"]
