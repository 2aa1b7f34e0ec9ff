"""Quantized ab color bins: gamut, empirical prior, class rebalancing, soft encoding, annealed mean.

All ab values are in ab units (roughly [-110, 110]), not divided by 110.
"""
from __future__ import annotations

import functools
import os

import cv2
import numpy as np
import torch

from ..data.color import AB_SCALE
from ..errors import UserError

# Pixels per chunk when comparing pixels with all bins: bounds each (chunk x Q) distance matrix (~10 MB on the CPU,
# ~80 MB on a GPU, where fewer, larger chunks keep the kernel launches few).
_PIXELS_PER_CHUNK = {"cpu": 8192, "cuda": 65536}


class ColorPriorFileError(UserError, ValueError):
    """A color-prior .npz that cannot be read or lacks its arrays."""


@functools.lru_cache(maxsize=4)
def _gamut_bins_cached(grid: float, samples_per_channel: int) -> np.ndarray:
    levels = np.linspace(0.0, 1.0, samples_per_channel, dtype=np.float32)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    rgb_cube = np.stack((r, g, b), axis=-1).reshape(-1, 1, 3)
    lab = cv2.cvtColor(rgb_cube, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    cells = np.unique(np.round(lab[:, 1:] / grid).astype(np.int64), axis=0)
    limit = int(round(AB_SCALE / grid))
    cells = cells[(np.abs(cells) <= limit).all(axis=1)]
    return cells.astype(np.float32) * grid  # np.unique sorts rows: a major, b minor


def ab_gamut_bins(grid: float = 10.0, samples_per_channel: int = 64) -> torch.Tensor:
    """(Q, 2) centres of the grid cells over [-110, 110]^2 that some sRGB color reaches at some L.

    With grid 10 and 64^3 RGB samples (OpenCV Lab) this gives 261 bins, a-major order. ImageNet's 313
    also holds cells only reached by out-of-gamut pixels of real photos; both are valid bin sets.
    """
    return torch.from_numpy(_gamut_bins_cached(float(grid), int(samples_per_channel)).copy())


def _as_pixels(ab) -> torch.Tensor:
    """ab as (N, 2) float32. Accepts (B,2,H,W), (2,H,W), (H,W,2) or (N,2), numpy or torch."""
    t = torch.as_tensor(ab).float()
    if t.dim() == 4 and t.shape[1] == 2:
        return t.permute(0, 2, 3, 1).reshape(-1, 2)
    if t.dim() == 3 and t.shape[0] == 2:
        return t.reshape(2, -1).t()
    if t.dim() in (2, 3) and t.shape[-1] == 2:
        return t.reshape(-1, 2)
    raise ValueError(f"expected ab as (B,2,H,W), (2,H,W), (H,W,2) or (N,2), got shape {tuple(t.shape)}")


def _chunks(pixels: torch.Tensor):
    step = _PIXELS_PER_CHUNK.get(pixels.device.type, _PIXELS_PER_CHUNK["cpu"])
    for start in range(0, pixels.shape[0], step):
        yield start, pixels[start:start + step]


def _squared_distances(pixels: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(N, Q) squared distances between N pixels and Q bins, from the coordinate differences: exact (the matmul
    expansion |x|^2 - 2xy + |y|^2 loses precision near ties), and a few elementwise kernels on a GPU, where
    torch.cdist's exact mode is slow (docs/measured_choices.md)."""
    da = pixels[:, :1] - bins[:, 0]
    db = pixels[:, 1:] - bins[:, 1]
    return da * da + db * db


def _nearest_bin_flat(pixels: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    out = torch.empty(pixels.shape[0], dtype=torch.long, device=pixels.device)
    for start, chunk in _chunks(pixels):
        out[start:start + chunk.shape[0]] = _squared_distances(chunk, bins).argmin(dim=1)
    return out


def ab_histogram(ab_images, bins) -> torch.Tensor:
    """Empirical prior p (Q,) over bins (nearest bin per pixel) from an iterable of ab arrays; sums to 1."""
    bins = torch.as_tensor(bins, dtype=torch.float32)
    counts = torch.zeros(bins.shape[0], dtype=torch.float64)
    for ab in ab_images:
        pixels = _as_pixels(ab).cpu()
        if pixels.numel():
            counts += torch.bincount(_nearest_bin_flat(pixels, bins), minlength=bins.shape[0]).double()
    total = counts.sum()
    if total == 0:
        raise ValueError("ab_histogram got no pixels")
    return (counts / total).float()


def _gaussian_smooth_over_bins(prior: torch.Tensor, bins: torch.Tensor, sigma: float) -> torch.Tensor:
    # Smoothing over bin centres (not a dense 2-D grid) works for any bin set, official or computed.
    sq_dist = torch.cdist(bins, bins, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
    kernel = torch.exp(-sq_dist / (2.0 * sigma ** 2))
    smoothed = kernel @ prior
    return smoothed / smoothed.sum()


def rebalancing_weights(prior, bins, lam: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
    """Per-bin class weights w ~ ((1-lam) p~ + lam/Q)^-1, p~ the Gaussian-smoothed prior; sum(p~ w) = 1."""
    prior = torch.as_tensor(prior, dtype=torch.float64)
    bins = torch.as_tensor(bins, dtype=torch.float64)
    if prior.dim() != 1 or bins.shape != (prior.shape[0], 2):
        raise ValueError(f"prior must be (Q,) and bins (Q, 2), got {tuple(prior.shape)} and {tuple(bins.shape)}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    num_bins = prior.shape[0]
    prior = prior / prior.sum()
    smoothed = _gaussian_smooth_over_bins(prior, bins, sigma) if sigma > 0 else prior
    weights = 1.0 / ((1.0 - lam) * smoothed + lam / num_bins)
    weights = weights / (smoothed * weights).sum()
    return weights.float()


def nearest_bins(ab: torch.Tensor, bins: torch.Tensor, k: int = 5, sigma: float = 5.0):
    """Soft encoding of ab (B,2,H,W) over the bins, kept sparse: (indices (B,k,H,W) of each pixel's k nearest bins,
    nearest first; their Gaussian weights (B,k,H,W), summing to 1 over k). Every other bin's weight is 0."""
    if ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"ab must be (B,2,H,W), got {tuple(ab.shape)}")
    bins = torch.as_tensor(bins).to(device=ab.device, dtype=torch.float32)
    k = min(k, bins.shape[0])
    batch, _, height, width = ab.shape
    pixels = _as_pixels(ab.detach())
    nearest_idx = torch.empty(pixels.shape[0], k, dtype=torch.long, device=ab.device)
    nearest_w = torch.empty(pixels.shape[0], k, dtype=torch.float32, device=ab.device)
    for start, chunk in _chunks(pixels):
        sq, top_idx = _squared_distances(chunk, bins).topk(k, dim=1, largest=False)  # nearest first
        # Shifting by the nearest distance keeps far out-of-gamut pixels from underflowing to 0/0.
        w = torch.exp(-(sq - sq[:, :1]) / (2.0 * sigma ** 2))
        nearest_idx[start:start + chunk.shape[0]] = top_idx
        nearest_w[start:start + chunk.shape[0]] = w / w.sum(dim=1, keepdim=True)

    def as_maps(x):
        return x.view(batch, height, width, k).permute(0, 3, 1, 2)
    return as_maps(nearest_idx), as_maps(nearest_w)


def soft_cross_entropy(logits: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy (B,H,W) of logits (B,Q,H,W) against the sparse soft target of nearest_bins:
    -sum_q p_q log softmax(logits)_q = logsumexp(logits) - sum_k w_k logits[index_k], as the weights sum to 1. The
    dense (B,Q,H,W) target is never built, which matters for logits at full resolution."""
    return torch.logsumexp(logits, dim=1) - (weight * logits.gather(1, index)).sum(dim=1)


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, T: float) -> torch.Tensor:
    """ab (B,2,h,w) = sum_q softmax(logits / T)_q * bin_q. T=1: the mean; T -> 0: the mode."""
    if not T > 0:
        raise ValueError(f"annealed-mean temperature T must be > 0, got {T}")
    bins = torch.as_tensor(bins).to(device=logits.device, dtype=logits.dtype)
    if bins.shape != (logits.shape[1], 2):
        raise ValueError(f"{logits.shape[1]} logit channels but bins of shape {tuple(bins.shape)}")
    # Subtracting the max before dividing keeps tiny T from overflowing to inf - inf = nan.
    shifted = logits - logits.amax(dim=1, keepdim=True)
    probs = torch.softmax(shifted / T, dim=1)
    return torch.einsum("bqhw,qc->bchw", probs, bins)


def save_color_prior(path, bins, prior) -> None:
    """Write bins (Q,2) and prior (Q,) to a .npz file."""
    bins = np.asarray(torch.as_tensor(bins, dtype=torch.float32).cpu(), dtype=np.float32)
    prior = np.asarray(torch.as_tensor(prior, dtype=torch.float32).cpu(), dtype=np.float32)
    if bins.ndim != 2 or bins.shape[1] != 2 or prior.shape != (bins.shape[0],):
        raise ValueError(f"bins must be (Q,2) and prior (Q,), got {bins.shape} and {prior.shape}")
    np.savez(path, bins=bins, prior=prior)


def load_color_prior(path):
    """Read (bins (Q,2), prior (Q,)) float32 tensors from a .npz written by save_color_prior."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in ("bins", "prior") if key not in data.files]
            if missing:
                raise ColorPriorFileError(f"color prior file {path!r} lacks array(s) {missing} "
                                          f"(has {data.files}); expected 'bins' and 'prior'")
            bins, prior = data["bins"], data["prior"]
    except ColorPriorFileError:
        raise
    except (OSError, ValueError) as exc:
        raise ColorPriorFileError(f"cannot read color prior file {path!r}: {exc}") from exc
    if bins.ndim != 2 or bins.shape[1] != 2 or prior.shape != (bins.shape[0],):
        raise ColorPriorFileError(f"color prior file {path!r}: bins must be (Q,2) and prior (Q,), "
                                  f"got {bins.shape} and {prior.shape}")
    return torch.from_numpy(bins.astype(np.float32)), torch.from_numpy(prior.astype(np.float32))
