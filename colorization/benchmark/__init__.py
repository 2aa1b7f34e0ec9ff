"""Speed and memory figures of the framework, each next to a reference, as dicts (tools/benchmark.py prints them
as JSON lines). One module per figure:

- data.py:      images/s of one data-loader worker (one core), ours next to Zhang et al.'s demo preprocessing;
- train.py:     images/s of the full Trainer next to a bare loop of the same TrainStep on in-memory batches, and of
                its data loader alone;
- precision.py: images/s of that bare loop in float32, in bf16 + channels_last and compiled (only when asked:
                --which precision; compiling takes minutes on a CPU);
- inference.py: latency of read + colorize + write of a 1024x768 photo, per model;
- memory.py:    peak memory of each, in fresh processes;
- video.py:     frames/s and flicker (warp error, CDC) of colorization-video on a 640x480 clip with camera motion,
                frame by frame and with stability, and their ratios;
- onnx.py:      the same photo through PyTorch eager, onnxruntime float32 and int8 (CPU), ratios, PSNR, profile
                (only when asked: --which onnx);
- ab_upsampling.py: the PSNR and colorfulness ceiling the colorize pipeline's geometry leaves (square or aspect-kept,
                nearest or bilinear ab upsampling), from each photo's true ab on DATASETS.TEST (only when asked);
- ddcolor_reference.py: a DDColor config's colorize of that photo against the public DDColor pipeline's, same
                weights, in PyTorch and through onnxruntime (only when asked, with DDColor's code on the machine);
- load.py:      colorization-serve under N concurrent clients on loopback: p50 / p95 latency of /api/colorize for a
                1024x768 photo, requests/s, errors, the server's peak memory (only when asked: --which load).

On CUDA, training and inference also get MFU: achieved FLOP/s (forward FLOPs counted by torch's FlopCounterMode,
83.4 GFLOP for eccv16 at 256x256 (the published 83.5), 1.4 for basic; a training image costs 3x its forward) over
the GPU's dense bf16 peak (common.PEAK_BF16_TFLOPS, or --peak_tflops). Every row carries the 1-minute load average.
"""
import os
import tempfile

from ..errors import UserError
from ..utils.allocator import keep_freed_memory
from .common import loadavg
from .ab_upsampling import bench_ab_upsampling
from .data import bench_data
from .ddcolor_reference import bench_ddcolor_reference
from .inference import bench_inference
from .memory import bench_memory
from .onnx import bench_onnx
from .precision import bench_precision
from .train import bench_train
from .video import bench_video

DEFAULT_FIGURES = ("data", "train", "inference", "memory", "video")  # what a plain run measures
# Asked for by name only: precision compiles the network (minutes on a CPU); onnx needs the .[onnx] extra and minutes
# of export, quantisation and session tuning; load needs model files and the .[serve] extra.
FIGURES = DEFAULT_FIGURES + ("precision", "onnx", "load", "ddcolor_reference", "ab_upsampling")
# video: frames of the clip; load: requests per model and way of sending the photo
DEFAULT_ITERS = {"data": 100, "train": 72, "precision": 20, "inference": 10, "memory": 20, "video": 90, "onnx": 10,
                 "load": 40, "ddcolor_reference": 3,
                 "ab_upsampling": 100}
DEFAULT_CLIENTS = 4


def parse_which(text):
    which = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in which if w not in FIGURES]
    if unknown or not which:
        raise UserError(f"--which takes a comma-separated list of {', '.join(FIGURES)}; got {text!r}")
    return which


def _load_figure():
    """The serve package needs FastAPI and uvicorn (the serve extra): imported only when the load figure runs."""
    try:
        from .load import bench_load
    except ImportError as e:
        raise UserError(f"the load figure needs {e.name}: pip install -e \".[serve]\"") from None
    return bench_load


def _figure(w, cfg, n, model_paths, workdir, device, peak_tflops, train_images, clients):
    if w == "data":
        return bench_data(cfg, n)
    if w == "train":
        return bench_train(cfg, n, os.path.join(workdir, "train"), peak_tflops, train_images)
    if w == "precision":
        return bench_precision(cfg, n, os.path.join(workdir, "precision"), peak_tflops)
    if w == "inference":
        return bench_inference(cfg, model_paths, n, workdir, device, peak_tflops)
    if w == "memory":
        return bench_memory(cfg, model_paths, n, workdir, device)
    if w == "video":
        return bench_video(cfg, model_paths, n, workdir, device)
    if w == "onnx":
        return bench_onnx(cfg, model_paths, n, workdir)
    if w == "ab_upsampling":
        return bench_ab_upsampling(cfg, cfg.DATASETS.TEST, n)
    if w == "ddcolor_reference":
        return bench_ddcolor_reference(cfg, model_paths, n, workdir, device)
    return _load_figure()(model_paths, n, clients, workdir, device)


def run_benchmarks(cfg, which, iters=None, model_paths=(), device="auto", peak_tflops=None, emit=None,
                   clients=DEFAULT_CLIENTS):
    """The figures' rows (dicts) in the order of `which`; `emit` is called with each as soon as it is measured."""
    emit = emit or (lambda row: None)
    keep_freed_memory()  # as training and inference do
    rows = []
    train_images = None
    with tempfile.TemporaryDirectory(prefix="colorization_bench_") as workdir:
        for w in which:
            new = _figure(w, cfg, iters or DEFAULT_ITERS[w], model_paths, workdir, device, peak_tflops,
                          train_images, clients)
            if w == "data":
                train_images = new[0]["files"]
            load = loadavg()
            for row in new:
                row["loadavg_1min"] = load  # what else ran on the machine: timings are only as good as this
                emit(row)
            rows.extend(new)
    return rows
