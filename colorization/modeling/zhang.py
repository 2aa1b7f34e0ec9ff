"""Zhang et al.'s colorization networks (ECCV 2016, SIGGRAPH 2017) with the official state-dict layout.

Module names and Sequential indices match the released weight files so they load with strict=True.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..data.color import AB_SCALE
from .registry import PublishedWeights, register_model
# siggraph17 classifies ab on a 23 x 23 grid of step 10 over [-110, 110] (529 classes).
SIGGRAPH17_GRID_STEP = 10.0
SIGGRAPH17_GRID_SIDE = 23


def _conv_relu_block(channels, *, stride_last=1, dilation=1, batch_norm=True, leading_relu=False):
    """Sequential of conv(3x3)+ReLU pairs (+ final BatchNorm), laid out like the official blocks.

    The official files index parameters by Sequential position (conv at 0, 2, 4; BN last), so the
    ReLUs must stay separate modules in the same order for the keys to line up.
    """
    layers = [nn.ReLU(True)] if leading_relu else []
    pairs = list(zip(channels[:-1], channels[1:]))
    for i, (c_in, c_out) in enumerate(pairs):
        stride = stride_last if i == len(pairs) - 1 else 1
        layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=dilation,
                                dilation=dilation, bias=True))
        layers.append(nn.ReLU(True))
    if batch_norm:
        layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


def _upsample4_to(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear x4 (align_corners=False, as the official demo), then crop to the input size.

    Cropping instead of resizing to (height, width) keeps each quarter-resolution cell over the same
    4x4 input pixels when the input side is not a multiple of 4.
    """
    up = F.interpolate(t, scale_factor=4, mode="bilinear", align_corners=False)
    return up[:, :, :height, :width]


def _quarter_size(height: int, width: int):
    return math.ceil(height / 4), math.ceil(width / 4)


class ECCV16Net(nn.Module):
    """"Colorful Image Colorization" (ECCV 2016): L -> distribution over ab bins -> ab.

    Input: (B, 1, H, W) holding (L - 50) / 100. ``forward`` returns ab / 110 at (H, W);
    ``forward_logits`` the bin logits at (ceil(H/4), ceil(W/4)).
    """

    def __init__(self, num_bins: int = 313):
        super().__init__()
        self.num_bins = num_bins
        self.model1 = _conv_relu_block([1, 64, 64], stride_last=2)
        self.model2 = _conv_relu_block([64, 128, 128], stride_last=2)
        self.model3 = _conv_relu_block([128, 256, 256, 256], stride_last=2)
        self.model4 = _conv_relu_block([256, 512, 512, 512])
        self.model5 = _conv_relu_block([512, 512, 512, 512], dilation=2)
        self.model6 = _conv_relu_block([512, 512, 512, 512], dilation=2)
        self.model7 = _conv_relu_block([512, 512, 512, 512])
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(512, 256, kernel_size=4, stride=2, padding=1, bias=True),
            nn.ReLU(True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=True),
            nn.ReLU(True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=True),
            nn.ReLU(True),
            nn.Conv2d(256, num_bins, kernel_size=1, bias=True),
        )
        # Its weights are the bin centres / 110: softmax followed by this conv is the annealed mean at T=1.
        self.model_out = nn.Conv2d(num_bins, 2, kernel_size=1, bias=False)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for block in (self.model1, self.model2, self.model3, self.model4,
                      self.model5, self.model6, self.model7, self.model8):
            h = block(h)
        # Three stride-2 convs round up and the transposed conv doubles, so trim to ceil(H/4).
        qh, qw = _quarter_size(x.shape[-2], x.shape[-1])
        return h[:, :, :qh, :qw]

    def _regression_from_logits(self, logits, height, width):
        ab_quarter = self.model_out(torch.softmax(logits, dim=1))
        return _upsample4_to(ab_quarter, height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._regression_from_logits(self.forward_logits(x), x.shape[-2], x.shape[-1])

    def official_bins(self) -> torch.Tensor:
        """(Q, 2) ab bin centres in ab units, read from ``model_out`` (exact for the official weights)."""
        return self.model_out.weight.detach().view(2, self.num_bins).t() * AB_SCALE


class SIGGRAPH17Net(nn.Module):
    """"Real-Time User-Guided Image Colorization" (SIGGRAPH 2017): L and optional user hints -> ab.

    Input: (B, 1, H, W) holding (L - 50) / 100 (automatic: zero hints are appended inside), or (B, 4, H, W) with
    the hint ab (ab / 110, zero where no hint) and the 0/1 hint mask after L, as the official weights expect.
    ``forward`` returns ab / 110 at (H, W); ``forward_logits`` the 529 ab-grid logits at (ceil(H/4), ceil(W/4)).
    """

    def __init__(self, num_classes: int = SIGGRAPH17_GRID_SIDE ** 2):
        super().__init__()
        self.num_classes = num_classes
        self.model1 = _conv_relu_block([4, 64, 64])
        self.model2 = _conv_relu_block([64, 128, 128])
        self.model3 = _conv_relu_block([128, 256, 256, 256])
        self.model4 = _conv_relu_block([256, 512, 512, 512])
        self.model5 = _conv_relu_block([512, 512, 512, 512], dilation=2)
        self.model6 = _conv_relu_block([512, 512, 512, 512], dilation=2)
        self.model7 = _conv_relu_block([512, 512, 512, 512])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(512, 256, kernel_size=4, stride=2, padding=1, bias=True))
        self.model3short8 = nn.Sequential(nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=True))
        self.model8 = _conv_relu_block([256, 256, 256], leading_relu=True)
        self.model9up = nn.Sequential(nn.ConvTranspose2d(256, 128, kernel_size=4, stride=2, padding=1, bias=True))
        self.model2short9 = nn.Sequential(nn.Conv2d(128, 128, kernel_size=3, padding=1, bias=True))
        self.model9 = _conv_relu_block([128, 128], leading_relu=True)
        self.model10up = nn.Sequential(nn.ConvTranspose2d(128, 128, kernel_size=4, stride=2, padding=1, bias=True))
        self.model1short10 = nn.Sequential(nn.Conv2d(64, 128, kernel_size=3, padding=1, bias=True))
        self.model10 = nn.Sequential(
            nn.ReLU(True),
            nn.Conv2d(128, 128, kernel_size=3, padding=1, bias=True),
            nn.LeakyReLU(negative_slope=0.2),
        )
        self.model_class = nn.Sequential(nn.Conv2d(256, num_classes, kernel_size=1, bias=True))
        self.model_out = nn.Sequential(nn.Conv2d(128, 2, kernel_size=1, bias=True), nn.Tanh())

    @staticmethod
    def _add_skip(upsampled: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        # The encoder subsamples with x[::2] (rounding up), the transposed conv doubles exactly:
        # for sides not a multiple of 8 the upsampled map is one row/column longer, trim it.
        return upsampled[:, :, :skip.shape[-2], :skip.shape[-1]] + skip

    def _encode(self, x, ab_hint, hint_mask):
        if x.shape[1] == 4:  # a hint model's input: L, hint ab, hint mask in one tensor
            x, ab_hint, hint_mask = x[:, :1], x[:, 1:3], x[:, 3:]
        if ab_hint is None:
            ab_hint = x.new_zeros(x.shape[0], 2, *x.shape[2:])
        if hint_mask is None:
            hint_mask = x.new_zeros(x.shape[0], 1, *x.shape[2:])
        conv1 = self.model1(torch.cat((x, ab_hint, hint_mask), dim=1))
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        h = self.model4(conv3[:, :, ::2, ::2])
        h = self.model7(self.model6(self.model5(h)))
        conv8 = self.model8(self._add_skip(self.model8up(h), self.model3short8(conv3)))
        return conv1, conv2, conv8

    def _decode(self, conv1, conv2, conv8):
        conv9 = self.model9(self._add_skip(self.model9up(conv8), self.model2short9(conv2)))
        conv10 = self.model10(self._add_skip(self.model10up(conv9), self.model1short10(conv1)))
        return self.model_out(conv10)

    def forward_logits(self, x, ab_hint=None, hint_mask=None) -> torch.Tensor:
        """529-class ab-grid logits from the conv8 level (1/4 resolution), as the official code takes them."""
        _, _, conv8 = self._encode(x, ab_hint, hint_mask)
        return self.model_class(conv8)

    def forward(self, x, ab_hint=None, hint_mask=None) -> torch.Tensor:
        """ab / 110 at full resolution. Optional hints: ab_hint (B,2,H,W) as ab/110, hint_mask (B,1,H,W)."""
        return self._decode(*self._encode(x, ab_hint, hint_mask))

    def official_bins(self) -> torch.Tensor:
        """(529, 2) ab centres of the class grid; class index = a_index * 23 + b_index (a-major)."""
        if self.num_classes != SIGGRAPH17_GRID_SIDE ** 2:
            raise ValueError(f"the official grid has {SIGGRAPH17_GRID_SIDE ** 2} classes, this net has "
                             f"{self.num_classes}")
        return siggraph17_grid_bins()


def siggraph17_grid_bins() -> torch.Tensor:
    """The 23 x 23 ab grid (-110..110 step 10) in the official class order (a major, b minor)."""
    axis = torch.arange(SIGGRAPH17_GRID_SIDE, dtype=torch.float32) * SIGGRAPH17_GRID_STEP - AB_SCALE
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((a.reshape(-1), b.reshape(-1)), dim=1)


# Zhang et al.'s released files (DESIGN.md), in the official layout of the networks above.
ECCV16_WEIGHTS = {"imagenet": PublishedWeights(
    "https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
    "9b330a0bae53f4ded77b1e23defbf78beaa09c10ebc4c4999e8e4f4a160b93f9")}
SIGGRAPH17_WEIGHTS = {"imagenet": PublishedWeights(
    "https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
    "df00044c0a4d7c3edcecf6f75437ce346a66e7a42612d9b968e1a7e17dbc6f66")}


def eccv16_bins_from_official(state_dict):
    """The ab bins an official-layout eccv16 file classifies over: its model_out weights times 110 (313 for the
    released file). A classification head built for such a file takes them, whatever the config's own would be."""
    weight = state_dict.get("model_out.weight", state_dict.get("module.model_out.weight"))
    if weight is None or weight.dim() != 4 or weight.shape[0] != 2:
        return None  # the strict load names what does not fit
    return weight.detach().float().reshape(2, -1).t() * AB_SCALE


@register_model("eccv16", color_spaces=("LAB",), weights=ECCV16_WEIGHTS,
                bins_from_official=eccv16_bins_from_official)
def build_eccv16(cfg, out_channels, classification):
    # Regression uses the official read-out (softmax -> model_out -> x4), so the official weights predict
    # ab as they are; the classification head reads the logits instead, over `out_channels` bins.
    return ECCV16Net(num_bins=out_channels if classification else 313)


# A classification head over siggraph17 classifies on the network's own ab grid, whatever the color prior.
@register_model("siggraph17", color_spaces=("LAB",), weights=SIGGRAPH17_WEIGHTS, hints="always",
                initial_bins=siggraph17_grid_bins)
def build_siggraph17(cfg, out_channels, classification):
    if classification and out_channels != SIGGRAPH17_GRID_SIDE ** 2:
        raise ValueError(f"siggraph17 classifies over its {SIGGRAPH17_GRID_SIDE ** 2}-cell ab grid, "
                         f"not {out_channels} bins")
    return SIGGRAPH17Net()
