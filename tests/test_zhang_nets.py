"""Zhang et al. networks: official key layout, sizes, gradients and the T=1 read-out identity."""
import math

import pytest
import torch
import torch.nn.functional as F

from colorization.modeling.color_bins import annealed_mean
from colorization.checkpoint import load_official_state_dict, resolve_weights
from colorization.modeling.zhang import ECCV16Net, SIGGRAPH17Net


ZHANG_BLOCKS = ["model1", "model2", "model3", "model4", "model5", "model6", "model7"]
ECCV16_LAYERS = ([f"{b}.{i}" for b in ZHANG_BLOCKS[:2] for i in (0, 2, 4)]
                 + [f"{b}.{i}" for b in ZHANG_BLOCKS[2:] for i in (0, 2, 4, 6)]
                 + ["model8.0", "model8.2", "model8.4", "model8.6", "model_out"])
SIGGRAPH17_LAYERS = ([f"{b}.{i}" for b in ZHANG_BLOCKS[:2] for i in (0, 2, 4)]
                     + [f"{b}.{i}" for b in ZHANG_BLOCKS[2:] for i in (0, 2, 4, 6)]
                     + ["model8up.0", "model3short8.0", "model8.1", "model8.3", "model8.5",
                        "model9up.0", "model2short9.0", "model9.1", "model9.3",
                        "model10up.0", "model1short10.0", "model10.1", "model_class.0", "model_out.0"])


def _layers(net):
    return sorted({key.rsplit(".", 1)[0] for key in net.state_dict()})


def _gray(batch=2, height=64, width=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 1, height, width, generator=gen) - 0.5  # (L - 50) / 100 range


@pytest.fixture(scope="module")
def eccv16():
    torch.manual_seed(0)
    return ECCV16Net()


@pytest.fixture(scope="module")
def siggraph17():
    torch.manual_seed(0)
    return SIGGRAPH17Net()


def test_official_key_layout(eccv16, siggraph17):
    assert _layers(eccv16) == sorted(ECCV16_LAYERS)
    assert _layers(siggraph17) == sorted(SIGGRAPH17_LAYERS)
    sd = eccv16.state_dict()
    assert sd["model_out.weight"].shape == (2, 313, 1, 1)
    assert "model_out.bias" not in sd
    assert sd["model8.0.weight"].shape == (512, 256, 4, 4)  # ConvTranspose2d: (in, out, k, k)
    assert sd["model5.0.weight"].shape == (512, 512, 3, 3)
    sd = siggraph17.state_dict()
    assert sd["model1.0.weight"].shape == (64, 4, 3, 3)
    assert sd["model_class.0.weight"].shape == (529, 256, 1, 1)
    assert sd["model_out.0.weight"].shape == (2, 128, 1, 1)
    assert sd["model8.5.running_mean"].shape == (256,)
    assert sd["model1short10.0.weight"].shape == (128, 64, 3, 3)


def test_parameter_counts(eccv16, siggraph17):
    eccv16_params = sum(p.numel() for p in eccv16.parameters())
    siggraph17_params = sum(p.numel() for p in siggraph17.parameters())
    assert abs(eccv16_params - 32.2e6) < 0.1e6, eccv16_params
    assert abs(siggraph17_params - 34.2e6) < 0.1e6, siggraph17_params


def _assert_all_grads(net):
    for name, param in net.named_parameters():
        assert param.grad is not None, f"no gradient for {name}"
        assert torch.isfinite(param.grad).all(), f"non-finite gradient for {name}"


def test_eccv16_forward_backward():
    torch.manual_seed(1)
    net = ECCV16Net().train()
    x = _gray()
    ab, logits = net(x), net.forward_logits(x)
    assert ab.shape == (2, 2, 64, 64)
    assert logits.shape == (2, 313, 16, 16)
    (ab.pow(2).mean() + logits.pow(2).mean()).backward()
    _assert_all_grads(net)


@pytest.mark.slow
def test_siggraph17_forward_backward():
    torch.manual_seed(1)
    net = SIGGRAPH17Net().train()
    x = _gray()
    ab, logits = net(x), net.forward_logits(x)
    assert ab.shape == (2, 2, 64, 64)
    assert logits.shape == (2, 529, 16, 16)
    assert ab.abs().max() <= 1.0  # tanh output: ab / 110
    (ab.pow(2).mean() + logits.pow(2).mean()).backward()
    _assert_all_grads(net)


def test_zero_hints_are_the_automatic_mode(siggraph17):
    x = _gray(batch=1, height=32, width=32)
    with torch.no_grad():
        hinted = siggraph17(x, torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 32, 32))
        torch.testing.assert_close(hinted, siggraph17(x))


@pytest.mark.parametrize("height,width", [(33, 38), (20, 44)])
def test_odd_sizes(eccv16, siggraph17, height, width):
    x = _gray(batch=1, height=height, width=width)
    quarter = (math.ceil(height / 4), math.ceil(width / 4))
    with torch.no_grad():
        for net in (eccv16.eval(), siggraph17.eval()):
            assert net(x).shape[-2:] == (height, width)
            assert net.forward_logits(x).shape[-2:] == quarter


def test_state_dict_round_trip_strict(tmp_path, eccv16, siggraph17):
    for net_class, net in ((ECCV16Net, eccv16), (SIGGRAPH17Net, siggraph17)):
        path = tmp_path / f"{net_class.__name__}.pth"
        torch.save(net.state_dict(), path)
        fresh = net_class()
        fresh.load_state_dict(torch.load(path, weights_only=True), strict=True)
        other = net_class()
        load_official_state_dict(other, resolve_weights(str(path), "eccv16"))
        for key, value in net.state_dict().items():
            assert torch.equal(fresh.state_dict()[key], value), key
            assert torch.equal(other.state_dict()[key], value), key


def test_eccv16_regression_equals_annealed_mean_at_t1(eccv16):
    net = eccv16.eval()
    x = _gray(batch=2, height=32, width=32)
    with torch.no_grad():
        ab_norm = net(x)
        logits = net.forward_logits(x)
        readout = annealed_mean(logits, net.official_bins(), T=1.0) / 110.0
        readout = F.interpolate(readout, scale_factor=4, mode="bilinear", align_corners=False)
    torch.testing.assert_close(readout, ab_norm, atol=1e-5, rtol=0)


def test_siggraph17_bins_follow_official_class_index(siggraph17):
    bins = siggraph17.official_bins()
    assert bins.shape == (529, 2)
    # Official class index: round((a + 110) / 10) * 23 + round((b + 110) / 10).
    for a, b in [(-110, -110), (-110, -100), (-100, -110), (0, 0), (30, -70), (110, 110)]:
        index = round((a + 110) / 10) * 23 + round((b + 110) / 10)
        assert bins[index].tolist() == [a, b]
