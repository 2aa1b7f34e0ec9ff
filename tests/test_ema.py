"""SOLVER.EMA_DECAY: the average of the weights follows its formula, is what a checkpoint's "model" holds, and a run
stopped mid-epoch resumes bit for bit (the trained weights and the average both travel with the checkpoint)."""
import os

import pytest
import torch
import torch.nn as nn

from colorization.config import load_cfg
from colorization.engine.ema import ModelEMA
from colorization.engine.hooks import HookBase, default_hooks
from colorization.engine.trainer import Trainer
from conftest import REPO, copy_photos
from test_recipe_training import _flat, _StopAt

QUICK = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")
DECAY = 0.9

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # bit-identical runs


def _expected_average(trajectory, decay):
    """The average by its definition, from the trained weights after each step (the copy starts at the initial ones)."""
    average = {k: v.clone() for k, v in trajectory[0].items()}
    for n, weights in enumerate(trajectory[1:]):
        d = min(decay, (1 + n) / (10 + n))
        for k, v in weights.items():
            average[k] = d * average[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    return average


def test_the_average_follows_its_formula_and_copies_counters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    ema = ModelEMA(model, DECAY)
    trajectory = [{k: v.clone() for k, v in model.state_dict().items()}]
    for _ in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model.train()(torch.randn(2, 1, 5, 5))  # moves BatchNorm's running statistics and its counter
        ema.update(model)
        trajectory.append({k: v.clone() for k, v in model.state_dict().items()})
    expected = _expected_average(trajectory, DECAY)
    for k, v in ema.module.state_dict().items():
        assert torch.allclose(v.float(), expected[k].float(), atol=1e-6), k
    assert ema.module.state_dict()["1.num_batches_tracked"] == 5
    assert all(not p.requires_grad for p in ema.module.parameters())


class _Weights(HookBase):
    """The trained weights after every step."""

    def __init__(self):
        self.trajectory = []

    def after_step(self, trainer, outcome):
        self.trajectory.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})


def _cfg(photos, out):
    return load_cfg(QUICK, ["DATASETS.TRAIN", f"('{photos}',)", "DATASETS.TEST", f"('{photos}',)",
                            "OUTPUT_DIR", str(out), "PREDICTIONS_DIR", str(out / "preds"), "MODEL.DEVICE", "cpu",
                            "SOLVER.IMS_PER_BATCH", "2", "TEST.NUM_TRIPLETS", "0", "SOLVER.EMA_DECAY", str(DECAY)])


def test_the_checkpoint_holds_the_average_and_a_stopped_run_resumes_bit_for_bit(photo_dir, tmp_path):
    photos = copy_photos(photo_dir, tmp_path / "photos", 4)
    reference = tmp_path / "reference"
    weights = _Weights()
    trainer = Trainer(_cfg(photos, reference), hooks=default_hooks() + [weights])
    initial = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    final = torch.load(reference / "model_final.pth", weights_only=True)
    assert final["ema"]["updates"] == len(weights.trajectory) == 4  # 4 photos, 2 per step, 2 epochs
    expected = _expected_average([initial] + weights.trajectory, DECAY)
    for k, v in final["model"].items():  # what inference, evaluation and export load
        assert torch.allclose(v.float(), expected[k].float(), atol=1e-5), k
    assert _flat(final["ema"]["trained"]) == _flat(weights.trajectory[-1])
    assert _flat(final["model"]) != _flat(final["ema"]["trained"])

    run = tmp_path / "run"
    cfg = _cfg(photos, run)
    Trainer(cfg, hooks=default_hooks() + [_StopAt(3)]).train()  # epoch 2, batch 1
    Trainer(cfg, resume=True).train()
    resumed = torch.load(run / "model_final.pth", weights_only=True)
    for part in ("model", "ema", "optimizer"):
        assert _flat(resumed[part]) == _flat(final[part]), part
