"""VGG16-BN's convolutional part in torchvision's state-dict layout ("features.N..."), the feature extractor of the
perceptual loss term, and where its ImageNet weights are published."""
import torch.nn as nn

from ..data.color_tensor import imagenet_normalize
from .registry import PublishedWeights

# torchvision's ImageNet classification weights; the 8 hex digits of the name start the file's SHA-256 (checked).
VGG16_BN_WEIGHTS = {"imagenet": PublishedWeights("https://download.pytorch.org/models/vgg16_bn-6c64b313.pth", "")}
# Keys of that file the feature extractor has no use for (the classifier).
VGG16_BN_UNUSED = ("classifier.",)

# Channels of each 3x3 convolution, "M" a 2x2 max pool (VGG's configuration "D").
_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _conv_names():
    """{"conv1_1": index in features, ...}: each convolution by VGG's name, numbered by block and position."""
    names, block, position, index = {}, 1, 1, 0
    for item in _PLAN:
        if item == "M":
            block, position, index = block + 1, 1, index + 1
        else:
            names[f"conv{block}_{position}"] = index
            position, index = position + 1, index + 3  # conv, BatchNorm, ReLU
    return names


CONV_INDEX = _conv_names()


class VGG16BNFeatures(nn.Module):
    """features(rgb, names) -> the outputs of the named convolutions (before their BatchNorm), for RGB in [0, 1];
    it runs only as far as the last one asked for."""

    def __init__(self):
        super().__init__()
        layers, channels = [], 3
        for item in _PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*layers)

    def forward(self, rgb, names):
        wanted = {CONV_INDEX[n]: n for n in names}
        x, out = imagenet_normalize(rgb), {}
        for index, layer in enumerate(self.features[:max(wanted) + 1]):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
        return [out[n] for n in names]
