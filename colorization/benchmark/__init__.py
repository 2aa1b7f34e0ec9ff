"""Speed and memory figures of the framework, each next to a reference, as dicts (tools/benchmark.py prints them
as JSON lines). One module per figure:

- data.py:      images/s of one data-loader worker (one core), ours next to Zhang et al.'s demo preprocessing;
- train.py:     images/s of the full Trainer next to a bare loop of the same TrainStep on in-memory batches;
- inference.py: latency of read + colorize + write of a 1024x768 photo, per model;
- memory.py:    peak memory of each, in fresh processes;
- video.py:     frames/s and flicker (warp error, CDC) of colorization-video on a 640x480 clip with camera motion,
                frame by frame and with stability, and their ratios;
- onnx.py:      the same photo through PyTorch eager, onnxruntime float32 and int8 (CPU), ratios, PSNR, profile.

On CUDA, training and inference also get MFU: achieved FLOP/s (forward FLOPs counted by torch's FlopCounterMode,
83.4 GFLOP for eccv16 at 256x256 (the published 83.5), 1.4 for basic; a training image costs 3x its forward) over
the GPU's dense bf16 peak (common.PEAK_BF16_TFLOPS, or --peak_tflops). Every row carries the 1-minute load average.
"""
import os
import tempfile

from ..errors import UserError
from ..utils.allocator import keep_freed_memory
from .common import loadavg
from .data import bench_data
from .inference import bench_inference
from .memory import bench_memory
from .onnx import bench_onnx
from .train import bench_train
from .video import bench_video

FIGURES = ("data", "train", "inference", "memory", "video")  # what a plain run measures
# Asked for by name only: it needs the .[onnx] extra and minutes of export, quantisation and session tuning.
OPT_IN_FIGURES = ("onnx",)
# video: frames of the clip
DEFAULT_ITERS = {"data": 100, "train": 72, "inference": 10, "memory": 20, "video": 90, "onnx": 10}


def parse_which(text):
    which = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in which if w not in FIGURES + OPT_IN_FIGURES]
    if unknown or not which:
        raise UserError(f"--which takes a comma-separated list of {', '.join(FIGURES + OPT_IN_FIGURES)}; "
                        f"got {text!r}")
    return which


def run_benchmarks(cfg, which, iters=None, model_paths=(), device="auto", peak_tflops=None, emit=None):
    """The figures' rows (dicts) in the order of `which`; `emit` is called with each as soon as it is measured."""
    emit = emit or (lambda row: None)
    keep_freed_memory()  # as training and inference do
    rows = []
    train_images = None
    with tempfile.TemporaryDirectory(prefix="colorization_bench_") as workdir:
        for w in which:
            n = iters or DEFAULT_ITERS[w]
            if w == "data":
                new = bench_data(cfg, n)
                train_images = new[0]["files"]
            elif w == "train":
                new = bench_train(cfg, n, os.path.join(workdir, "train"), peak_tflops, train_images)
            elif w == "inference":
                new = bench_inference(cfg, model_paths, n, workdir, device, peak_tflops)
            elif w == "video":
                new = bench_video(cfg, model_paths, n, workdir, device)
            elif w == "memory":
                new = bench_memory(cfg, model_paths, n, workdir, device)
            else:
                new = bench_onnx(cfg, model_paths, n, workdir)
            load = loadavg()
            for row in new:
                row["loadavg_1min"] = load  # what else ran on the machine: timings are only as good as this
                emit(row)
            rows.extend(new)
    return rows
