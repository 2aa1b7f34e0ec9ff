"""build_model(cfg): the registered network with its head, wrapped as one ColorizationModel."""
import torch.nn as nn

from ..data.color import target_channels
from .color_bins import ab_gamut_bins, load_color_prior
from .heads import ClassificationHead, RegressionHead
from .pretrained import load_official_state_dict, resolve_weights
from .registry import get_model_builder
from .zhang import AB_NORM, siggraph17_grid_bins

# The official eccv16 weights classify over ImageNet's 313 in-gamut bins; they are read from its model_out.
ECCV16_OFFICIAL_BINS = 313


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


def initial_bins(cfg):
    """The ab bins a classification head starts with (pretrained eccv16 overwrites them from its weights)."""
    arch = cfg.MODEL.ARCH
    if arch == "siggraph17":
        return siggraph17_grid_bins()
    if arch == "eccv16" and cfg.MODEL.PRETRAINED:
        return ab_gamut_bins()[:0].new_zeros(ECCV16_OFFICIAL_BINS, 2)
    if cfg.MODEL.COLOR_PRIOR:
        return load_color_prior(cfg.MODEL.COLOR_PRIOR)[0]
    return ab_gamut_bins()


def official_state_bins(cfg, state_dict):
    """The ab bins an official-layout eccv16 state dict classifies over (from its model_out), else None.

    A classification head built for such a file must take the file's bins, whatever the config's own would be
    (larger_net.yaml, trained from scratch, has the 261 gamut bins or its color prior's; the file has its 313).
    """
    if cfg.MODEL.ARCH != "eccv16" or cfg.MODEL.HEAD != "classification":
        return None
    weight = state_dict.get("model_out.weight", state_dict.get("module.model_out.weight"))
    if weight is None or weight.dim() != 4 or weight.shape[0] != 2:
        return None  # load_pretrained will name what does not fit
    return weight.detach().float().reshape(2, -1).t() * AB_NORM


def build_head(cfg, bins=None):
    if cfg.MODEL.HEAD == "classification":
        return ClassificationHead(initial_bins(cfg) if bins is None else bins, cfg.MODEL.ANNEALED_T)
    return RegressionHead(cfg.SOLVER.LOSS)


def load_pretrained(model, state_dict):
    """Official-layout weights into the network (strict); a classification eccv16 takes its bins from them."""
    load_official_state_dict(model.net, state_dict)
    if model.head.kind == "classification" and hasattr(model.net, "official_bins"):
        model.head.set_bins(model.net.official_bins())


def build_model(cfg, bins=None, load_weights=True):
    """The model for cfg. bins: the classification head's bins (a checkpoint's); load_weights=False skips
    MODEL.PRETRAINED (when a checkpoint's weights follow anyway)."""
    head = build_head(cfg, bins)
    classification = head.kind == "classification"
    out_channels = head.num_bins if classification else target_channels(cfg.INPUT.COLOR_SPACE)
    net = get_model_builder(cfg.MODEL.ARCH)(cfg, out_channels, classification)
    model = ColorizationModel(net, head)
    if load_weights and cfg.MODEL.PRETRAINED:
        load_pretrained(model, resolve_weights(cfg.MODEL.PRETRAINED, cfg.MODEL.ARCH))
    return model
