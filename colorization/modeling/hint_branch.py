"""How a U-Net on a pretrained encoder sees the user's hints: a small convolutional branch of its own, trained from
scratch on (L, hint ab, hint mask), whose features at full resolution, 1/2, 1/4, 1/8 and 1/16 are added to the
decoder's at the same scales through zero-initialised 1x1 convolutions.

Why a branch of its own (docs/pretrained_encoder.md has the figures): through the pretrained encoder's stem alone the
hints were normalised away, and a hint model gained nothing from them; pooled to 1/16 and 1/4 and added to the decoder
there, 10 hints gained 1.6-1.7 dB on everyday_test, where the from-scratch basic hint network, which sees them at
full resolution in every layer, gains 2.5. With this branch the EfficientNet hint model gains 2.6 (at its 128 px). It is built like
that network's encoder (conv-BN-ReLU, stride-2 steps, a dilated conv at the bottom), 0.34 M parameters at width 16.
Zero taps at first, so a hint model starts as the automatic model it is made from."""
import torch.nn as nn

from .basic import conv_bn_relu


class HintBranch(nn.Module):
    """(B, 1 + hint channels, H, W) -> one tensor per decoder scale, coarsest first, to be added to the decoder's
    features there. `decoder_widths`: the decoder's widths at 1/16, 1/8, 1/4 and, where it reaches them, 1/2 and
    full resolution (3 to 5 of them)."""

    def __init__(self, in_channels, decoder_widths, width=16):
        super().__init__()
        if not 3 <= len(decoder_widths) <= 5:
            raise ValueError(f"decoder_widths: 3 to 5 widths (1/16 .. full resolution), got {decoder_widths}")
        w = width
        self.stages = nn.ModuleList([
            conv_bn_relu(in_channels, w),  # full resolution
            conv_bn_relu(w, w, stride=2),  # 1/2
            nn.Sequential(conv_bn_relu(w, 2 * w, stride=2), conv_bn_relu(2 * w, 2 * w)),  # 1/4
            nn.Sequential(conv_bn_relu(2 * w, 4 * w, stride=2), conv_bn_relu(4 * w, 4 * w)),  # 1/8
            nn.Sequential(conv_bn_relu(4 * w, 8 * w, stride=2), conv_bn_relu(8 * w, 8 * w, dilation=2)),  # 1/16
        ])
        branch_widths = (8 * w, 4 * w, 2 * w, w, w)  # coarsest first, as the taps
        self.taps = nn.ModuleList(nn.Conv2d(cin, cout, 1) for cin, cout in zip(branch_widths, decoder_widths))
        for tap in self.taps:
            nn.init.zeros_(tap.weight)
            nn.init.zeros_(tap.bias)

    def forward(self, x):
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return [tap(f) for tap, f in zip(self.taps, reversed(features))]

