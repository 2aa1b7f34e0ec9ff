"""Training DDColor with its recipe on CPU (configs/quick/ddcolor_quick.yaml: every term, both networks updated,
VGG16-BN served from loopback), resuming bit for bit after a stop in the adversarial phase, and the hint variant."""
import json
import os
import subprocess
import sys

import pytest
import torch

from colorization.checkpoint import load_checkpoint
from colorization.config import cfg_from_yaml_string, load_cfg
from colorization.engine.hooks import default_hooks
from colorization.engine.trainer import Trainer
from conftest import REPO, copy_photos
from test_recipe_losses import published_vgg_file
from test_recipe_training import _flat, _StopAt

DDCOLOR_QUICK = os.path.join(REPO, "configs", "quick", "ddcolor_quick.yaml")

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # bit-identical runs, no thread contention


@pytest.fixture
def four_photos(photo_dir, tmp_path):
    return copy_photos(photo_dir, tmp_path / "photos", 4)


def _opts(photos, out, *extra):
    return ["DATASETS.TRAIN", f"('{photos}',)", "DATASETS.TEST", f"('{photos}',)", "OUTPUT_DIR", str(out),
            "PREDICTIONS_DIR", str(out / "preds"), "MODEL.DEVICE", "cpu", *extra]


def _records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_recipe_trains_every_term_on_served_vgg(four_photos, tmp_path, server):
    base, served, requests = server
    vgg, _ = published_vgg_file(served)
    out = tmp_path / "run"
    trainer = Trainer(load_cfg(DDCOLOR_QUICK, _opts(four_photos, out, "LOSS.PERCEPTUAL_WEIGHTS",
                                                    f"{base}/{vgg.name}")))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    assert len(requests) == 1
    first, second = _records(out)
    assert "train_gan" not in first and first["train_perceptual"] > 0
    for key in ("train_l1", "train_perceptual", "train_colorfulness", "train_gan", "train_d_real", "train_d_fake"):
        assert torch.isfinite(torch.tensor(second[key])), key
    final = load_checkpoint(str(out / "model_final.pth"))
    assert all(not torch.equal(final["model"][k], v) for k, v in before.items()
               if k.endswith("weight_orig") or k.endswith("pwconv1.weight"))
    assert final["discriminator"]["scheduler"]["last_epoch"] == 2  # 4 photos, 2 per step: 2 adversarial steps


def test_stopped_run_resumes_bit_for_bit(four_photos, tmp_path):
    """Spectral norm's u and v are buffers the forward pass updates: they travel with the checkpoint."""
    opts = ["LOSS.PERCEPTUAL_WEIGHT", "0"]
    reference = tmp_path / "reference"
    Trainer(load_cfg(DDCOLOR_QUICK, _opts(four_photos, reference, *opts))).train()
    run = tmp_path / "run"
    cfg = load_cfg(DDCOLOR_QUICK, _opts(four_photos, run, *opts))
    Trainer(cfg, hooks=default_hooks() + [_StopAt(3)]).train()  # epoch 2 (adversarial), batch 1
    Trainer(cfg, resume=True).train()
    a = torch.load(run / "model_final.pth", weights_only=True)
    b = torch.load(reference / "model_final.pth", weights_only=True)
    for part in ("model", "optimizer"):
        assert _flat(a[part]) == _flat(b[part]), part


def test_hint_variant_trains_and_uses_its_hints(four_photos, tmp_path):
    out = tmp_path / "hints"
    cfg = load_cfg(DDCOLOR_QUICK, _opts(four_photos, out, "MODEL.HINTS", "True", "LOSS.PERCEPTUAL_WEIGHT", "0",
                                        "LOSS.GAN_WEIGHT", "0", "SOLVER.MAX_EPOCHS", "1"))
    Trainer(cfg).train()
    weight = load_checkpoint(str(out / "model_final.pth"))["model"]["net.hint_conv.weight"]
    assert weight.abs().sum() > 0  # the zero-initialised branch learnt from the simulated hints


@pytest.mark.multiprocess
@pytest.mark.slow
def test_two_gloo_processes_train_it_in_bf16(four_photos, tmp_path):
    """As a multi-GPU user runs it: torchrun, DDP around DDColor and its discriminator, SyncBatchNorm in the decoder,
    bf16 autocast."""
    out = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           os.path.join(REPO, "tools", "train.py"), "--config-file", DDCOLOR_QUICK,
           *_opts(four_photos, out, "MODEL.SYNC_BN", "True", "SOLVER.AMP", "bf16", "LOSS.PERCEPTUAL_WEIGHT", "0",
                  "TEST.NUM_TRIPLETS", "0")]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = _records(out)
    for key in ("train_l1", "train_colorfulness", "train_gan", "train_d_real", "train_d_fake"):
        assert torch.isfinite(torch.tensor(second[key])), key
    assert second["train_l1"] < first["train_l1"] * 2  # finite and not diverging in bf16
    final = load_checkpoint(str(out / "model_final.pth"))
    assert not any(k.startswith("module.") for k in final["model"])  # saved unwrapped
    assert cfg_from_yaml_string(final["cfg"]).SOLVER.AMP == "bf16"
    assert {v.dtype for v in final["model"].values() if v.is_floating_point()} == {torch.float32}  # autocast only
    assert final["discriminator"]["scheduler"]["last_epoch"] == 2  # 4 photos, 2 per step: 2 adversarial steps
