"""What every figure of the benchmark shares: rounding, machine load, MFU against the GPU's peak, FLOP counts, one
core, fresh processes, a config for throw-away runs."""
import contextlib
import math
import multiprocessing
import os

import cv2
import torch

from ..utils.optional import require as require_optional


# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, by a substring of torch.cuda.get_device_name().
# First match wins, so the more specific names come first. --peak_tflops overrides.
PEAK_BF16_TFLOPS = (
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100", 989.4),  # SXM / HBM3
    ("GH200", 989.4),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.1),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("RTX 6000 Ada", 364.2),
    ("A6000", 154.8),
)


def peak_tflops_for(device_name):
    for key, tflops in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops
    return None


def require(module, what):
    """A benchmark-only dependency, imported lazily."""
    package = {"PIL": "pillow", "skimage": "scikit-image"}.get(module.split(".")[0], module.split(".")[0])
    return require_optional(module, what=f"the {what}", install=f"pip install {package} (a benchmark-only "
                                                                  f"dependency)")[0]


@contextlib.contextmanager
def single_core():
    """One torch and one OpenCV thread: what one data-loader worker has."""
    torch_threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv_threads)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def round_sig(x, digits=4):
    if x is None or not isinstance(x, float) or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def forward_gflop(model, size, device):
    """Forward FLOPs of one size x size image (FlopCounterMode counts a multiply-add as 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, model.in_channels, size, size, device=device))
    model.train(was_training)
    return counter.get_total_flops() / 1e9


def loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def mfu(images_per_s, gflop_per_image, peak_tflops):
    if not peak_tflops or not gflop_per_image:
        return None
    return images_per_s * gflop_per_image / (peak_tflops * 1e3)


def in_fresh_process(function, *args):
    """function(*args) in a new interpreter: nothing inherited (allocator state, caches, peak RSS)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(function, args)


def bench_cfg(cfg, workdir, **overrides):
    """The config with the run's outputs in `workdir`, random weights (no downloads) and the given overrides."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.OUTPUT_DIR = os.path.join(workdir, "run")
    cfg.PREDICTIONS_DIR = os.path.join(workdir, "predictions")
    cfg.MODEL.PRETRAINED = ""
    cfg.MODEL.WEIGHT = ""
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    cfg.freeze()
    return cfg
