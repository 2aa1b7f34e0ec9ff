"""The EfficientNet-Lite U-Nets: forward and backward reach every parameter (with and without hints), and the quick
config trains on real photos from the packaged ImageNet weights, the encoder held still in its first epoch and
fine-tuned in the second (the hint branch's zero start: tests/test_resnet_unet.py)."""
import pytest
import torch

from colorization.checkpoint.io import load_checkpoint
from colorization.checkpoint.weights import resolve_published
from colorization.config import load_cfg
from colorization.engine.trainer import Trainer
from colorization.modeling import build_model
from colorization.modeling.efficientnet_lite import LITE_WEIGHTS

from conftest import REPO, copy_photos

QUICK = f"{REPO}/configs/quick/effnet_unet_quick.yaml"


def _cfg(*opts):
    return load_cfg(None, ["MODEL.ARCH", "efficientnet_lite0_unet", "INPUT.SIZE", "64", *opts])


@pytest.mark.parametrize("hints", [False, True])
def test_forward_backward_reaches_every_parameter(hints):
    torch.manual_seed(0)
    model = build_model(_cfg("MODEL.HINTS", str(hints))).train()
    model.net.up3.attention.gamma.data.fill_(0.5)  # it starts at 0, which would leave its projections untrained
    if hints:
        model.net.hint_conv.weight.data.normal_(0, 0.1)  # zero at first, which would stop the gradient at the stem
        for tap in model.net.hint_branch.taps:  # and into the hint branch
            tap.weight.data.normal_(0, 0.1)
    raw = model(torch.randn(2, 4 if hints else 1, 64, 64))
    assert raw.shape == (2, 2, 64, 64)
    model.loss(raw, torch.rand(2, 2, 64, 64) - 0.5).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert build_model(_cfg("MODEL.HEAD", "classification"))(torch.randn(2, 1, 64, 64)).shape[-2:] == (16, 16)


@pytest.mark.parametrize("arch", ["efficientnet_lite0_unet", "efficientnet_lite2_unet", "ddcolor"])
def test_sides_that_are_not_a_multiple_of_32_are_refused_when_the_config_loads(arch):
    """The networks that declare a side multiple (the encoder's coarsest stride) refuse any other INPUT.SIZE, by key
    and with the multiple; the ONNX graph declares the same (tests/test_shipped_models.py exports one)."""
    from colorization.errors import UserError
    with pytest.raises(UserError, match=rf"config key INPUT.SIZE is 200; MODEL.ARCH '{arch}' needs a multiple of 32"):
        load_cfg(None, ["MODEL.ARCH", arch, "INPUT.SIZE", "200"])
    assert load_cfg(None, ["MODEL.ARCH", arch, "INPUT.SIZE", "224"]).INPUT.SIZE == 224


def test_quick_config_trains_from_the_packaged_weights(photo_dir, tmp_path):
    photos = copy_photos(photo_dir, tmp_path / "photos", 4)
    out = tmp_path / "run"
    Trainer(load_cfg(QUICK, ["DATASETS.TRAIN", f"('{photos}',)", "DATASETS.TEST", f"('{photos}',)",
                             "OUTPUT_DIR", str(out), "PREDICTIONS_DIR", str(out / "preds"),
                             "MODEL.DEVICE", "cpu"])).train()
    published = resolve_published("imagenet", LITE_WEIGHTS["efficientnet_lite0"])
    first = load_checkpoint(str(out / "model_epoch_0001.pth"))["model"]
    held = [k for k in first if k.startswith("net.encoder.") and "running" not in k and "num_batches" not in k]
    assert held and all(torch.equal(first[k], published[k[len("net.encoder."):]]) for k in held)
    final = load_checkpoint(str(out / "model_final.pth"))["model"]
    assert not torch.equal(final["net.encoder._conv_stem.weight"], published["_conv_stem.weight"])
    assert not torch.equal(final["net.out.weight"], first["net.out.weight"])
