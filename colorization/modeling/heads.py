"""Heads turn a network's raw output into a loss and into a prediction in the target's units."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.color import AB_SCALE
from .color_bins import annealed_mean, nearest_bins, rebalancing_weights, soft_cross_entropy


def resize_to(x, size):
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class RegressionHead(nn.Module):
    """The network predicts the target channels directly; weighted L1 and L2 terms at the target's resolution."""

    kind = "regression"

    def __init__(self, l1_weight=1.0, l2_weight=0.0):
        super().__init__()
        self.l1_weight, self.l2_weight = l1_weight, l2_weight

    def loss_terms(self, raw, target):
        """{"l1": weighted L1, "l2": weighted L2}, without the terms of weight 0."""
        pred = resize_to(raw, target.shape[-2:])
        terms = {}
        if self.l1_weight > 0:
            terms["l1"] = self.l1_weight * F.l1_loss(pred, target)
        if self.l2_weight > 0:
            terms["l2"] = self.l2_weight * F.mse_loss(pred, target)
        return terms

    def predict(self, raw, size):
        return resize_to(raw, size)


class ClassificationHead(nn.Module):
    """The network predicts logits over Q quantized ab bins (Zhang et al. 2016).

    Loss: cross-entropy against the ground truth soft-encoded over its nearest bins, each pixel weighted by
    the rebalancing weight of its nearest bin (rare, saturated colors count more). Read-out: the annealed
    mean softmax(logits / T) . bins, T = `temperature`. The bins and weights are buffers, so every checkpoint
    carries them.
    """

    kind = "classification"

    def __init__(self, bins, temperature=0.38, class_weights=None, weight=1.0):
        super().__init__()
        self.weight = weight
        bins = torch.as_tensor(bins, dtype=torch.float32)
        self.register_buffer("bins", bins.clone())
        weights = torch.ones(len(bins)) if class_weights is None else torch.as_tensor(class_weights).float()
        self.register_buffer("class_weights", weights.clone())
        self.temperature = temperature

    @property
    def num_bins(self):
        return self.bins.shape[0]

    def set_prior(self, prior, lam=0.5, sigma=5.0):
        """Class rebalancing weights from the empirical prior over self.bins."""
        self.class_weights.copy_(rebalancing_weights(prior.to(self.bins.device), self.bins, lam, sigma))

    def loss_terms(self, logits, target):
        """{"classification": weighted cross-entropy}, or nothing when its weight is 0."""
        return {"classification": self.weight * self.cross_entropy(logits, target)} if self.weight > 0 else {}

    def cross_entropy(self, logits, target):
        ab = F.interpolate(target * AB_SCALE, size=logits.shape[-2:], mode="area")
        with torch.no_grad():
            index, weight = nearest_bins(ab, self.bins)
            class_weights = self.class_weights[index[:, 0]]  # the nearest bin's
        return (soft_cross_entropy(logits.float(), index, weight) * class_weights).mean()

    def predict(self, logits, size):
        ab = annealed_mean(logits.float(), self.bins, self.temperature) / AB_SCALE
        return resize_to(ab, size)
