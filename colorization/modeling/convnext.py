"""ConvNeXt (Liu et al. 2022) in the official state-dict layout (facebookresearch/ConvNeXt), with a channels-first
LayerNorm on each stage's output (`norm0`..`norm3`, as DDColor adds them): forward returns those four normalised
feature maps (strides 4, 8, 16, 32). The classifier's final `norm` is kept so the published files load key for key."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import PublishedWeights

# name -> (blocks per stage, channels per stage). "atto" is timm's smallest ConvNeXt size (3.4 M parameters), for
# quick runs and tests; nothing is published for DDColor with it.
CONVNEXT_SIZES = {
    "convnext-atto": ((2, 2, 6, 2), (40, 80, 160, 320)),
    "convnext-t": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "convnext-s": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "convnext-b": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "convnext-l": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}
# The ImageNet-22k classification files (224 px) DDColor initialises its encoder from; each keeps its weights under
# "model". No SHA-256 is published for them.
CONVNEXT_22K_WEIGHTS = {
    name: PublishedWeights(f"https://dl.fbaipublicfiles.com/convnext/convnext_{size}_22k_224.pth", "")
    for name, size in (("convnext-t", "tiny"), ("convnext-s", "small"), ("convnext-b", "base"),
                       ("convnext-l", "large"))
}
# Keys of those files an encoder has no use for: the 22k-class classifier.
CONVNEXT_UNUSED = ("head.",)
_EPS = 1e-6


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def __init__(self, channels, eps=_EPS):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv, LayerNorm, 4x MLP with GELU, layer scale `gamma`, residual."""

    def __init__(self, dim, layer_scale=1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    """forward(x, stem_extra=None) -> [norm0(stage 0), ..., norm3(stage 3)] for a normalised RGB image; stem_extra is
    added to the stem conv's output (a hint branch). `channels` lists the four widths."""

    def __init__(self, name="convnext-t", in_channels=3):
        super().__init__()
        if name not in CONVNEXT_SIZES:
            raise ValueError(f"unknown ConvNeXt {name!r}; known: {', '.join(CONVNEXT_SIZES)}")
        depths, dims = CONVNEXT_SIZES[name]
        self.channels = list(dims)
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(in_channels, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0]))]
            + [nn.Sequential(ChannelsFirstLayerNorm(dims[i]), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2))
               for i in range(3)])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(dim) for _ in range(depth)])
                                    for depth, dim in zip(depths, dims))
        for i, dim in enumerate(dims):
            self.add_module(f"norm{i}", ChannelsFirstLayerNorm(dim))
        # The classifier's final norm: unused here, kept for the file layout. Not trained (DDP refuses parameters
        # that never receive a gradient).
        self.norm = nn.LayerNorm(dims[-1], eps=_EPS).requires_grad_(False)
        self.apply(_init_weights)

    def forward(self, x, stem_extra=None):
        features = []
        for i in range(4):
            if i == 0:
                stem_conv, stem_norm = self.downsample_layers[0]
                x = stem_conv(x)
                x = stem_norm(x if stem_extra is None else x + stem_extra)
            else:
                x = self.downsample_layers[i](x)
            x = self.stages[i](x)
            features.append(getattr(self, f"norm{i}")(x))
        return features


def _init_weights(module):
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
