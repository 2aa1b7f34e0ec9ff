"""The basic model: a small U-Net-like encoder-decoder from L to the target channels (its cost: the benchmark's
FLOP count)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Int
from ..data.hints import HINT_CHANNELS
from .registry import register_model


def conv_bn_relu(cin, cout, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicColorNet(nn.Module):
    """Four stride-2 stages down to 1/16, dilated context, and a decoder with skip connections.

    The decoder stops at `out_stride` (2 or 4): color varies slowly, so ab predicted at reduced resolution
    and upsampled loses little, and the classification head needs the reduced size to keep its targets small.
    """

    def __init__(self, out_channels, width=16, out_stride=2, in_channels=1):
        super().__init__()
        if out_stride not in (2, 4):
            raise ValueError(f"out_stride must be 2 or 4, got {out_stride}")
        w = width
        self.out_stride = out_stride
        self.enc1 = nn.Sequential(conv_bn_relu(in_channels, w), conv_bn_relu(w, w, stride=2))  # 1/2
        self.enc2 = nn.Sequential(conv_bn_relu(w, 2 * w, stride=2), conv_bn_relu(2 * w, 2 * w))  # 1/4
        self.enc3 = nn.Sequential(conv_bn_relu(2 * w, 4 * w, stride=2), conv_bn_relu(4 * w, 4 * w))  # 1/8
        self.enc4 = nn.Sequential(conv_bn_relu(4 * w, 8 * w, stride=2), conv_bn_relu(8 * w, 8 * w, dilation=2),
                                  conv_bn_relu(8 * w, 8 * w, dilation=2))  # 1/16
        self.dec3 = nn.Sequential(conv_bn_relu(12 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))  # 1/8
        self.dec2 = nn.Sequential(conv_bn_relu(6 * w, 2 * w), conv_bn_relu(2 * w, 2 * w))  # 1/4
        if out_stride == 2:
            self.dec1 = nn.Sequential(conv_bn_relu(3 * w, w), conv_bn_relu(w, w))  # 1/2
        self.out = nn.Conv2d(w if out_stride == 2 else 2 * w, out_channels, 1)

    @staticmethod
    def _up_cat(x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([x, skip], dim=1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d = self.dec3(self._up_cat(e4, e3))
        d = self.dec2(self._up_cat(d, e2))
        if self.out_stride == 2:
            d = self.dec1(self._up_cat(d, e1))
        return self.out(d)

    # The classification head asks for logits; here they are the plain output (built with Q channels).
    forward_logits = forward


def add_basic_config(C):
    # Width (channels of the first stage) of the basic encoder-decoder; later stages double it.
    C.MODEL.BASIC_WIDTH = Int(16, ge=1)


@register_model("basic", hints="optional", config=add_basic_config)
def build_basic(cfg, out_channels, classification):
    return BasicColorNet(out_channels, width=cfg.MODEL.BASIC_WIDTH, out_stride=4 if classification else 2,
                         in_channels=1 + HINT_CHANNELS if cfg.MODEL.HINTS else 1)
