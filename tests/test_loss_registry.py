"""Loss terms by registry: a term registered with its weight key runs when its weight is on, is weighted, and is
reported under its name; what it needs is made for it (RGB images here)."""
import pytest
import torch

from colorization.config import Float, load_cfg, tree
from colorization.data.color_tensor import network_rgb
from colorization.engine import loss_registry
from colorization.engine.loss_registry import register_loss
from colorization.engine.losses import Objective
from colorization.errors import UserError
from colorization.modeling import build_model


@pytest.fixture
def toy_term(monkeypatch):
    """LOSS.TOY_WEIGHT and a "toy" term (the mean of the predicted RGB), registered for this test only."""
    monkeypatch.setattr(tree, "_DECLARERS", list(tree._DECLARERS))
    monkeypatch.setattr(loss_registry, "LOSS_REGISTRY", dict(loss_registry.LOSS_REGISTRY))

    def add_toy_config(C):
        C.LOSS.TOY_WEIGHT = Float(0.0, ge=0)

    tree.add_config(add_toy_config)
    seen = []

    @register_loss("toy", "LOSS.TOY_WEIGHT", needs=("rgb",), build=lambda cfg, device: "state")
    def toy(x, state):
        seen.append((state, x.fake_rgb.shape, float(x.fake_rgb.detach().min()) >= 0))
        return x.fake_rgb.mean()

    return seen


def _objective(opts):
    cfg = load_cfg(None, ["MODEL.BASIC_WIDTH", "4", "INPUT.SIZE", "32"] + opts)
    model = build_model(cfg)
    return Objective(cfg, model, torch.device("cpu"), iters_per_epoch=1), model


class _Step:
    def autocast(self):
        return torch.autocast("cpu", enabled=False)


def test_a_registered_term_runs_weighted_and_is_reported_by_name(toy_term):
    objective, model = _objective(["LOSS.TOY_WEIGHT", "2.0"])
    assert objective.needs_rgb and objective.term_names() == ["l1", "l2", "classification", "toy"]
    inputs, targets = torch.rand(2, 1, 32, 32), torch.rand(2, 2, 32, 32) - 0.5
    terms = objective.model_terms(_Step(), model, inputs, targets, epoch=0)
    assert set(terms) == {"l1", "toy"} and toy_term == [("state", (2, 3, 32, 32), True)]
    with torch.no_grad():  # the same batch in train mode: the same BatchNorm statistics, the same prediction
        expected = 2.0 * network_rgb(inputs, model.head.predict(model(inputs), (32, 32)), "LAB").mean()
    assert torch.allclose(terms["toy"].detach(), expected)


def test_a_term_of_weight_zero_is_left_out(toy_term):
    objective, _ = _objective([])
    assert "toy" not in objective.term_names() and not objective.needs_rgb


def test_the_loss_needs_a_term_that_compares_with_the_target(toy_term):
    with pytest.raises(UserError, match="give LOSS.L1_WEIGHT or LOSS.L2_WEIGHT or LOSS.PERCEPTUAL_WEIGHT a weight"):
        load_cfg(None, ["LOSS.L1_WEIGHT", "0", "LOSS.TOY_WEIGHT", "1"])


def test_an_unknown_need_is_refused():
    with pytest.raises(ValueError, match="needs \\['gpu'\\]"):
        register_loss("nope", "LOSS.L1_WEIGHT", needs=("gpu",))
