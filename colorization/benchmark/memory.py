"""The memory figure: peak memory of the data pipelines, a training step and inference, each in a fresh process
(RSS high-water mark above the set-up's footprint; tracemalloc for the data pipelines; torch.cuda's peak on CUDA)."""
import os
import resource
import sys
import tracemalloc

import torch

from ..config import cfg_from_yaml_string
from ..data import color
from ..data.build import build_dataset
from ..data.image_io import read_image_file
from ..modeling import build_model
from ..solver.build import build_optimizer
from ..utils.allocator import keep_freed_memory
from ..utils.env import resolve_device, resolve_memory_format
from ..utils.visualize import write_rgb
from .common import in_fresh_process, round_sig, single_core, sync
from .data import data_pipelines
from .inference import INFERENCE_SIZE, load_colorizers, make_photo
from .train import model_step


class PeakRss:
    """Peak resident memory of a block above the memory in use when it starts, in MiB (.delta_mb).

    Linux: the high-water mark VmHWM is reset at the start (/proc/self/clear_refs), so the figure is not masked by
    an earlier, larger peak. Elsewhere: the growth of ru_maxrss, which an earlier peak can hide (reads 0)."""

    def __enter__(self):
        self.exact = _reset_hwm()
        self.base = _status_mb("VmRSS") if self.exact else _maxrss_mb()
        return self

    def __exit__(self, *exc):
        peak = _status_mb("VmHWM") if self.exact else _maxrss_mb()
        self.delta_mb = max(0.0, peak - self.base)


def _reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mb("VmHWM") is not None
    except OSError:
        return False


def _status_mb(key, status_file="/proc/self/status"):
    try:
        with open(status_file) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _maxrss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _memory_child(kind, cfg_yaml, arg, device_name):
    """Runs in a fresh process (set-up first, then the measured block), with the allocator settings the
    framework runs with, except for the reference pipeline (a plain Python process)."""
    if kind != "data:reference_pil_skimage":
        keep_freed_memory()
    cfg = cfg_from_yaml_string(cfg_yaml)
    device = resolve_device(device_name)
    out = {}
    if kind.startswith("data:"):
        dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
        item = data_pipelines(dataset, cfg.INPUT.SIZE)[kind[5:]]
        peak_item = 0
        with single_core(), PeakRss() as rss:
            tracemalloc.start()
            for i in range(arg):
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                item(i)
                peak_item = max(peak_item, tracemalloc.get_traced_memory()[1] - before)
            tracemalloc.stop()
        out["tracemalloc_peak_per_item_mb"] = peak_item / 2**20
    elif kind == "train":
        model = build_model(cfg).to(device)
        memory_format = resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, device)
        model = model.to(memory_format=memory_format).train()
        step = model_step(model, cfg, device, build_optimizer(cfg, model))
        b, s = cfg.SOLVER.IMS_PER_BATCH, cfg.INPUT.SIZE
        x = torch.rand(b, model.in_channels, s, s, device=device).sub(0.5)
        batch = {"input": x.contiguous(memory_format=memory_format),
                 "target": torch.rand(b, color.target_channels(cfg.INPUT.COLOR_SPACE), s, s,
                                      device=device).sub(0.5).mul(0.6)}
        out["batch"] = b
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
        with PeakRss() as rss:
            for _ in range(arg):  # the second step also holds the optimizer's state
                step(batch)
            sync(device)
        if device.type == "cuda":
            out["cuda_peak_allocated_mb"] = (torch.cuda.max_memory_allocated(device) - before) / 2**20
    elif kind == "inference":
        model_path, photo = arg
        (label, colorizer), = load_colorizers(cfg, [model_path] if model_path else [], device_name)
        out["model"] = label
        dev = colorizer.device
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
            before = torch.cuda.memory_allocated(dev)
        with PeakRss() as rss:
            write_rgb(os.path.join(os.path.dirname(photo), "colorized_memory.png"),
                      colorizer.colorize(read_image_file(photo)))
        if dev.type == "cuda":
            out["cuda_peak_allocated_mb"] = (torch.cuda.max_memory_allocated(dev) - before) / 2**20
    else:
        raise ValueError(kind)
    out["peak_rss_delta_mb"] = rss.delta_mb
    out["rss_hwm_reset"] = rss.exact
    return out


def bench_memory(cfg, model_paths, iters, workdir, device="auto"):
    """Peak memory of each measured thing, each in a fresh process: RSS above the process's footprint after its
    set-up (imports, model, data set), tracemalloc (Python and numpy allocations) for the data pipelines, and
    torch.cuda.max_memory_allocated on CUDA."""
    cfg_yaml = cfg.dump()
    rows = []

    def clean(m):
        return {k: round_sig(v) if isinstance(v, float) else v for k, v in m.items()}

    for pipeline in ("ours_train", "reference_pil_skimage"):
        m = in_fresh_process(_memory_child, f"data:{pipeline}", cfg_yaml, iters, device)
        rows.append({"figure": "memory", "what": "data_pipeline", "pipeline": pipeline, "size": cfg.INPUT.SIZE,
                     "images": iters, **clean(m)})
    m = in_fresh_process(_memory_child, "train", cfg_yaml, 2, device)
    rows.append({"figure": "memory", "what": "training_step", "arch": cfg.MODEL.ARCH, "size": cfg.INPUT.SIZE,
                 **clean(m)})
    photo = make_photo(workdir)
    for path in model_paths or [None]:
        m = in_fresh_process(_memory_child, "inference", cfg_yaml, (path, photo), device)
        rows.append({"figure": "memory", "what": "inference", "photo": f"{INFERENCE_SIZE[0]}x{INFERENCE_SIZE[1]}",
                     **clean(m)})
    return rows

