"""The precision figure: images/s of the training step alone (the bare loop of train.py, on batches already on the
device) for the config's model and batch in float32 with contiguous tensors, in bf16 autocast with channels_last
tensors (on CUDA also with cuDNN's algorithm search), and that under torch.compile; each with its ratio to float32,
its MFU and, on CUDA, its peak memory. This is what SOLVER.AMP, MODEL.MEMORY_FORMAT and MODEL.COMPILE choose
between."""
import time

import torch

from ..data.build import build_dataset
from ..modeling import build_model
from ..utils.env import resolve_device
from .common import bench_cfg, forward_gflop, mfu, peak_tflops_for, round_sig
from .train import FLOPS_PER_TRAIN_IMAGE, BareLoop, batches_from

# name -> (SOLVER.AMP, MODEL.MEMORY_FORMAT, MODEL.COMPILE, torch.backends.cudnn.benchmark: let cuDNN time its
# convolution algorithms for each new shape and keep the fastest; CUDA only)
VARIANTS = {
    "fp32": ("none", "contiguous", False, False),
    "bf16_channels_last": ("bf16", "channels_last", False, False),
    "bf16_channels_last_cudnn_benchmark": ("bf16", "channels_last", False, True),
    "bf16_channels_last_compile": ("bf16", "channels_last", True, False),
}
PRECISION_WARMUP_ITERS = 5  # the compiled variant compiles in its first iterations


def default_variants(device):
    """Every variant; cuDNN's algorithm search only on CUDA."""
    return [v for v, settings in VARIANTS.items() if device.type == "cuda" or not settings[3]]


def _peak_mb(device):
    return round_sig(torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None


def bench_precision(cfg, iters, workdir, peak_tflops=None, variants=None, batches=None):
    """One row per variant, on MODEL.DEVICE; `batches`: training batches to reuse (made from the config's training
    data if None)."""
    cfg = bench_cfg(cfg, workdir)
    device = resolve_device(cfg.MODEL.DEVICE)
    variants = variants or default_variants(device)
    model = build_model(cfg).to(device)
    if batches is None:
        batches = batches_from(build_dataset(cfg, cfg.DATASETS.TRAIN, train=True), cfg.SOLVER.IMS_PER_BATCH, 4)
    gflop = FLOPS_PER_TRAIN_IMAGE * forward_gflop(model, cfg.INPUT.SIZE, device)
    peak = peak_tflops or (peak_tflops_for(torch.cuda.get_device_name(device)) if device.type == "cuda" else None)
    rows = []
    for name in variants:
        amp, memory_format, compiled, cudnn_benchmark = VARIANTS[name]
        variant_cfg = bench_cfg(cfg, workdir, **{"SOLVER.AMP": amp, "MODEL.MEMORY_FORMAT": memory_format,
                                                 "MODEL.COMPILE": compiled})
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        if compiled:
            torch._dynamo.reset()  # a fresh graph for this model and batch, not a recompiled dynamic-shape one
        torch.manual_seed(cfg.SOLVER.SEED)
        bare = BareLoop(model, variant_cfg, batches, device)
        was_benchmark, torch.backends.cudnn.benchmark = torch.backends.cudnn.benchmark, cudnn_benchmark
        try:
            start = time.perf_counter()
            bare.run(PRECISION_WARMUP_ITERS)
            warmup_s = time.perf_counter() - start
            images_per_s, median_s, _, _ = bare.run(iters)
        finally:
            torch.backends.cudnn.benchmark = was_benchmark
        rows.append({"figure": "precision", "variant": name, "arch": cfg.MODEL.ARCH, "head": cfg.MODEL.HEAD,
                     "size": cfg.INPUT.SIZE, "batch": len(batches[0][0]), "device": str(device), "amp": amp,
                     "memory_format": memory_format, "compile": compiled, "cudnn_benchmark": cudnn_benchmark,
                     "images_per_s": round_sig(images_per_s),
                     "median_s_per_iter": round_sig(median_s), "warmup_s": round_sig(warmup_s), "iters": iters,
                     "gflop_per_train_image": round_sig(gflop), "mfu": round_sig(mfu(images_per_s, gflop, peak)),
                     "peak_tflops": peak, "cuda_peak_allocated_mb": _peak_mb(device),
                     # PyTorch runs float32 convolutions on TF32 tensor cores unless this is off
                     "tf32_convolutions": torch.backends.cudnn.allow_tf32 if device.type == "cuda" else None})
        del bare
    base = next((r["images_per_s"] for r in rows if r["variant"] == "fp32"), None)
    for r in rows:
        r["x_fp32"] = round_sig(r["images_per_s"] / base, 3) if base else None
    return rows
