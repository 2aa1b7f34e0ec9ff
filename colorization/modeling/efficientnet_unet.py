"""U-Net colorizers on an EfficientNet-Lite encoder (lite0..lite2), built as the ResNet U-Nets are (DeOldify's
generator): skip connections from the encoder's stages at strides 2..16, its 1280-channel head at 1/32 as the bottom,
PixelShuffle upsampling, self-attention at 1/8, a last connection to the gray input. The encoder's ImageNet weights
come from the installed packages (MODEL.PRETRAINED "imagenet"); with MODEL.HINTS a zero-initialised branch adds the
hint channels to the stem conv. A narrower decoder than the ResNet U-Nets', so that it trains on a CPU."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.color_tensor import gray_rgb_tensor
from ..data.hints import HINT_CHANNELS
from .basic import conv_bn_relu
from .efficientnet_lite import LITE_UNUSED, LITE_WEIGHTS, EfficientNetLite, SameConv2d, lite_normalize
from .registry import register_model
from .resnet_unet import PixelShuffleUp, UpBlock

# Decoder widths after the middle convolution at 1/32, then at 1/16, 1/8, 1/4, 1/2 and full resolution.
_MIDDLE = 256
_WIDTHS = (192, 128, 64, 48, 32)


class EfficientNetUNet(nn.Module):
    """L (and hint channels) -> the target channels at full resolution, or Q logits at 1/4 (out_stride 4, for the
    classification head). `encoder` is the part MODEL.PRETRAINED's ImageNet weights fill."""

    def __init__(self, out_channels, backbone="efficientnet_lite0", out_stride=1, in_channels=1):
        super().__init__()
        if out_stride not in (1, 4):
            raise ValueError(f"out_stride must be 1 or 4, got {out_stride}")
        self.out_stride = out_stride
        self.encoder = EfficientNetLite(backbone)
        self.hint_conv = None
        if in_channels > 1:
            # Zero at first: a pretrained encoder starts out seeing exactly the photo it was trained on.
            self.hint_conv = SameConv2d(in_channels - 1, self.encoder._conv_stem.out_channels, 3, 2)
            nn.init.zeros_(self.hint_conv.weight)
        c, w = self.encoder.channels, _WIDTHS
        self.middle = conv_bn_relu(c[4], _MIDDLE)
        self.up4 = UpBlock(_MIDDLE, c[3], w[0])  # 1/16
        self.up3 = UpBlock(w[0], c[2], w[1], attention=True)  # 1/8
        self.up2 = UpBlock(w[1], c[1], w[2])  # 1/4
        if out_stride == 1:
            self.up1 = UpBlock(w[2], c[0], w[3])  # 1/2
            self.up0 = PixelShuffleUp(w[3], w[4])  # 1/1
            self.last = conv_bn_relu(w[4] + 3, w[4])  # the last connection: the gray input itself
        self.out = nn.Conv2d(w[4] if out_stride == 1 else w[2], out_channels, 1)

    def forward(self, x):
        gray = gray_rgb_tensor(x)
        hints = self.hint_conv(x[:, 1:]) if self.hint_conv is not None else None
        f = self.encoder.features(lite_normalize(gray), stem_extra=hints)
        d = self.up4(self.middle(f[4]), f[3])
        d = self.up2(self.up3(d, f[2]), f[1])
        if self.out_stride == 1:
            d = self.up0(self.up1(d, f[0]))
            if d.shape[-2:] != x.shape[-2:]:
                d = F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)
            d = self.last(torch.cat([d, gray], dim=1))
        return self.out(d)

    # The classification head asks for logits; here they are the plain output (built with Q channels).
    forward_logits = forward


def _builder(backbone):
    def build(cfg, out_channels, classification):
        return EfficientNetUNet(out_channels, backbone, out_stride=4 if classification else 1,
                                in_channels=1 + HINT_CHANNELS if cfg.MODEL.HINTS else 1)
    return build


for _backbone in sorted(LITE_WEIGHTS):
    register_model(f"{_backbone}_unet", hints="optional", weights=LITE_WEIGHTS[_backbone],
                   pretrained_module="encoder", pretrained_unused=LITE_UNUSED)(_builder(_backbone))
