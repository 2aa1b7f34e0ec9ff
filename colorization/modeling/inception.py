"""Inception v3 as FID computes it, written without torchvision: 2048-d pool features of RGB images resized to
299x299, in two layouts.

- FIDInceptionV3: pytorch-fid's port of the 2015 TensorFlow graph, in the state-dict layout of pytorch-fid's file. Its
  blocks differ from torchvision's classification network: average pools leave the padding out of their count, and
  the last block max-pools its pool branch (as the TensorFlow graph does).
- TorchvisionInceptionV3: torchvision's network (with its auxiliary classifier, so that its file loads strictly) and
  the input transform of DDColor's FID code, which the published colorization tables (DDColor, CT2) used."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import PublishedWeights

# pytorch-fid's file; the 8 hex digits of its name start its SHA-256 (checked).
FID_INCEPTION_WEIGHTS = {"pytorch_fid": PublishedWeights(
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth", "")}
# torchvision's earlier Inception v3 release, the file DDColor's FID code loads (today's torchvision file is
# inception_v3_google-0cc3c7bd.pth, other weights); the 8 hex digits of its name start its SHA-256 (checked).
TORCHVISION_INCEPTION_WEIGHTS = {"torchvision_1a9a5a14": PublishedWeights(
    "https://download.pytorch.org/models/inception_v3_google-1a9a5a14.pth", "")}
FID_INPUT_SIZE = 299
FID_FEATURES = 2048
# ImageNet RGB mean and std of torchvision's transform_input.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool(x):
    """The TensorFlow graph's average pool: padding left out of the count."""
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def _avg_pool_torchvision(x):
    return F.avg_pool2d(x, 3, 1, 1)


def _max_pool(x):
    return F.max_pool2d(x, 3, 1, 1)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features, pool=_avg_pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(self.pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, pool=_avg_pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = x
        for i in range(1, 6):
            double = getattr(self, f"branch7x7dbl_{i}")(double)
        return torch.cat([self.branch1x1(x), seven, double, self.branch_pool(self.pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        seven = x
        for i in range(1, 5):
            seven = getattr(self, f"branch7x7x3_{i}")(seven)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """pool: the pool branch's pooling (in the TensorFlow graph the last block max-pools, the one before
    average-pools)."""

    def __init__(self, cin, pool=_avg_pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = self.pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a), self.branch3x3dbl_3a(b),
                          self.branch3x3dbl_3b(b), self.branch_pool(pooled)], 1)


class _InceptionTrunk(nn.Module):
    """The layers both layouts share; `avg_pool` / `last_pool`: the pool branches' pooling before / in Mixed_7c."""

    def __init__(self, avg_pool, last_pool):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32, avg_pool)
        self.Mixed_5c = InceptionA(256, 64, avg_pool)
        self.Mixed_5d = InceptionA(288, 64, avg_pool)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, avg_pool)
        self.Mixed_6c = InceptionC(768, 160, avg_pool)
        self.Mixed_6d = InceptionC(768, 160, avg_pool)
        self.Mixed_6e = InceptionC(768, 192, avg_pool)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, avg_pool)
        self.Mixed_7c = InceptionE(2048, last_pool)

    def pool_features(self, x):
        """(B, 2048) final pool features of an input already resized to 299 and scaled as the weights expect."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def _resized(rgb):
    return F.interpolate(rgb.float(), size=(FID_INPUT_SIZE, FID_INPUT_SIZE), mode="bilinear", align_corners=False)


class FIDInceptionV3(_InceptionTrunk):
    """pytorch-fid's network: forward(rgb in [0, 1], (B, 3, H, W)) -> (B, 2048) pool features. The classifier `fc`
    (1008 classes) is kept only so that the published file loads strictly; FID does not use it."""

    def __init__(self):
        super().__init__(_avg_pool, _max_pool)
        self.fc = nn.Linear(FID_FEATURES, 1008)

    def forward(self, rgb):
        return self.pool_features(2 * _resized(rgb) - 1)  # the TensorFlow graph's input range


class InceptionAux(nn.Module):
    """torchvision's auxiliary classifier: in the weights file, unused by FID."""

    def __init__(self, cin, num_classes=1000):
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.fc = nn.Linear(768, num_classes)


class TorchvisionInceptionV3(_InceptionTrunk):
    """torchvision's Inception v3 (layout of inception_v3_google-*.pth) with the input transform of DDColor's FID code
    (basicsr/metrics/custom_fid.py): forward(rgb in [0, 1], (B, 3, H, W)) -> (B, 2048) pool features.

    That code resizes bilinearly to 299, then maps x -> x * 0.5 + 0.5 (written for inputs in [-1, 1], though it is
    given [0, 1]) and applies torchvision's transform_input, x_c * std_c / 0.5 + (mean_c - 0.5) / 0.5. Reproduced as
    written: the published FIDs come from exactly this, and "fixing" it gives other numbers."""

    def __init__(self):
        super().__init__(_avg_pool_torchvision, _avg_pool_torchvision)
        self.AuxLogits = InceptionAux(768)
        self.fc = nn.Linear(FID_FEATURES, 1000)
        self.register_buffer("scale", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1) / 0.5, persistent=False)
        self.register_buffer("shift", (torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1) - 0.5) / 0.5,
                             persistent=False)

    def forward(self, rgb):
        x = _resized(rgb) * 0.5 + 0.5
        return self.pool_features(x * self.scale + self.shift)
