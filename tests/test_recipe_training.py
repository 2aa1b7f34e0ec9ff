"""Training with today's recipe: the quick configs run (every term finite and logged, the loss falling, generator
and discriminator both updated), the discriminator is in every checkpoint and a run stopped in the adversarial phase
resumes bit for bit, two gloo processes train it, and the ResNet-34 U-Net trains with the perceptual term on weights
served from loopback."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from colorization.checkpoint import load_checkpoint
from colorization.config import load_cfg
from colorization.engine.hooks import HookBase, default_hooks
from colorization.data.prefetch import DevicePrefetcher
from colorization.engine.trainer import Trainer
from colorization.modeling.registry import MODEL_REGISTRY, PublishedWeights
from conftest import REPO, copy_photos
from test_recipe_losses import published_vgg_file
from test_resnet_unet import published_resnet34

GAN_QUICK = os.path.join(REPO, "configs", "quick", "basic_gan_quick.yaml")
RECIPE_QUICK = os.path.join(REPO, "configs", "quick", "recipe_resnet34_quick.yaml")
TERMS = ("train_l1", "train_colorfulness", "train_gan", "train_d_real", "train_d_fake", "train_d_r1")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # bit-identical runs, no thread contention


def _opts(photo_dir, out, *extra):
    return ["DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)", "OUTPUT_DIR", str(out),
            "PREDICTIONS_DIR", str(out / "preds"), "MODEL.DEVICE", "cpu", *extra]


def _train(cfg, **kwargs):
    with Trainer(cfg, **kwargs) as trainer:
        trainer.train()


def _records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_quick_gan_run_logs_every_term_and_updates_both_networks(photo_dir, tmp_path):
    with Trainer(load_cfg(GAN_QUICK, _opts(photo_dir, tmp_path / "run"))) as trainer:
        generator = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        trainer.train()
    records = _records(tmp_path / "run")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert "train_gan" not in records[0] and "train_d_real" not in records[0]  # NoGAN: epoch 1 without the GAN
    for record in records[1:]:
        assert all(torch.isfinite(torch.tensor(record[k])) for k in TERMS + ("train_loss", "train_discriminator_loss"))
        terms = sum(record[k] for k in ("train_l1", "train_colorfulness", "train_gan"))
        assert record["train_loss"] == pytest.approx(terms, rel=1e-6)  # the model's loss is the sum of its terms
    ckpt = load_checkpoint(str(tmp_path / "run" / "model_final.pth"))
    with Trainer(load_cfg(GAN_QUICK, _opts(photo_dir, tmp_path / "fresh"))) as fresh:
        pass  # its discriminator as built, untrained
    assert set(ckpt["discriminator"]) == {"model", "optimizer", "scheduler", "scaler"}
    assert any(not torch.equal(v, fresh.objective.discriminator.state_dict()[k])
               for k, v in ckpt["discriminator"]["model"].items())
    assert any(not torch.equal(v, generator[k]) for k, v in ckpt["model"].items())
    assert ckpt["discriminator"]["scheduler"]["last_epoch"] == 2 * trainer.iters_per_epoch  # the adversarial epochs
    assert (tmp_path / "run" / "curves.png").is_file()
    from colorization.utils.plots import loss_term_panel
    ((title, _, lines),) = loss_term_panel(records)
    assert {key for key, _ in lines} == set(TERMS) | {"train_discriminator_loss"} and "loss terms" in title
    assert loss_term_panel([{"epoch": 1, "train_loss": 0.1, "train_l1": 0.1}]) == ()  # one term: the loss itself


def test_losses_fall_over_a_few_steps_with_the_gan_on(photo_dir, tmp_path):
    with Trainer(load_cfg(GAN_QUICK, _opts(photo_dir, tmp_path / "run", "SOLVER.WARMUP_ITERS", "0",
                                           "SOLVER.LR_SCHEDULER", "step"))) as trainer:
        trainer.epoch = 1  # the adversarial phase
        trainer.step.updates = trainer.build_updates()
        assert [u.name for u in trainer.step.updates] == ["model", "discriminator"]
        trainer.train_loader.sampler.set_epoch(0)
        batch = next(iter(DevicePrefetcher(trainer.train_loader, trainer.device, trainer.train_set.encoder())))
        d_before = [p.detach().clone() for p in trainer.objective.discriminator.parameters()]
        totals = []
        for _ in range(12):
            outcome = trainer.step(batch)
            assert bool(torch.isfinite(outcome.totals).all())
            assert set(outcome.losses) >= {"l1", "gan", "colorfulness", "d_real", "d_fake", "d_r1"}
            totals.append(float(outcome.losses["model_total"]))
        assert sum(totals[-3:]) < sum(totals[:3]), totals
        assert all(not torch.equal(a, b) for a, b in zip(d_before, trainer.objective.discriminator.parameters()))


class _StopAt(HookBase):
    """Asks the trainer to stop at a global step, as SIGTERM would (the state is saved, --resume goes on)."""

    def __init__(self, step):
        self.step, self.seen = step, 0

    def after_step(self, trainer, outcome):
        self.seen += 1
        if self.seen == self.step:
            trainer._stop_signal = signal.SIGTERM


def test_a_run_stopped_in_the_adversarial_phase_resumes_bit_for_bit(photo_dir, tmp_path):
    reference = tmp_path / "reference"
    _train(load_cfg(GAN_QUICK, _opts(photo_dir, reference)))
    run = tmp_path / "run"
    cfg = load_cfg(GAN_QUICK, _opts(photo_dir, run))
    _train(cfg, hooks=default_hooks() + [_StopAt(5)])  # epoch 2 (adversarial), batch 2
    assert (run / "last_checkpoint").read_text().strip() == "model_interrupted_epoch_0002.pth"
    _train(cfg, resume=True)
    a = torch.load(run / "model_final.pth", weights_only=True)
    b = torch.load(reference / "model_final.pth", weights_only=True)
    for part in ("model", "optimizer"):
        assert _flat(a[part]) == _flat(b[part]), part
    for part in ("model", "optimizer", "scheduler"):
        assert _flat(a["discriminator"][part]) == _flat(b["discriminator"][part]), part
    assert _records(run) == [dict(r, images_per_s=x["images_per_s"]) for r, x in zip(_records(reference),
                                                                                      _records(run))]


def _flat(obj, prefix=""):
    """{path: value} of nested dicts / lists with tensors as bytes, for exact comparison."""
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, value in enumerate(obj) for k, v in _flat(value, f"{prefix}{i}.").items()}
    return {prefix: obj.numpy().tobytes() if torch.is_tensor(obj) else obj}


@pytest.mark.multiprocess
@pytest.mark.slow
def test_two_gloo_processes_train_both_networks(photo_dir, tmp_path):
    out = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           os.path.join(REPO, "tools", "train.py"), "--config-file", GAN_QUICK, *_opts(photo_dir, out),
           "MODEL.SYNC_BN", "True", "SOLVER.MAX_EPOCHS", "2", "TEST.NUM_TRIPLETS", "0"]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    last = _records(out)[-1]
    assert all(torch.isfinite(torch.tensor(last[k])) for k in TERMS)
    ckpt = load_checkpoint(str(out / "model_final.pth"))
    assert not any(k.startswith("module.") for k in ckpt["discriminator"]["model"])  # saved unwrapped
    assert ckpt["discriminator"]["scheduler"]["last_epoch"] == 3  # 12 photos, 4 per step: 3 adversarial steps


def test_resnet34_recipe_trains_with_every_term_on_served_weights(photo_dir, tmp_path, server, monkeypatch):
    base, served, requests = server
    resnet, sha, _ = published_resnet34(served)
    monkeypatch.setitem(MODEL_REGISTRY["resnet34_unet"].weights, "imagenet",
                        PublishedWeights(f"{base}/{resnet.name}", sha))
    vgg, _ = published_vgg_file(served)
    photos = copy_photos(photo_dir, tmp_path / "photos", 4)
    out = tmp_path / "run"
    with Trainer(load_cfg(RECIPE_QUICK, _opts(photos, out, "MODEL.PRETRAINED", "imagenet",
                                              "LOSS.PERCEPTUAL_WEIGHTS", f"{base}/{vgg.name}"))) as trainer:
        encoder = {k: v.clone() for k, v in trainer.model.encoder.state_dict().items()}
        trainer.train()
    assert len(requests) == 2  # each file once, hash-checked
    first, second = _records(out)
    assert "train_gan" not in first and first["train_perceptual"] > 0
    for key in ("train_l1", "train_perceptual", "train_colorfulness", "train_gan", "train_d_real", "train_d_fake"):
        assert torch.isfinite(torch.tensor(second[key])), key
    ckpt = load_checkpoint(str(out / "model_epoch_0001.pth"))
    held = {k: v for k, v in ckpt["model"].items() if k.startswith("net.encoder.") and "running" not in k
            and "num_batches" not in k}
    assert all(torch.equal(v, encoder[k[len("net.encoder."):]]) for k, v in held.items())  # held still in epoch 1
    final = load_checkpoint(str(out / "model_final.pth"))["model"]
    assert not torch.equal(final["net.encoder.conv1.weight"], encoder["conv1.weight"])  # trained in epoch 2
