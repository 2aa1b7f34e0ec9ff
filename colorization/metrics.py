"""Per-image image-quality metrics (L1/L2, PSNR, SSIM, colorfulness, AuC) as batched torch code.
Every metric returns a tensor of shape (B,) on the input's device; `MetricAccumulator` averages them over a data set.
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

__all__ = [
    "l1_error",
    "l2_error",
    "psnr",
    "ssim",
    "colorfulness",
    "auc_ab",
    "compute_image_metrics",
    "colorfulness_gap",
    "frechet_distance",
    "MetricAccumulator",
    "PSNR_CAP_DB",
]

#: PSNR of identical images is +inf, which spoils averages; it is capped here (dB).
PSNR_CAP_DB = 100.0

_DATA_RANGE = 255.0
_SSIM_WIN = 11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * _DATA_RANGE) ** 2
_SSIM_C2 = (0.03 * _DATA_RANGE) ** 2


# --------------------------------------------------------------------------- helpers


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float32 else x.to(torch.float32)


def _check_pair(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.dim() < 1 or pred.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty batch, got shape {tuple(pred.shape)}")


def _check_rgb(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected RGB images of shape (B, 3, H, W), got {tuple(x.shape)}")


def _check_ab(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4 or x.shape[1] != 2:
        raise ValueError(f"{name}: expected ab maps of shape (B, 2, H, W), got {tuple(x.shape)}")


# --------------------------------------------------------------------------- metrics


def l1_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per image over all channels and pixels; inputs (B, ...) -> (B,)."""
    _check_pair(pred, target, "l1_error")
    return (_f32(pred) - _f32(target)).abs().flatten(1).mean(dim=1)


def l2_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image over all channels and pixels; inputs (B, ...) -> (B,)."""
    _check_pair(pred, target, "l2_error")
    return (_f32(pred) - _f32(target)).square().flatten(1).mean(dim=1)


def psnr(pred_rgb: torch.Tensor, target_rgb: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image, 20 log10(255 / sqrt(MSE)) on 0..255 RGB; capped at PSNR_CAP_DB (identical images)."""
    _check_rgb(pred_rgb, "psnr")
    _check_pair(pred_rgb, target_rgb, "psnr")
    mse = l2_error(pred_rgb, target_rgb)
    value = 10.0 * torch.log10(_DATA_RANGE**2 / mse)  # mse == 0 -> +inf, then capped
    return value.clamp(max=PSNR_CAP_DB)


def _gaussian_kernel_1d(device: torch.device) -> torch.Tensor:
    radius = _SSIM_WIN // 2
    xs = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (xs / _SSIM_SIGMA) ** 2)
    return (k / k.sum()).to(device=device, dtype=torch.float32)


def ssim(pred_rgb: torch.Tensor, target_rgb: torch.Tensor) -> torch.Tensor:
    """SSIM per image: Gaussian window 11 / sigma 1.5, C1=(0.01*255)^2, C2=(0.03*255)^2, per channel, valid region.

    Matches skimage's structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=255, channel_axis=-1): statistics over the window, the 5-pixel border dropped, mean over
    channels and pixels. Images smaller than 11x11 raise ValueError.
    """
    _check_rgb(pred_rgb, "ssim")
    _check_pair(pred_rgb, target_rgb, "ssim")
    b, c, h, w = pred_rgb.shape
    if h < _SSIM_WIN or w < _SSIM_WIN:
        raise ValueError(f"ssim: images must be at least {_SSIM_WIN}x{_SSIM_WIN} pixels, got {h}x{w}")
    x = _f32(pred_rgb)
    y = _f32(target_rgb)
    # (Co)variances are shift invariant: centre each channel first so float32 keeps its precision.
    mx = x.mean(dim=(2, 3), keepdim=True)
    my = y.mean(dim=(2, 3), keepdim=True)
    xc = x - mx
    yc = y - my
    stack = torch.cat([xc, yc, xc * xc, yc * yc, xc * yc], dim=1)  # (B, 5C, H, W)
    n = stack.shape[1]
    k = _gaussian_kernel_1d(stack.device)
    stack = F.conv2d(stack, k.view(1, 1, -1, 1).expand(n, 1, -1, 1), groups=n)  # along H, valid
    stack = F.conv2d(stack, k.view(1, 1, 1, -1).expand(n, 1, 1, -1), groups=n)  # along W, valid
    fxc, fyc, fxx, fyy, fxy = stack.split(c, dim=1)
    ux = fxc + mx
    uy = fyc + my
    vx = fxx - fxc * fxc
    vy = fyy - fyc * fyc
    vxy = fxy - fxc * fyc
    num = (2.0 * ux * uy + _SSIM_C1) * (2.0 * vxy + _SSIM_C2)
    den = (ux * ux + uy * uy + _SSIM_C1) * (vx + vy + _SSIM_C2)
    return (num / den).flatten(1).mean(dim=1)


def colorfulness(rgb: torch.Tensor, absolute: bool = False) -> torch.Tensor:
    """Hasler & Suesstrunk (2003) colorfulness per image of 0..255 RGB (population std); (B, 3, H, W) -> (B,).

    absolute=True: the variant of the published colorization tables (DDColor's basicsr/metrics/colorfulness.py and
    the common implementation), rg = |R - G| and yb = |(R + G)/2 - B|; the paper has no absolute values. The two
    give different numbers, so a report names the one it uses.
    """
    _check_rgb(rgb, "colorfulness")
    x = _f32(rgb)
    r, g, bl = x[:, 0], x[:, 1], x[:, 2]
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - bl).flatten(1)
    if absolute:
        rg, yb = rg.abs(), yb.abs()
    var_rg, mean_rg = torch.var_mean(rg, dim=1, correction=0)
    var_yb, mean_yb = torch.var_mean(yb, dim=1, correction=0)
    return torch.sqrt(var_rg + var_yb) + 0.3 * torch.sqrt(mean_rg.square() + mean_yb.square())


def auc_ab(pred_ab: torch.Tensor, target_ab: torch.Tensor, max_threshold: int = 150) -> torch.Tensor:
    """Zhang et al.'s AuC per image: fraction of pixels with ||ab_pred - ab_gt||_2 <= t, averaged over
    t = 0..max_threshold.

    Exact without a (thresholds x pixels) tensor: for integer t, e <= t <=> ceil(e) <= t, so a pixel counts for
    max(0, max_threshold + 1 - ceil(e)) of the max_threshold + 1 thresholds. Result in [0, 1].
    """
    _check_ab(pred_ab, "auc_ab")
    _check_pair(pred_ab, target_ab, "auc_ab")
    if isinstance(max_threshold, bool) or int(max_threshold) != max_threshold or max_threshold < 0:
        raise ValueError(f"auc_ab: max_threshold must be a non-negative integer, got {max_threshold!r}")
    n_thr = int(max_threshold) + 1
    err = torch.linalg.vector_norm(_f32(pred_ab) - _f32(target_ab), dim=1)  # (B, H, W)
    hits = (n_thr - torch.ceil(err)).clamp(min=0.0)  # number of thresholds t with err <= t
    return hits.flatten(1).mean(dim=1) / n_thr


def compute_image_metrics(
    pred_rgb: torch.Tensor,
    target_rgb: torch.Tensor,
    pred_ab: torch.Tensor,
    target_ab: torch.Tensor,
) -> Dict[str, torch.Tensor]:
    """All per-image metrics of a batch: psnr, ssim, colorfulness (of pred), colorfulness_target, auc, l1_ab, l2_ab.

    RGB: (B, 3, H, W) 0..255 (uint8 or float holding 8-bit values); ab: (B, 2, H, W) in LAB ab units.
    """
    _check_rgb(pred_rgb, "compute_image_metrics")
    _check_ab(pred_ab, "compute_image_metrics")
    if pred_rgb.shape[0] != pred_ab.shape[0]:
        raise ValueError(
            f"compute_image_metrics: RGB batch {pred_rgb.shape[0]} != ab batch {pred_ab.shape[0]}"
        )
    return {
        "psnr": psnr(pred_rgb, target_rgb),
        "ssim": ssim(pred_rgb, target_rgb),
        "colorfulness": colorfulness(pred_rgb),
        "colorfulness_target": colorfulness(target_rgb),
        "auc": auc_ab(pred_ab, target_ab),
        "l1_ab": l1_error(pred_ab, target_ab),
        "l2_ab": l2_error(pred_ab, target_ab),
    }


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Frechet distance of two Gaussians, ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)): FID on Inception features.

    With S1 = L L^T, S1 S2 has the eigenvalues of the symmetric positive semi-definite L^T S2 L, so tr((S1 S2)^(1/2))
    is the sum of their square roots: a Cholesky factor and one symmetric eigenvalue solve in float64 on the inputs'
    device, where scipy's sqrtm needs a general complex matrix square root. A jitter of 1e-8 of S1's mean variance
    on its diagonal lets Cholesky factor a singular covariance (fewer images than dimensions); it moves the result by
    about 1e-8 of the trace.
    """
    mu1, mu2, sigma1, sigma2 = (t.to(torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    sigma1 = (sigma1 + sigma1.T) / 2
    d = sigma1.shape[0]
    jitter = 1e-8 * float(sigma1.trace()) / d + 1e-30
    factor, info = torch.linalg.cholesky_ex(sigma1 + jitter * torch.eye(d, dtype=sigma1.dtype, device=sigma1.device))
    if int(info) != 0:  # not positive definite even so: the symmetric square root instead
        values, vectors = torch.linalg.eigh(sigma1)
        factor = vectors * values.clamp(min=0).sqrt()
    middle = factor.T @ sigma2 @ factor
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross)


# --------------------------------------------------------------------------- aggregation


def colorfulness_gap(mean_cf_pred: float, mean_cf_target: float) -> float:
    """|mean CF(pred) - mean CF(target)|: the gap of data-set means, not a mean of per-image gaps."""
    return abs(float(mean_cf_pred) - float(mean_cf_target))


class MetricAccumulator:
    """Running sums and counts of per-image metric values, by name; mean via summary().

    Sums stay on the values' device (no host sync per update); summary() and all_reduce() synchronise.
    """

    def __init__(self) -> None:
        self._sums: Dict[str, torch.Tensor] = {}
        self._counts: Dict[str, int] = {}

    @staticmethod
    def _acc_dtype(device: torch.device) -> torch.dtype:
        return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64

    def update(self, name: str, values: torch.Tensor) -> None:
        """Add per-image values (any shape; usually (B,)) to metric `name`."""
        values = values.detach()
        if values.numel() == 0:
            return
        s = values.to(self._acc_dtype(values.device)).sum()
        if name in self._sums:
            self._sums[name] = self._sums[name] + s.to(self._sums[name].device, self._sums[name].dtype)
            self._counts[name] += values.numel()
        else:
            self._sums[name] = s
            self._counts[name] = values.numel()

    def all_reduce(self) -> "MetricAccumulator":
        """Sum sums and counts over all processes if torch.distributed is initialised, else no-op; returns self.

        Collective: every rank must call it. Names may differ between ranks (their union is used).
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, sorted(self._sums))
        names = sorted(set().union(*gathered))
        if dist.get_backend() == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        else:
            device = torch.device("cpu")
        buf = torch.zeros(2 * len(names), dtype=torch.float64, device=device)
        for i, name in enumerate(names):
            if name in self._sums:
                buf[i] = self._sums[name].to(device, torch.float64)
                buf[len(names) + i] = float(self._counts[name])
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        values = buf.tolist()
        self._sums = {n: torch.tensor(values[i], dtype=torch.float64) for i, n in enumerate(names)}
        self._counts = {n: int(round(values[len(names) + i])) for i, n in enumerate(names)}
        return self

    def summary(self) -> Dict[str, float]:
        """Mean of every metric with at least one value: {name: float}."""
        return {n: float(self._sums[n]) / self._counts[n] for n in self._sums if self._counts[n] > 0}
