"""The U-Nets' hint branch (modeling/hint_branch.py): one addition per decoder scale at that scale's size and width,
odd input sizes included, and every one of its parameters in use for both heads (DDP refuses unused ones)."""
import pytest
import torch

from colorization.config import load_cfg
from colorization.modeling import build_model
from colorization.modeling.hint_branch import HintBranch


@pytest.mark.parametrize("size", [64, 70])
def test_one_addition_per_decoder_scale_coarsest_first(size):
    branch = HintBranch(4, (256, 128, 64, 64, 32)).eval()
    with torch.no_grad():
        out = branch(torch.randn(1, 4, size, size))
    sides = [size]
    for _ in range(4):
        sides.append((sides[-1] + 1) // 2)  # a stride-2 conv with padding 1 rounds up
    assert [tuple(o.shape[1:]) for o in out] == [(w, s, s) for w, s in zip((256, 128, 64, 64, 32), sides[::-1])]
    assert all(torch.equal(o, torch.zeros_like(o)) for o in out)  # zero taps: a hint model starts as automatic
    assert len(HintBranch(4, (256, 128, 64))(torch.randn(1, 4, size, size))) == 3


def test_fewer_or_more_widths_than_scales_are_refused():
    with pytest.raises(ValueError, match="decoder_widths"):
        HintBranch(4, (256, 128))


@pytest.mark.parametrize("head", ["regression", "classification"])
def test_every_parameter_of_the_branch_gets_a_gradient(head):
    """The classification head stops the decoder at 1/4: its branch has no taps for 1/2 and full resolution, which
    would receive no gradient and stop a DistributedDataParallel run."""
    torch.manual_seed(0)
    cfg = load_cfg(None, ["MODEL.ARCH", "efficientnet_lite0_unet", "INPUT.SIZE", "64", "MODEL.HINTS", "True",
                          "MODEL.HEAD", head])
    model = build_model(cfg).train()
    for tap in model.net.hint_branch.taps:
        tap.weight.data.normal_(0, 0.1)
    raw = model(torch.randn(2, 4, 64, 64))
    model.loss(raw, torch.rand(2, 2, 64, 64) - 0.5).backward()
    assert len(model.net.hint_branch.taps) == (5 if head == "regression" else 3)
    for name, p in model.net.hint_branch.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
