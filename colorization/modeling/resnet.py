"""ResNet-34 and ResNet-50 (v1.5) without their classifier, in torchvision's state-dict layout, so that the ImageNet
classification weights PyTorch publishes load into them key for key (torchvision itself cannot be installed here).
The encoder of the ResNet U-Nets."""
import torch.nn as nn

from .registry import PublishedWeights

# torchvision's files. ResNet-34's full SHA-256 is checked; ResNet-50's by the 8 hex digits of its name (as torch
# hub checks both).
RESNET_WEIGHTS = {
    "resnet34": PublishedWeights("https://download.pytorch.org/models/resnet34-b627a593.pth",
                                 "b627a593bcbe140c234610266fe4f8ae95ea42fc881d091c9b6052e6b1d0590f"),
    "resnet50": PublishedWeights("https://download.pytorch.org/models/resnet50-0676ba61.pth", ""),
}
# Keys of those files an encoder has no use for: the ImageNet classifier.
RESNET_UNUSED = ("fc.",)


def _bn(channels):
    return nn.BatchNorm2d(channels)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = _bn(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = _bn(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, width * self.expansion, stride)

    conv_bn_pairs = (("conv1", "bn1"), ("conv2", "bn2"))  # bn(conv(x)): merged at export

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """ResNet v1.5: the stride sits on the 3x3 convolution, as in torchvision."""
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = _bn(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = _bn(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, 1, bias=False)
        self.bn3 = _bn(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, width * self.expansion, stride)

    conv_bn_pairs = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))  # bn(conv(x)): merged at export

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def _shortcut(cin, cout, stride):
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _bn(cout))


DEPTHS = {"resnet34": (BasicBlock, (3, 4, 6, 3)), "resnet50": (Bottleneck, (3, 4, 6, 3))}


class ResNetEncoder(nn.Module):
    """forward(x, stem_extra=None) -> [stem (1/2), layer1 (1/4), layer2 (1/8), layer3 (1/16), layer4 (1/32)] for a
    normalised RGB image; stem_extra is added to conv1's output (a hint branch). `channels` lists their widths."""

    def __init__(self, name="resnet34"):
        super().__init__()
        block, counts = DEPTHS[name]
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = _bn(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, layers = 64, []
        for i, (width, count) in enumerate(zip((64, 128, 256, 512), counts)):
            blocks = []
            for j in range(count):
                blocks.append(block(cin, width, stride=2 if i > 0 and j == 0 else 1))
                cin = width * block.expansion
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.channels = [64] + [w * block.expansion for w in (64, 128, 256, 512)]

    def forward(self, x, stem_extra=None):
        x = self.conv1(x)
        if stem_extra is not None:
            x = x + stem_extra
        features = [self.relu(self.bn1(x))]
        x = self.maxpool(features[0])
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            features.append(x)
        return features
