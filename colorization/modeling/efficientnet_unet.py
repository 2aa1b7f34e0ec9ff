"""U-Net colorizers on an EfficientNet-Lite encoder (lite0..lite2), built as the ResNet U-Nets are (DeOldify's
generator): skip connections from the encoder's stages at strides 2..16, its 1280-channel head at 1/32 as the bottom,
PixelShuffle upsampling, self-attention at 1/8, a last connection to the gray input. The encoder's ImageNet weights
come from the installed packages (MODEL.PRETRAINED "imagenet"); with MODEL.HINTS the hint channels are added to the
stem conv through a zero-initialised conv, and enter the decoder through a branch of their own (hint_branch.py).
A narrower decoder than the ResNet U-Nets', so that it trains on a CPU."""
import torch.nn as nn

from ..data.color_tensor import gray_rgb_tensor
from ..data.hints import HINT_CHANNELS
from .basic import conv_bn_relu
from .efficientnet_lite import LITE_UNUSED, LITE_WEIGHTS, EfficientNetLite, SameConv2d, lite_normalize
from .registry import register_model
from .resnet_unet import EncoderUNet

# Decoder widths after the middle convolution at 1/32, then at 1/16, 1/8, 1/4, 1/2 and full resolution.
_MIDDLE = 256
_WIDTHS = (192, 128, 64, 48, 32)


class EfficientNetUNet(EncoderUNet):
    """L (and hint channels) -> the target channels, on an EfficientNet-Lite encoder (EncoderUNet's decoder)."""

    # The encoder's coarsest stride: at such sides every stage halves exactly and each skip meets its decoder stage
    # at the same size. Other sides run in PyTorch (padded as TensorFlow's "SAME", skips resized), but configs and
    # exported graphs keep to these: traced at free sides the padding arithmetic made the ONNX export 1.2-1.5x slower.
    side_multiple = 32

    def __init__(self, out_channels, backbone="efficientnet_lite0", out_stride=1, in_channels=1):
        super().__init__()
        self.encoder = EfficientNetLite(backbone)
        self.hint_conv = None
        if in_channels > 1:
            # Zero at first: a pretrained encoder starts out seeing exactly the photo it was trained on.
            self.hint_conv = SameConv2d(in_channels - 1, self.encoder._conv_stem.out_channels, 3, 2)
            nn.init.zeros_(self.hint_conv.weight)
        c = self.encoder.channels
        self.build_decoder(c, conv_bn_relu(c[4], _MIDDLE), _MIDDLE, _WIDTHS, out_channels, out_stride,
                           in_channels - 1)

    def encode(self, x):
        gray = gray_rgb_tensor(x)
        hints = self.hint_conv(x[:, 1:]) if self.hint_conv is not None else None
        return self.encoder.features(lite_normalize(gray), stem_extra=hints), gray


def _builder(backbone):
    def build(cfg, out_channels, classification):
        return EfficientNetUNet(out_channels, backbone, out_stride=4 if classification else 1,
                                in_channels=1 + HINT_CHANNELS if cfg.MODEL.HINTS else 1)
    return build


for _backbone in sorted(LITE_WEIGHTS):
    register_model(f"{_backbone}_unet", hints="optional", weights=LITE_WEIGHTS[_backbone], pretrained_module="encoder",
                   pretrained_unused=LITE_UNUSED, side_multiple=EfficientNetUNet.side_multiple)(_builder(_backbone))
