"""U-Net generators on a ResNet-34 or ResNet-50 encoder, as DeOldify builds them (fastai's DynamicUnet): the ImageNet
backbone as encoder, skip connections from each of its stages, PixelShuffle upsampling (ICNR-initialised), a
self-attention layer in the decoder, and a last connection to the input. Input: L as the gray RGB image, normalised
as the backbone expects; with MODEL.HINTS, the hint channels are added to the first conv through a zero-initialised
conv, and enter the decoder through a branch of their own (hint_branch.py)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.color_tensor import gray_rgb_tensor, imagenet_normalize
from ..data.hints import HINT_CHANNELS
from .basic import conv_bn_relu
from .heads import resize_to
from .hint_branch import HintBranch
from .registry import register_model
from .resnet import RESNET_UNUSED, RESNET_WEIGHTS, ResNetEncoder

# Decoder widths at 1/16, 1/8, 1/4, 1/2 and full resolution, and after the middle convolution at 1/32.
_MIDDLE = 512
_WIDTHS = (256, 128, 64, 64, 32)


def icnr_(weight, scale=2):
    """Initialise a conv feeding PixelShuffle(scale) so that its scale x scale sub-pixels start equal (no
    checkerboard at initialisation; Aitken et al. 2017)."""
    out, *rest = weight.shape
    base = torch.empty(out // scale ** 2, *rest)
    nn.init.kaiming_normal_(base)
    weight.data.copy_(base.repeat_interleave(scale ** 2, dim=0))


class PixelShuffleUp(nn.Sequential):
    """x2 upsampling: 1x1 conv to 4x the channels, then PixelShuffle."""

    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout * 4, 1), nn.PixelShuffle(2), nn.ReLU(inplace=True))
        icnr_(self[0].weight)


class SelfAttention(nn.Module):
    """SAGAN's self-attention over positions; gamma starts at 0, so it begins as the identity."""

    def __init__(self, channels):
        super().__init__()
        self.query = nn.Conv2d(channels, max(1, channels // 8), 1)
        self.key = nn.Conv2d(channels, max(1, channels // 8), 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        q, k = self.query(x).flatten(2), self.key(x).flatten(2)
        attention = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, HW, HW): row i attends over positions j
        out = self.value(x).flatten(2) @ attention.transpose(1, 2)
        return x + self.gamma * out.view(b, c, h, w)


class UpBlock(nn.Module):
    """Upsample x2, join the encoder's skip features (BatchNorm'd), two 3x3 conv-BN-ReLU."""

    def __init__(self, cin, skip, cout, attention=False):
        super().__init__()
        self.up = PixelShuffleUp(cin, cout)
        self.skip_bn = nn.BatchNorm2d(skip)
        self.convs = nn.Sequential(conv_bn_relu(cout + skip, cout), conv_bn_relu(cout, cout))
        self.attention = SelfAttention(cout) if attention else None

    def forward(self, x, skip):
        x = resize_to(self.up(x), skip.shape[-2:])  # odd sizes: the encoder rounded down
        x = self.convs(torch.cat([x, F.relu(self.skip_bn(skip))], dim=1))
        return x if self.attention is None else self.attention(x)


class EncoderUNet(nn.Module):
    """The decoder the U-Nets on a pretrained encoder share: a middle block at 1/32, up-blocks joining the encoder's
    skips at 1/16, 1/8 (with self-attention), 1/4 and 1/2, PixelShuffle to full resolution and a last connection to
    the gray input; or Q logits at 1/4 (out_stride 4, for the classification head). A subclass sets `encoder` (the part
    MODEL.PRETRAINED's ImageNet weights fill) and `hint_conv`, calls build_decoder, and implements encode(x) ->
    (features at strides 2, 4, 8, 16, 32; the gray image of the last connection)."""

    def build_decoder(self, channels, middle, middle_width, widths, out_channels, out_stride, hint_channels=0):
        """hint_channels: with hints, they also enter the decoder through a branch of their own (HintBranch),
        besides the encoder's stem."""
        if out_stride not in (1, 4):
            raise ValueError(f"out_stride must be 1 or 4, got {out_stride}")
        self.out_stride = out_stride
        c, w = channels, widths
        self.middle = middle
        self.up4 = UpBlock(middle_width, c[3], w[0])  # 1/16
        self.up3 = UpBlock(w[0], c[2], w[1], attention=True)  # 1/8
        self.up2 = UpBlock(w[1], c[1], w[2])  # 1/4
        self.hint_branch = None
        if hint_channels:
            self.hint_branch = HintBranch(1 + hint_channels, w if out_stride == 1 else w[:3])
        if out_stride == 1:
            self.up1 = UpBlock(w[2], c[0], w[3])  # 1/2
            self.up0 = PixelShuffleUp(w[3], w[4])  # 1/1
            self.last = conv_bn_relu(w[4] + 3, w[4])  # the last connection: the gray input itself
        self.out = nn.Conv2d(w[4] if out_stride == 1 else w[2], out_channels, 1)

    def forward(self, x):
        f, gray = self.encode(x)
        hints = iter(self.hint_branch(x)) if self.hint_branch is not None else None

        def with_hints(d):
            return d if hints is None else d + resize_to(next(hints), d.shape[-2:])

        d = with_hints(self.up4(self.middle(f[4]), f[3]))
        d = with_hints(self.up3(d, f[2]))
        d = with_hints(self.up2(d, f[1]))
        if self.out_stride == 1:
            d = resize_to(self.up0(with_hints(self.up1(d, f[0]))), x.shape[-2:])
            d = self.last(torch.cat([with_hints(d), gray], dim=1))
        return self.out(d)

    # The classification head asks for logits; here they are the plain output (built with Q channels).
    forward_logits = forward


class ResNetUNet(EncoderUNet):
    """L (and hint channels) -> the target channels, on a ResNet-34 or ResNet-50 encoder (EncoderUNet's decoder)."""

    def __init__(self, out_channels, backbone="resnet34", out_stride=1, in_channels=1):
        super().__init__()
        self.encoder = ResNetEncoder(backbone)
        self.hint_conv = None
        if in_channels > 1:
            # Zero at first: a pretrained encoder starts out seeing exactly the photo it was trained on.
            self.hint_conv = nn.Conv2d(in_channels - 1, 64, 7, 2, 3, bias=False)
            nn.init.zeros_(self.hint_conv.weight)
        c = self.encoder.channels
        middle = nn.Sequential(nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True), conv_bn_relu(c[4], _MIDDLE))
        self.build_decoder(c, middle, _MIDDLE, _WIDTHS, out_channels, out_stride, in_channels - 1)

    def encode(self, x):
        gray = imagenet_normalize(gray_rgb_tensor(x))
        hints = self.hint_conv(x[:, 1:]) if self.hint_conv is not None else None
        return self.encoder(gray, stem_extra=hints), gray


def _builder(backbone):
    def build(cfg, out_channels, classification):
        return ResNetUNet(out_channels, backbone, out_stride=4 if classification else 1,
                          in_channels=1 + HINT_CHANNELS if cfg.MODEL.HINTS else 1)
    return build


for _backbone in ("resnet34", "resnet50"):
    register_model(f"{_backbone}_unet", hints="optional", weights={"imagenet": RESNET_WEIGHTS[_backbone]},
                   pretrained_module="encoder", pretrained_unused=RESNET_UNUSED)(_builder(_backbone))
