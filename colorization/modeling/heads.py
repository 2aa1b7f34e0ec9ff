"""Heads turn a network's raw output into a loss and into a prediction in the target's units."""
import torch.nn as nn
import torch.nn.functional as F


def resize_to(x, size):
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class RegressionHead(nn.Module):
    """The network predicts the target channels directly; L1 or L2 loss at the target's resolution."""

    kind = "regression"

    def __init__(self, loss="L1"):
        super().__init__()
        self.loss_name = loss

    def loss(self, raw, target):
        pred = resize_to(raw, target.shape[-2:])
        if self.loss_name == "L1":
            return F.l1_loss(pred, target)
        return F.mse_loss(pred, target)

    def predict(self, raw, size):
        return resize_to(raw, size)
