"""The ResNet U-Nets (DeOldify's generator): torchvision's ResNet state-dict layout, ImageNet weights downloaded from
loopback into the encoder through MODEL.PRETRAINED, the encoder held still for MODEL.FREEZE_ENCODER_EPOCHS, hints,
and forward / backward at 64x64."""
import hashlib

import pytest
import torch

from colorization.checkpoint import build_model_with_weights, load_model
from colorization.config import load_cfg
from colorization.errors import UserError
from colorization.modeling import build_model
from colorization.modeling.registry import MODEL_REGISTRY, PublishedWeights
from colorization.modeling.resnet import RESNET_UNUSED, ResNetEncoder
from colorization.solver.build import build_lr_scheduler, build_optimizer


def torchvision_resnet_layout(name):
    """{key: shape} of torchvision's resnet34 / resnet50 state dict, from their published structure: a 7x7 stem,
    four stages of (3, 4, 6, 3) blocks at widths 64..512 (basic blocks of two 3x3 convs for ResNet-34; bottlenecks
    1x1, 3x3, 1x1 x4 for ResNet-50), a 1x1 conv + BatchNorm shortcut where a stage starts, and fc to 1000 classes."""
    def bn(prefix, c):
        return {f"{prefix}.{n}": (c,) for n in ("weight", "bias", "running_mean", "running_var")}

    layout = {"conv1.weight": (64, 3, 7, 7), **bn("bn1", 64)}
    bottleneck, cin = name == "resnet50", 64
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), start=1):
        cout = width * 4 if bottleneck else width
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            if bottleneck:
                convs = [(cin, width, 1), (width, width, 3), (width, cout, 1)]
            else:
                convs = [(cin, width, 3), (width, width, 3)]
            for i, (a, c, k) in enumerate(convs, start=1):
                layout[f"{p}.conv{i}.weight"] = (c, a, k, k)
                layout.update(bn(f"{p}.bn{i}", c))
            if b == 0 and (stage > 1 or cin != cout):
                layout[f"{p}.downsample.0.weight"] = (cout, cin, 1, 1)
                layout.update(bn(f"{p}.downsample.1", cout))
            cin = cout
    layout.update({"fc.weight": (1000, cin), "fc.bias": (1000,)})
    return layout


@pytest.mark.parametrize("name", ["resnet34", "resnet50"])
def test_encoder_has_torchvisions_layout(name):
    own = {k: tuple(v.shape) for k, v in ResNetEncoder(name).state_dict().items() if "num_batches" not in k}
    expected = {k: v for k, v in torchvision_resnet_layout(name).items() if not k.startswith(RESNET_UNUSED)}
    assert own == expected


def published_resnet34(folder):
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.rand(s, generator=gen) + 0.5 if "running_var" in k else torch.randn(s, generator=gen) * 0.05
             for k, s in torchvision_resnet_layout("resnet34").items()}
    path = folder / "resnet34-published.pth"
    torch.save(state, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), state


def _cfg(*opts):
    return load_cfg(None, ["MODEL.ARCH", "resnet34_unet", "INPUT.SIZE", "64", *opts])


def test_imagenet_weights_fill_the_encoder_from_a_hash_checked_download(server, monkeypatch):
    base, served, requests = server
    path, sha, state = published_resnet34(served)
    monkeypatch.setitem(MODEL_REGISTRY["resnet34_unet"].weights, "imagenet", PublishedWeights(f"{base}/{path.name}",
                                                                                              sha))
    model = build_model_with_weights(_cfg("MODEL.PRETRAINED", "imagenet"))
    encoder = model.encoder.state_dict()
    assert all(torch.equal(encoder[k], v) for k, v in state.items() if not k.startswith("fc."))
    assert len(requests) == 1
    # The published weights are the encoder's only: colorizing with them as they are is refused.
    with pytest.raises(UserError, match="encoder's only"):
        load_model("imagenet", _write_config(served.parent))
    monkeypatch.setitem(MODEL_REGISTRY["resnet34_unet"].weights, "imagenet",
                        PublishedWeights(f"{base}/{path.name}", "0" * 64))
    with pytest.raises(UserError, match="SHA-256 mismatch"):
        build_model_with_weights(_cfg("MODEL.PRETRAINED", "imagenet"))


def _write_config(folder):
    path = folder / "resnet34_unet.yaml"
    path.write_text('MODEL:\n  ARCH: "resnet34_unet"\n')
    return str(path)


@pytest.mark.parametrize("hints", [False, True])
@pytest.mark.slow
def test_forward_backward_reaches_every_parameter(hints):
    cfg = _cfg("MODEL.HINTS", str(hints))
    torch.manual_seed(0)
    model = build_model(cfg).train()
    model.net.up3.attention.gamma.data.fill_(0.5)  # it starts at 0, which would leave its projections untrained
    if hints:
        for tap in model.net.hint_branch.taps:  # zero at first, which would stop the gradient into the branch
            tap.weight.data.normal_(0, 0.1)
    x = torch.randn(2, 4 if hints else 1, 64, 64)
    target = torch.rand(2, 2, 64, 64) - 0.5
    raw = model(x)
    assert raw.shape == (2, 2, 64, 64)
    model.loss(raw, target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert build_model(_cfg("MODEL.HEAD", "classification"))(torch.randn(2, 1, 64, 64)).shape[-2:] == (16, 16)


@pytest.mark.parametrize("arch", ["resnet34_unet", "efficientnet_lite0_unet"])
def test_hint_branch_starts_at_zero(arch):
    """A hint model first predicts exactly what the model without hints would: the pretrained encoder is not
    disturbed until the hint branch has learnt something (the ResNet and the EfficientNet U-Nets)."""
    torch.manual_seed(0)
    plain = build_model(_cfg("MODEL.ARCH", arch)).eval()
    hinted = build_model(_cfg("MODEL.ARCH", arch, "MODEL.HINTS", "True")).eval()
    hinted.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(1, 1, 64, 64)
    hints = torch.cat([torch.randn(1, 2, 64, 64), torch.ones(1, 1, 64, 64)], dim=1)
    with torch.no_grad():
        assert torch.allclose(plain(x), hinted(torch.cat([x, hints], dim=1)), atol=1e-6)


@pytest.mark.slow
def test_encoder_is_held_still_for_the_freeze_epochs():
    cfg = _cfg("MODEL.FREEZE_ENCODER_EPOCHS", "1", "SOLVER.WARMUP_ITERS", "0", "SOLVER.OPTIMIZER", "adam")
    model = build_model(cfg).train()
    optimizer = build_optimizer(cfg, model)
    scheduler = build_lr_scheduler(cfg, optimizer, iters_per_epoch=2)
    encoder_before = {k: v.clone() for k, v in model.encoder.named_parameters()}
    decoder_before = model.net.out.weight.detach().clone()

    def step():
        optimizer.zero_grad()
        model.loss(model(torch.randn(2, 1, 64, 64)), torch.rand(2, 2, 64, 64) - 0.5).backward()
        optimizer.step()
        scheduler.step()

    step(), step()  # epoch 1
    assert all(torch.equal(p, encoder_before[k]) for k, p in model.encoder.named_parameters())
    assert not torch.equal(model.net.out.weight, decoder_before)
    step()  # epoch 2
    assert not torch.equal(model.encoder.conv1.weight, encoder_before["conv1.weight"])


def test_encoder_learns_at_its_factor_of_the_rate_after_the_held_epochs():
    cfg = _cfg("MODEL.FREEZE_ENCODER_EPOCHS", "1", "SOLVER.ENCODER_LR_FACTOR", "0.1", "SOLVER.WARMUP_ITERS", "0",
               "SOLVER.LR_SCHEDULER", "step", "SOLVER.STEPS", "(100,)", "SOLVER.BASE_LR", "0.01")
    model = build_model(cfg)
    optimizer = build_optimizer(cfg, model)
    rest, encoder = optimizer.param_groups
    assert {id(p) for p in encoder["params"]} == {id(p) for p in model.encoder.parameters()}
    assert not {id(p) for p in rest["params"]} & {id(p) for p in encoder["params"]}
    scheduler = build_lr_scheduler(cfg, optimizer, iters_per_epoch=2)
    rates = []
    for _ in range(4):  # two epochs of two iterations
        rates.append((rest["lr"], encoder["lr"]))
        optimizer.step()
        scheduler.step()
    assert rates == [(0.01, 0.0), (0.01, 0.0), (0.01, pytest.approx(0.001)), (0.01, pytest.approx(0.001))]
    # Without a factor or held epochs the encoder is no group of its own.
    plain = build_model(_cfg())
    assert len(build_optimizer(_cfg(), plain).param_groups) == 1


def test_hints_reach_the_output_through_the_decoder():
    """Once the hint branch's taps have learnt something, a hint changes the colors around it (the branch is the
    path that does not pass through the pretrained encoder's normalisation)."""
    torch.manual_seed(0)
    model = build_model(_cfg("MODEL.ARCH", "efficientnet_lite0_unet", "MODEL.HINTS", "True")).eval()
    for tap in model.net.hint_branch.taps:
        tap.weight.data.normal_(0, 0.5)
    x = torch.cat([torch.randn(1, 1, 64, 64), torch.zeros(1, 3, 64, 64)], dim=1)
    hinted = x.clone()
    hinted[0, 1:3, 24:40, 24:40] = 0.4
    hinted[0, 3, 24:40, 24:40] = 1
    with torch.no_grad():
        assert (model(hinted) - model(x)).abs().amax() > 1e-3
