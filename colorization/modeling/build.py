"""build_model(cfg): the registered network with its head, wrapped as one ColorizationModel."""
import torch.nn as nn

from ..data.color import target_channels
from ..data.hints import HINT_CHANNELS
from .color_bins import ab_gamut_bins, load_color_prior
from .heads import ClassificationHead, RegressionHead
from .registry import get_model_entry, takes_hints


class ColorizationModel(nn.Module):
    """net + head. forward gives the raw output for the loss; predict gives the target at a chosen size."""

    def __init__(self, net, head, in_channels=1):
        super().__init__()
        self.net = net
        self.head = head
        self.in_channels = in_channels  # 1 (L) or 1 + HINT_CHANNELS (L, hint ab, hint mask)

    @property
    def encoder(self):
        """The network's pretrained backbone (the ResNet U-Nets' "encoder"), or None."""
        return getattr(self.net, "encoder", None)

    @property
    def side_multiple(self):
        """Each side of the input must be a multiple of this (a network's `side_multiple`, else any side)."""
        return getattr(self.net, "side_multiple", 1)

    def forward(self, x):
        if self.head.kind == "classification":
            return self.net.forward_logits(x)
        return self.net(x)

    def loss_terms(self, raw, target):
        """The head's own weighted loss terms by name (LOSS.L1_WEIGHT, LOSS.L2_WEIGHT, LOSS.CLASSIFICATION_WEIGHT)."""
        return self.head.loss_terms(raw, target)

    def loss(self, raw, target):
        """The sum of the head's terms (a zero tensor when every weight is 0)."""
        terms = self.loss_terms(raw, target)
        return sum(terms.values()) if terms else raw.new_zeros(())

    def predict(self, x, size=None):
        """Network output in the target's units (LAB: ab / 110, RGB: [0, 1]) at `size` (default: x's)."""
        return self.head.predict(self(x), size or x.shape[-2:])


def initial_bins(cfg):
    """The ab bins a classification head starts with, when no weights file fixes them."""
    own = get_model_entry(cfg.MODEL.ARCH).initial_bins
    if own is not None:
        return own()
    if cfg.MODEL.COLOR_PRIOR:
        return load_color_prior(cfg.MODEL.COLOR_PRIOR)[0]
    return ab_gamut_bins()


def build_head(cfg, bins=None):
    if cfg.MODEL.HEAD == "classification":
        return ClassificationHead(initial_bins(cfg) if bins is None else bins, cfg.MODEL.ANNEALED_T,
                                  weight=cfg.LOSS.CLASSIFICATION_WEIGHT)
    return RegressionHead(cfg.LOSS.L1_WEIGHT, cfg.LOSS.L2_WEIGHT)


def build_model(cfg, bins=None):
    """The model for cfg with freshly initialised weights. bins: the classification head's ab bins when a weights
    file fixes them (a checkpoint's, an official file's); weights are read by colorization.checkpoint."""
    head = build_head(cfg, bins)
    classification = head.kind == "classification"
    out_channels = head.num_bins if classification else target_channels(cfg.INPUT.COLOR_SPACE)
    net = get_model_entry(cfg.MODEL.ARCH).builder(cfg, out_channels, classification)
    return ColorizationModel(net, head, 1 + HINT_CHANNELS if takes_hints(cfg) else 1)
