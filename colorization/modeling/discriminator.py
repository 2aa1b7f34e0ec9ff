"""Discriminators of the adversarial loss term: PatchGAN (pix2pix) and a small U-Net discriminator (Schoenfeld et al.,
as DDColor uses one). Both see RGB in [0, 1] and return a list of logit maps (one per output of the network)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


def _conv(cin, cout, kernel, stride, padding, norm, bias=True):
    conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=bias)
    if norm == "spectral":
        return [spectral_norm(conv)]
    return [conv] + ([nn.InstanceNorm2d(cout, affine=True)] if norm == "instance" else [])


def _act():
    return nn.LeakyReLU(0.2, inplace=True)


class PatchDiscriminator(nn.Module):
    """num_layers stride-2 4x4 convolutions (channels width, 2 width, ... up to 8 width), one stride-1 layer and a
    1-channel output: one logit per receptive field (70x70 pixels with 3 layers). No BatchNorm: real and fake images
    go through it in one batch."""

    def __init__(self, width=64, num_layers=3, norm="spectral"):
        super().__init__()
        channels = [width * min(2 ** i, 8) for i in range(num_layers + 1)]
        layers = _conv(3, channels[0], 4, 2, 1, "spectral" if norm == "spectral" else "none") + [_act()]
        for i in range(1, num_layers):
            layers += _conv(channels[i - 1], channels[i], 4, 2, 1, norm) + [_act()]
        layers += _conv(channels[num_layers - 1], channels[num_layers], 4, 1, 1, norm) + [_act()]
        layers += _conv(channels[num_layers], 1, 4, 1, 1, "spectral" if norm == "spectral" else "none")
        self.net = nn.Sequential(*layers)

    def forward(self, rgb):
        return [self.net(rgb * 2 - 1)]


class UNetDiscriminator(nn.Module):
    """An encoder of num_layers stride-2 stages whose deepest features give one logit for the whole image, and a
    decoder with skip connections that gives one logit per pixel (real or fake, pixel by pixel)."""

    def __init__(self, width=64, num_layers=3, norm="spectral"):
        super().__init__()
        channels = [width * min(2 ** i, 8) for i in range(num_layers + 1)]
        self.stem = nn.Sequential(*_conv(3, channels[0], 3, 1, 1, norm), _act())
        self.down = nn.ModuleList(nn.Sequential(*_conv(channels[i], channels[i + 1], 4, 2, 1, norm), _act())
                                  for i in range(num_layers))
        self.global_logit = nn.Sequential(*_conv(channels[-1], 1, 1, 1, 0, "spectral" if norm == "spectral" else
                                                 "none"))
        self.up = nn.ModuleList(nn.Sequential(*_conv(channels[i + 1] + channels[i], channels[i], 3, 1, 1, norm),
                                              _act()) for i in reversed(range(num_layers)))
        self.pixel_logit = nn.Sequential(*_conv(channels[0], 1, 1, 1, 0, "spectral" if norm == "spectral" else
                                                "none"))

    def forward(self, rgb):
        x = self.stem(rgb * 2 - 1)
        skips = [x]
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        whole = self.global_logit(x).mean(dim=(2, 3), keepdim=True)
        for stage, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        return [whole, self.pixel_logit(x)]


DISCRIMINATORS = {"patch": PatchDiscriminator, "unet": UNetDiscriminator}


def build_discriminator(cfg):
    d = cfg.DISCRIMINATOR
    return DISCRIMINATORS[d.ARCH](d.WIDTH, d.NUM_LAYERS, d.NORM)
