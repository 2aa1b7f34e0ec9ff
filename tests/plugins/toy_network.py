"""A plugin that adds a network from outside the package (docs/extending.md's worked example, trained by
tests/test_plugins.py so that it cannot rot): its config keys, its builder, its registration."""
import torch.nn as nn

from colorization.config import Int, Section
from colorization.modeling.registry import register_model


def add_toy_config(C):
    C.MODEL.TOY = Section()
    # Channels of the toy network's hidden layer.
    C.MODEL.TOY.WIDTH = Int(8, ge=1)


class ToyColorNet(nn.Sequential):
    """L -> a 3x3 conv, ReLU, a 1x1 conv to the target channels (or a classification head's bin logits)."""

    def __init__(self, in_channels, width, out_channels):
        super().__init__(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(width, out_channels, 1))

    # The classification head asks for logits; here they are the plain output.
    def forward_logits(self, x):
        return self(x)


@register_model("toy", config=add_toy_config)
def build_toy(cfg, out_channels, classification):
    return ToyColorNet(1, cfg.MODEL.TOY.WIDTH, out_channels)
