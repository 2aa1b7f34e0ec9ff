import pytest
import torch

from colorization.config import load_cfg
from colorization.errors import UserError
from colorization.modeling import build_model
from colorization.modeling.basic import BasicColorNet
from colorization.modeling.registry import get_model_entry


def conv_flops(net, size):
    """2 x multiply-accumulates of every convolution for one size x size image."""
    macs = []

    def hook(m, _, out):
        macs.append(out[0].numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 1, size, size))
    for h in hooks:
        h.remove()
    return 2 * sum(macs)


@pytest.mark.parametrize("space,channels", [("LAB", 2), ("RGB", 3)])
def test_forward_backward_reaches_every_parameter(space, channels):
    cfg = load_cfg(None, ["INPUT.COLOR_SPACE", space, "INPUT.SIZE", "64"])
    model = build_model(cfg)
    x = torch.randn(2, 1, 64, 64)
    target = torch.rand(2, channels, 64, 64)
    raw = model(x)
    loss = model.loss(raw, target)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert model.predict(x).shape == (2, channels, 64, 64)
    assert model.predict(x, size=(100, 70)).shape == (2, channels, 100, 70)


def test_basic_model_is_within_the_flop_budget():
    flops = conv_flops(BasicColorNet(2, width=16), 256)
    assert flops <= 5e9, f"{flops / 1e9:.2f} GFLOP at 256x256"


def test_odd_sizes_work():
    net = BasicColorNet(2, width=8)
    assert net(torch.randn(1, 1, 70, 90)).shape == (1, 2, 35, 45)


def test_unknown_model_name_lists_known():
    with pytest.raises(UserError, match="known models: .*basic"):
        get_model_entry("unet9000")
