"""The inference figure: latency of the tools/inference.py pipeline (read + Colorizer.colorize + write) on a
1024x768 photo made from the embedded sample set, per model; on CUDA also the MFU of the whole pipeline and the peak
GPU memory allocated (weights included)."""
import os
import statistics
import tempfile
import time
import zipfile

import cv2
import numpy as np
import torch

from ..data.image_io import read_image_file
from ..data.paths_catalog import data_dir
from ..engine.colorizer import Colorizer
from ..modeling import build_model
from ..utils.env import resolve_device
from ..utils.visualize import write_rgb
from .common import bench_cfg, forward_gflop, mfu, peak_tflops_for, round_sig

INFERENCE_WARMUP = 2
INFERENCE_SIZE = (1024, 768)  # width, height of the photo the inference figure colorizes


def make_photo(folder, source_zip=None):
    """A 1024x768 JPEG made from the first photo of the embedded sample set (resized; its content is real)."""
    source_zip = source_zip or os.path.join(data_dir(), "sample_photos.zip")
    with zipfile.ZipFile(source_zip) as zf:
        name = sorted(n for n in zf.namelist() if n.lower().endswith(".jpg"))[0]
        data = zf.read(name)
    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.resize(rgb, INFERENCE_SIZE, interpolation=cv2.INTER_CUBIC)
    path = os.path.join(folder, "photo_1024x768.jpg")
    cv2.imwrite(path, rgb, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def load_colorizers(cfg, model_paths, device):
    """(label, Colorizer) per --model_to_load entry, or the config's model with random weights."""
    if not model_paths:
        model = build_model(bench_cfg(cfg, tempfile.gettempdir()))
        dev = resolve_device(device)
        return [(f"{cfg.MODEL.ARCH} (random weights)", Colorizer(model.to(dev), cfg, dev))]
    return [(path, Colorizer.from_checkpoint(path, None, device)) for path in model_paths]


def time_pipeline(colorizer, photo, dst):
    """Seconds of one read + colorize + write of `photo` into `dst`: {"read", "colorize", "write", "total"}."""
    t0 = time.perf_counter()
    rgb = read_image_file(photo)
    t1 = time.perf_counter()
    out = colorizer.colorize(rgb)  # ends with .cpu(): synchronised
    t2 = time.perf_counter()
    write_rgb(dst, out)
    t3 = time.perf_counter()
    return {"read": t1 - t0, "colorize": t2 - t1, "write": t3 - t2, "total": t3 - t0}


def bench_inference(cfg, model_paths, iters, workdir, device="auto", peak_tflops=None):
    photo = make_photo(workdir)
    rows = []
    for label, colorizer in load_colorizers(cfg, model_paths, device):
        dst = os.path.join(workdir, "colorized.png")
        dev = colorizer.device
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        times = {"read": [], "colorize": [], "write": [], "total": []}
        for it in range(INFERENCE_WARMUP + iters):
            timed = time_pipeline(colorizer, photo, dst)
            if it >= INFERENCE_WARMUP:
                for k, v in timed.items():
                    times[k].append(v)
        peak_mb = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
        gflop = forward_gflop(colorizer.model, colorizer.cfg.INPUT.SIZE, dev)
        peak = peak_tflops or (peak_tflops_for(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None)
        median = statistics.median(times["total"])
        rows.append({"figure": "inference", "model": label, "arch": colorizer.cfg.MODEL.ARCH,
                     "photo": f"{INFERENCE_SIZE[0]}x{INFERENCE_SIZE[1]}", "net_size": colorizer.cfg.INPUT.SIZE,
                     "device": str(dev), "latency_ms_median": round_sig(1e3 * median),
                     "latency_ms_best": round_sig(1e3 * min(times["total"])),
                     "read_ms": round_sig(1e3 * statistics.median(times["read"])),
                     "colorize_ms": round_sig(1e3 * statistics.median(times["colorize"])),
                     "write_ms": round_sig(1e3 * statistics.median(times["write"])),
                     "iters": iters, "torch_threads": torch.get_num_threads(), "gflop_forward": round_sig(gflop),
                     # FLOPs of one forward over the whole pipeline's latency (read and write included)
                     "mfu_pipeline": round_sig(mfu(1.0 / median, gflop, peak)), "peak_tflops": peak,
                     "cuda_peak_allocated_mb": round_sig(peak_mb)})
    return rows

