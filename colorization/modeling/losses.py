"""Loss terms of today's colorization recipe (DDColor, DeOldify, BigColor) on RGB images in [0, 1]: perceptual
distance on VGG16-BN features, DDColor's colorfulness term, the adversarial losses of generator and discriminator,
and the R1 penalty. Plain functions and modules: the engine weighs them and decides when each runs."""
import torch
import torch.nn as nn
import torch.nn.functional as F

# DDColor's perceptual layers and their weights: deeper features count more.
PERCEPTUAL_LAYERS = {"conv1_1": 0.0625, "conv2_1": 0.125, "conv3_1": 0.25, "conv4_1": 0.5, "conv5_1": 1.0}
GAN_TYPES = ("vanilla", "hinge", "least_squares")
# Keeps the colorfulness term's gradient finite on a gray prediction (std 0) while moving its value by < 1e-3.
_SQRT_EPS = 1e-6


class PerceptualLoss(nn.Module):
    """sum over `layers` (default PERCEPTUAL_LAYERS) of weight x mean |f(pred) - f(target)| with a frozen feature
    network f(rgb, names) (VGG16BNFeatures, or EfficientNet-Lite's LiteFeatureNet with its LITE_PERCEPTUAL_LAYERS). f
    stays in eval mode whatever train() says: its BatchNorm uses the ImageNet statistics it was trained with."""

    def __init__(self, vgg, layers=None):
        super().__init__()
        self.layers = dict(layers or PERCEPTUAL_LAYERS)
        self.vgg = vgg.eval().requires_grad_(False)

    def train(self, mode=True):
        return super().train(False)

    def forward(self, pred_rgb, target_rgb):
        names = list(self.layers)
        with torch.no_grad():
            target = self.vgg(target_rgb, names)
        pred = self.vgg(pred_rgb, names)
        return sum(self.layers[n] * F.l1_loss(p.float(), t.float()) for n, p, t in zip(names, pred, target))


def colorfulness_loss(rgb):
    """DDColor's colorfulness term: mean over the batch of 1 - CF, CF = sqrt(std(rg)^2 + std(yb)^2)
    + 0.3 sqrt(mean(rg)^2 + mean(yb)^2) with rg = |R - G|, yb = |(R + G) / 2 - B| on RGB in [0, 1] (DDColor sums over
    its per-GPU batch of 4; the mean keeps the weight independent of the batch)."""
    r, g, b = rgb.float().flatten(2).unbind(1)
    rg, yb = (r - g).abs(), (0.5 * (r + g) - b).abs()
    std = torch.sqrt(rg.std(dim=1).square() + yb.std(dim=1).square() + _SQRT_EPS)
    mean = torch.sqrt(rg.mean(dim=1).square() + yb.mean(dim=1).square() + _SQRT_EPS)
    return (1.0 - (std + 0.3 * mean)).mean()


def _mean_over(logits, fn):
    """The mean of fn(logit map) over a discriminator's outputs (a U-Net discriminator has two)."""
    return sum(fn(x.float()) for x in logits) / len(logits)


def discriminator_loss(kind, real_logits, fake_logits):
    """(loss on real images, loss on fake images) of the discriminator; kind one of GAN_TYPES."""
    if kind == "vanilla":
        real = _mean_over(real_logits, lambda x: F.binary_cross_entropy_with_logits(x, torch.ones_like(x)))
        fake = _mean_over(fake_logits, lambda x: F.binary_cross_entropy_with_logits(x, torch.zeros_like(x)))
    elif kind == "hinge":
        real = _mean_over(real_logits, lambda x: F.relu(1.0 - x).mean())
        fake = _mean_over(fake_logits, lambda x: F.relu(1.0 + x).mean())
    elif kind == "least_squares":
        real = _mean_over(real_logits, lambda x: (x - 1.0).square().mean())
        fake = _mean_over(fake_logits, lambda x: x.square().mean())
    else:
        raise ValueError(f"unknown GAN loss {kind!r}; expected one of {GAN_TYPES}")
    return real, fake


def generator_loss(kind, fake_logits):
    """The generator's adversarial loss on the discriminator's logits of its own output (non-saturating for
    vanilla)."""
    if kind == "vanilla":
        return _mean_over(fake_logits, lambda x: F.binary_cross_entropy_with_logits(x, torch.ones_like(x)))
    if kind == "hinge":
        return _mean_over(fake_logits, lambda x: -x.mean())
    if kind == "least_squares":
        return _mean_over(fake_logits, lambda x: (x - 1.0).square().mean())
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {GAN_TYPES}")


def r1_penalty(real_logits, real_images):
    """Mean over the batch of the squared norm of the gradient of the discriminator's real logits with respect to
    its input (Mescheder et al. 2018); real_images must require grad. Differentiable (for the discriminator)."""
    total = sum(x.float().sum() for x in real_logits)
    (grad,) = torch.autograd.grad(total, real_images, create_graph=True)
    return grad.float().square().flatten(1).sum(dim=1).mean()
