"""build_model(cfg): the registered network with its head, wrapped as one ColorizationModel."""
import torch.nn as nn

from ..data.color import target_channels
from .heads import RegressionHead
from .registry import get_model_builder


class ColorizationModel(nn.Module):
    """net + head. forward gives the raw output for the loss; predict gives the target at a chosen size."""

    def __init__(self, net, head):
        super().__init__()
        self.net = net
        self.head = head

    def forward(self, x):
        if self.head.kind == "classification":
            return self.net.forward_logits(x)
        return self.net(x)

    def loss(self, raw, target):
        return self.head.loss(raw, target)

    def predict(self, x, size=None):
        """Network output in the target's units (LAB: ab / 110, RGB: [0, 1]) at `size` (default: x's)."""
        return self.head.predict(self(x), size or x.shape[-2:])


def build_head(cfg):
    if cfg.MODEL.HEAD == "regression":
        return RegressionHead(cfg.SOLVER.LOSS)
    raise NotImplementedError(f"MODEL.HEAD {cfg.MODEL.HEAD!r} is not available yet")


def build_model(cfg):
    head = build_head(cfg)
    classification = head.kind == "classification"
    out_channels = head.num_bins if classification else target_channels(cfg.INPUT.COLOR_SPACE)
    net = get_model_builder(cfg.MODEL.ARCH)(cfg, out_channels, classification)
    return ColorizationModel(net, head)
