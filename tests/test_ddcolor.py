"""DDColor (MODEL.ARCH ddcolor): the published state-dict layout, spectral norm as torch's, forward / backward of a
quick-size network, and the zero-initialised hint branch."""
import os

import pytest
import torch

from colorization.config import load_cfg
from colorization.modeling import build_model
from colorization.modeling.ddcolor import DDColor
from colorization.modeling.spectral import SpectralNormConv2d

KEYS_FILE = os.path.join(os.path.dirname(__file__), "data", "ddcolor_state_dict_keys.txt")
QUICK = ["MODEL.ARCH", "ddcolor", "MODEL.DDCOLOR.ENCODER", "convnext-atto", "MODEL.DDCOLOR.NUM_QUERIES", "8",
         "MODEL.DDCOLOR.NUM_LAYERS", "3", "MODEL.DDCOLOR.DECODER_WIDTH", "32", "MODEL.DDCOLOR.HIDDEN_DIM", "16",
         "INPUT.SIZE", "64"]


def recorded_layout(size):
    """{name: shape} of the reference model's state_dict(), as tests/data/ddcolor_state_dict_keys.txt records it."""
    layout, section = {}, None
    with open(KEYS_FILE, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == size:
                name, shape = line.split()
                layout[name] = () if shape == "-" else tuple(int(s) for s in shape.split("x"))
    return layout


@pytest.mark.parametrize("size, encoder, entries, params", [("tiny", "convnext-t", 440, 55_006_640),
                                                            ("large", "convnext-l", 602, 227_869_328)])
def test_state_dict_equals_the_published_layout(size, encoder, entries, params):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        net = build_model(load_cfg(None, ["MODEL.ARCH", "ddcolor", "MODEL.DDCOLOR.ENCODER", encoder])).net
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert own == recorded_layout(size)
    assert len(own) == entries
    assert sum(p.numel() for p in net.parameters()) == params


@pytest.mark.parametrize("bias", [True, False])
def test_spectral_norm_is_torchs(bias):
    """Eval: the stored u and v as they are; training: one power iteration that updates them, as torch's
    nn.utils.spectral_norm (the reference's) does."""
    torch.manual_seed(0)
    ours = SpectralNormConv2d(6, 5, 3, padding=1, bias=bias)
    theirs = torch.nn.utils.spectral_norm(torch.nn.Conv2d(6, 5, 3, padding=1, bias=bias))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 8, 8)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    assert torch.equal(ours.weight_u, theirs.weight_u)  # eval changes nothing
    ours.train(), theirs.train()
    for _ in range(2):
        out_ours, out_theirs = ours(x), theirs(x)
        assert torch.allclose(out_ours, out_theirs, atol=1e-6)
    assert torch.allclose(ours.weight_u, theirs.weight_u, atol=1e-7)
    assert torch.allclose(ours.weight_v, theirs.weight_v, atol=1e-7)
    out_ours.sum().backward(), out_theirs.sum().backward()
    assert torch.allclose(ours.weight_orig.grad, theirs.weight_orig.grad, atol=1e-5)


@pytest.mark.parametrize("hints", [False, True])
def test_forward_backward_reaches_every_parameter(hints):
    torch.manual_seed(0)
    model = build_model(load_cfg(None, QUICK + ["MODEL.HINTS", str(hints)])).train()
    x = torch.randn(2, 4 if hints else 1, 64, 64)
    raw = model(x)
    assert raw.shape == (2, 2, 64, 64)
    model.loss(raw, torch.rand(2, 2, 64, 64) - 0.5).backward()
    for name, p in model.named_parameters():
        if name.startswith("net.encoder.arch.norm."):  # the classifier's final norm, kept for the file layout
            assert p.grad is None
            continue
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert ("net.hint_conv.weight" in dict(model.named_parameters())) == hints


def test_hint_branch_starts_at_zero():
    """A hint model holding a hint-less model's weights colorizes exactly as it does, whatever the hints."""
    torch.manual_seed(0)
    plain = DDColor("convnext-atto", num_queries=8, num_layers=3, decoder_width=32, hidden_dim=16).eval()
    hinted = DDColor("convnext-atto", num_queries=8, num_layers=3, decoder_width=32, hidden_dim=16, hints=True).eval()
    missing = hinted.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["hint_conv.weight"]
    x = torch.randn(1, 1, 64, 64)
    hints = torch.cat([torch.randn(1, 2, 64, 64), torch.ones(1, 1, 64, 64)], dim=1)
    with torch.no_grad():
        assert torch.equal(plain(x), hinted(torch.cat([x, hints], dim=1)))
