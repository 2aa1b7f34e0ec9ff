"""FID of colorized images against their targets: an Inception v3 (colorization/modeling/inception.py; pytorch-fid's
or torchvision's layout, chosen by the weights) computes 2048-d features batch by batch on the model's device; only
sums (mean and covariance) are kept, so that the statistics of several processes add up and no feature list grows
with the data set. The same Frechet distance on EfficientNet-Lite's 1280-d features is the offline "feature
distance" (not comparable with published FID)."""
import os

import torch

from .. import metrics
from ..checkpoint import load_official_state_dict, load_published_network, resolve_published
from ..checkpoint.download import fetch_weights, file_sha256
from ..checkpoint.weights import is_url
from ..modeling.efficientnet_lite import LITE_UNUSED, LITE_WEIGHTS, LiteFeatureNet
from ..modeling.inception import (FID_FEATURES, FID_INCEPTION_WEIGHTS, TORCHVISION_INCEPTION_WEIGHTS, FIDInceptionV3,
                                  TorchvisionInceptionV3)

# FID on fewer images is biased upwards (the covariance of 2048-d features is poorly estimated): below this many the
# reports say so. pytorch-fid recommends at least 2048; papers use 5k to 50k.
FID_RELIABLE_IMAGES = 2048
# Width of EfficientNet-Lite's head: the features of the feature distance.
LITE_FEATURES = 1280


# Every name the FID weights may be given by: pytorch-fid's file (FIDInceptionV3) and torchvision's earlier file
# (TorchvisionInceptionV3, the published colorization tables' FID).
FID_WEIGHTS = {**FID_INCEPTION_WEIGHTS, **TORCHVISION_INCEPTION_WEIGHTS}


def build_fid_network(spec, device):
    """The Inception network of FID with the weights spec names (see TEST.FID_WEIGHTS), in eval mode on device: a
    file with torchvision's auxiliary classifier (AuxLogits.*) gets TorchvisionInceptionV3, any other
    FIDInceptionV3."""
    state = resolve_published(spec, FID_WEIGHTS, what="FID weights")
    net = TorchvisionInceptionV3() if any(k.startswith("AuxLogits.") for k in state) else FIDInceptionV3()
    load_official_state_dict(net, state, f"FID weights {spec}")
    return net.eval().requires_grad_(False).to(device)


def fid_weights_sha256(spec):
    """SHA-256 of the file the FID weights spec names (after build_fid_network fetched it: a cache hit)."""
    entry = FID_WEIGHTS.get(spec.strip().lower())
    if entry is not None:
        path = fetch_weights(entry.url, entry.sha256 or None, progress=False)
    elif is_url(spec):
        path = fetch_weights(spec, None, progress=False)
    else:
        path = os.path.expanduser(spec)
    return file_sha256(path)


def build_feature_distance_network(name, device):
    """EfficientNet-Lite `name` ("efficientnet_lite0" ..) with the installed package's ImageNet weights, giving the
    1280-d features of the feature distance, in eval mode on device."""
    net = load_published_network(LiteFeatureNet(name), "imagenet", LITE_WEIGHTS[name], LITE_UNUSED,
                                 what="--feature_distance weights")
    return net.eval().requires_grad_(False).to(device)


class FeatureMoments:
    """Sums of features and of their outer products: mean and covariance without keeping the features."""

    def __init__(self, device, dim=FID_FEATURES):
        self.total = torch.zeros(dim, dtype=torch.float64, device=device)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64, device=device)
        self.count = 0

    def add(self, features):
        f = features.to(torch.float64)
        self.total += f.sum(dim=0)
        self.outer += f.T @ f
        self.count += len(f)

    def mean_cov(self):
        mean = self.total / self.count
        cov = (self.outer - self.count * torch.outer(mean, mean)) / max(self.count - 1, 1)
        return mean, cov


class FIDAccumulator:
    """add(stream, rgb) with uint8 (B, 3, H, W) batches of named streams ("target", "model", "baseline");
    compute() -> {stream: FID against "target"} and the number of target images, summed over processes when
    torch.distributed is initialised (a collective then). FID is None below 2 images (no covariance). key: the summary
    name of its scores ("fid", or "feature_distance" for EfficientNet-Lite's); dim: the network's feature size."""

    def __init__(self, network, device, key="fid", dim=FID_FEATURES):
        self.network, self.device, self.key, self.dim = network, device, key, dim
        self.streams = {}

    def _moments(self, stream):
        return self.streams.setdefault(stream, FeatureMoments(self.device, self.dim))

    @torch.no_grad()
    def add(self, stream, rgb_uint8):
        features = self.network(rgb_uint8.to(self.device, non_blocking=True).float() / 255.0)
        self._moments(stream).add(features)

    def _all_reduce(self, names):
        import torch.distributed as dist
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        for name in names:  # every process holds the same streams (the evaluator adds them for every batch)
            m = self._moments(name)
            packed = torch.cat([m.total, m.outer.flatten(), m.total.new_tensor([m.count])])
            dist.all_reduce(packed)
            m.total, m.outer = packed[:self.dim], packed[self.dim:-1].view(self.dim, self.dim)
            m.count = int(packed[-1].item())

    def compute(self, names=("model",)):
        """({name: FID of that stream against "target"}, number of target images); every process passes the same
        names."""
        self._all_reduce(["target", *names])
        target = self._moments("target")
        scores = {}
        for name in names:
            moments = self._moments(name)
            ok = target.count > 1 and moments.count > 1
            scores[name] = metrics.frechet_distance(*moments.mean_cov(), *target.mean_cov()) if ok else None
        return scores, target.count
