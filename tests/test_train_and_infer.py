"""End to end, as a user runs it: tools/train.py on a quick config, --resume, then tools/inference.py."""
import json
import os
import shutil

import cv2
import pytest
import torch

from conftest import REPO, run_tool, run_tools_in_one_process

QUICK = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")


def _data(photo_dir):
    """The 12 photos of photo_dir for training and validation: the tool runs as on the sample set, in seconds."""
    return ["DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, photo_dir):
    root = tmp_path_factory.mktemp("run")
    out, preds = root / "out", root / "preds"
    result = run_tool("train.py", "--config-file", QUICK, "OUTPUT_DIR", out, "PREDICTIONS_DIR", preds,
                      *_data(photo_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, preds, result


def test_two_epochs_write_checkpoints_metrics_and_triplets(trained_run):
    out, preds, _ = trained_run
    assert (out / "model_epoch_0001.pth").is_file() and (out / "model_final.pth").is_file()
    assert (out / "last_checkpoint").read_text().strip() == "model_final.pth"
    assert "COLOR_SPACE: LAB" in (out / "config.yaml").read_text()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for key in ("train_loss", "val_l1", "val_l2", "val_l1_ab", "val_l2_ab", "val_psnr", "val_baseline_psnr",
                "val_baseline_l1", "images_per_s"):
        assert key in records[-1], key
    triplets = sorted((preds / "out" / "epoch_2").glob("*.png"))
    assert len(triplets) == 3 + 1  # 3 triplets and the grid
    strip = cv2.imread(str([t for t in triplets if t.name != "grid.png"][0]))
    assert strip.shape[0] == 64 and strip.shape[1] == 3 * 64 + 2 * 4  # gray | target | prediction
    assert "log.txt" in os.listdir(out)


def test_checkpoint_carries_what_rebuilds_the_model(trained_run):
    out, _, _ = trained_run
    ckpt = torch.load(out / "model_final.pth", weights_only=True)
    assert ckpt["epoch"] == 2 and "ARCH: basic" in ckpt["cfg"]
    assert ckpt["color"]["color_space"] == "LAB" and ckpt["color"]["ab_scale"] == 110.0
    assert {"model", "optimizer", "scheduler"} <= set(ckpt)


@pytest.fixture(scope="module")
def follow_ups(trained_run, photo_dir, photo_path, tmp_path_factory):
    """What a user does next with the trained run, the tools one after the other in one Python process: --resume of
    a copy whose last checkpoint is epoch 1, a rerun of a copy without --resume, inference on a photo and on a
    folder. name -> (result, its folder)."""
    out, _, _ = trained_run
    root = tmp_path_factory.mktemp("follow_ups")
    shutil.copytree(out, root / "resumed")
    (root / "resumed" / "last_checkpoint").write_text("model_epoch_0001.pth")
    shutil.copytree(out, root / "fresh")
    train, inference = (os.path.join(REPO, "tools", f"{t}.py") for t in ("train", "inference"))
    cases = {
        "resumed": [train, "--config-file", QUICK, "--resume", "OUTPUT_DIR", root / "resumed", "PREDICTIONS_DIR",
                    root / "p", *_data(photo_dir)],
        "fresh": [train, "--config-file", QUICK, "OUTPUT_DIR", root / "fresh", "PREDICTIONS_DIR", root / "p",
                  "SOLVER.MAX_EPOCHS", "1", *_data(photo_dir)],
        "photo": [inference, "--img_path", photo_path, "--model_to_load", out / "model_final.pth", "--output",
                  root / "colorized.png"],
        "folder": [inference, "--img_path", photo_dir, "--model_to_load", out / "model_final.pth", "--output",
                   root / "colored"],
        "bad_key": [train, "--config-file", QUICK, "SOLVER.NOT_A_KEY", "1"],
    }
    results = run_tools_in_one_process(cases, root)
    return {name: (results[name], root) for name in cases}


def test_resume_starts_at_the_right_epoch(follow_ups):
    result, root = follow_ups["resumed"]
    assert result["returncode"] == 0, result["stderr"][-3000:]
    assert "resumed from" in result["stderr"] and "at epoch 2" in result["stderr"]
    records = [json.loads(line) for line in (root / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]  # epoch 2 redone once, not appended twice


def test_without_resume_a_run_starts_fresh(follow_ups):
    result, _ = follow_ups["fresh"]
    assert result["returncode"] == 0, result["stderr"][-3000:]
    assert "resumed" not in result["stderr"]
    assert "epoch 1/1" in result["stderr"] or "epoch 1:" in result["stderr"]


def test_inference_keeps_the_photo_size(follow_ups, photo_path):
    result, root = follow_ups["photo"]
    dst = root / "colorized.png"
    assert result["returncode"] == 0, result["stderr"]
    assert str(dst) in result["stdout"]
    src_img, out_img = cv2.imread(photo_path), cv2.imread(str(dst))
    assert out_img.shape == src_img.shape
    # Full resolution: the output's lightness is the photo's own.
    l_in = cv2.cvtColor(src_img, cv2.COLOR_BGR2LAB)[..., 0].astype(int)
    l_out = cv2.cvtColor(out_img, cv2.COLOR_BGR2LAB)[..., 0].astype(int)
    assert abs(l_in - l_out).mean() < 2.0


def test_inference_on_a_folder(follow_ups, photo_dir):
    result, root = follow_ups["folder"]
    assert result["returncode"] == 0, result["stderr"]
    assert len(list((root / "colored").glob("*_colorized.png"))) == len(list(photo_dir.iterdir()))


# The inference error cases (missing image or checkpoint, unreadable image, corrupt checkpoint, another model's
# config) are in the bad-input matrix, tests/test_bad_inputs.py.


def test_config_errors_exit_2_naming_the_key(follow_ups):
    result, _ = follow_ups["bad_key"]
    assert result["returncode"] == 2 and "SOLVER.NOT_A_KEY" in result["stderr"]
    assert "Traceback" not in result["stderr"]


def test_colorizer_runs_the_network_under_the_configured_autocast(trained_run, photo_path):
    """SOLVER.AMP bf16 (here on CPU): the convolutions run in bfloat16, the output stays close to float32's."""
    from colorization.data.image_io import read_image_file
    from colorization.engine.colorizer import Colorizer

    out, _, _ = trained_run
    photo = read_image_file(photo_path)
    results = {}
    for amp in ("none", "bf16"):
        colorizer = Colorizer.from_checkpoint(str(out / "model_final.pth"), device="cpu")
        colorizer.cfg.defrost()
        colorizer.cfg.SOLVER.AMP = amp
        colorizer = Colorizer(colorizer.model, colorizer.cfg, colorizer.device)
        dtypes = []
        conv = next(m for m in colorizer.model.modules() if isinstance(m, torch.nn.Conv2d))
        hook = conv.register_forward_hook(lambda module, args, output: dtypes.append(output.dtype))
        results[amp] = colorizer.colorize(photo).astype(int)
        hook.remove()
        assert dtypes == [torch.bfloat16 if amp == "bf16" else torch.float32]
        assert results[amp].shape == photo.shape
    assert abs(results["bf16"] - results["none"]).mean() < 2.0  # same picture, within bf16's rounding
