"""Speed and memory figures of the framework, each next to a reference, as dicts (tools/benchmark.py prints them
as JSON lines).

- data:      images/s of one data-loader worker (one core): our item pipeline (ColorizationDataset.__getitem__:
             decode + resize / random crop + LAB) next to Zhang et al.'s demo pipeline (PIL open, 256x256 bicubic
             resize, scikit-image rgb2lab) on the same files; in a process with the framework's allocator
             settings and in one with the C library's defaults.
- train:     images/s of the full Trainer (its data loader and workers, logging, progress bar; evaluation
             excluded) next to a bare loop of the same model, optimizer and batch on tensors already in memory,
             in alternating rounds (one trainer epoch, then as many bare iterations) so both see the same load.
- inference: latency of the tools/inference.py pipeline (read + Colorizer.colorize + write) on a 1024x768 photo.
- memory:    peak memory of each (RSS high-water mark of a fresh process, plus tracemalloc for the data
             pipelines; torch.cuda.max_memory_allocated on CUDA).

On CUDA, training and inference also get MFU: achieved FLOP/s (forward FLOPs counted by torch's FlopCounterMode,
83.4 GFLOP for eccv16 at 256x256 (the published 83.5), 1.4 for basic; a training image costs 3x its forward) over
the GPU's dense bf16 peak (table below, or --peak_tflops). Every row carries the 1-minute load average.
"""
import contextlib
import copy
import io
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile

import cv2
import numpy as np
import torch

from ..config import cfg_from_yaml_string
from ..data import color
from ..data.build import build_dataset
from ..data.image_io import read_image_file
from ..errors import UserError
from ..modeling import build_model
from ..solver.build import build_lr_scheduler, build_optimizer
from ..utils.allocator import keep_freed_memory
from ..utils.env import resolve_amp_dtype, resolve_device, resolve_memory_format
from ..utils.visualize import write_rgb

FIGURES = ("data", "train", "inference", "memory")
DEFAULT_ITERS = {"data": 100, "train": 72, "inference": 10}
TRAIN_WARMUP_ITERS = 3
INFERENCE_WARMUP = 2
INFERENCE_SIZE = (1024, 768)  # width, height of the photo the inference figure colorizes
FLOPS_PER_TRAIN_IMAGE = 3.0  # forward + backward ~ 3x the forward pass

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


def _require(module, what):
    """Benchmark-only dependencies are imported lazily, with a clear message when missing."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        base = module.split(".")[0]
        package = {"PIL": "pillow", "skimage": "scikit-image"}.get(base, base)
        raise UserError(f"the {what} needs {package}, a benchmark-only dependency: pip install {package}") from None


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


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _round(x, digits=4):
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
        model(torch.zeros(1, 1, size, size, device=device))
    model.train(was_training)
    return counter.get_total_flops() / 1e9


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _mfu(images_per_s, gflop_per_image, peak_tflops):
    if not peak_tflops or not gflop_per_image:
        return None
    return images_per_s * gflop_per_image / (peak_tflops * 1e3)


# ---------------------------------------------------------------------------------------------- data pipeline
def reference_item(data, size, pil_image, rgb2lab):
    """Zhang et al.'s demo preprocessing: PIL open -> resize((256, 256), BICUBIC) -> np.asarray -> rgb2lab."""
    img = pil_image.open(io.BytesIO(data)).convert("RGB")
    rgb = np.asarray(img.resize((size, size), pil_image.BICUBIC))
    return rgb2lab(rgb)


def _plain_dataset(dataset):
    return dataset.datasets[0] if hasattr(dataset, "datasets") else dataset


def data_pipelines(dataset, size):
    """name -> callable(i) doing one item of each pipeline on image i of `dataset` (same files for all)."""
    pil = _require("PIL.Image", "reference data pipeline")
    rgb2lab = _require("skimage.color", "reference data pipeline").rgb2lab
    train_set = _plain_dataset(dataset)
    eval_set = copy.copy(train_set)
    eval_set.train = False
    n = len(train_set)
    return {
        "ours_train": lambda i: train_set[(0, i % n)],  # random resized crop + flip, what training loads
        "ours_eval": lambda i: eval_set[i % n],  # resize + centre crop, what validation loads
        "reference_pil_skimage": lambda i: reference_item(train_set.source.read(train_set.names[i % n]), size,
                                                          pil, rgb2lab),
    }


def _data_speed_child(cfg_yaml, iters, repeats, framework_allocator):
    """Runs in a fresh process: seconds of `iters` items of each pipeline on one core, best of `repeats`
    passes. Returns (seconds by pipeline, whether the framework's allocator settings were in force, files)."""
    applied = keep_freed_memory() if framework_allocator else False
    cfg = cfg_from_yaml_string(cfg_yaml)
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
    pipelines = data_pipelines(dataset, cfg.INPUT.SIZE)
    best = {}
    with single_core():
        for name, item in pipelines.items():
            item(0)  # warm-up: first decode, lazy imports
        for _ in range(repeats):  # interleaved, so that a burst of load elsewhere hits every pipeline alike
            for name, item in pipelines.items():
                start = time.perf_counter()
                for i in range(iters):
                    item(i)
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    return best, applied, len(dataset)


def bench_data(cfg, iters, repeats=3):
    """images/s of each pipeline on one core, in two fresh processes: one with the framework's allocator
    settings (utils/allocator.py: what its data-loader workers run with), one with the C library's defaults
    (what a plain Python process, such as the reference demo, runs with). x_reference compares pipelines in
    the same process; x_reference_default_allocator compares ours as our workers run it with the reference
    as a plain process runs it."""
    ref_name = "reference_pil_skimage"
    runs = []
    for framework in (True, False):
        best, applied, files = _in_fresh_process(_data_speed_child, cfg.dump(), iters, repeats, framework)
        runs.append(("framework" if applied else "default", best))
        if not applied:
            break  # not glibc (or the user set its malloc variables): both processes would be the same
    default_ref = iters / runs[-1][1][ref_name]
    rows = []
    for allocator, best in runs:
        ref = iters / best[ref_name]
        for name, seconds in best.items():
            rate = iters / seconds
            row = {"figure": "data_pipeline", "pipeline": name, "allocator": allocator,
                   "images_per_s_per_worker": _round(rate), "ms_per_image": _round(1e3 * seconds / iters),
                   "x_reference": _round(rate / ref, 3)}
            if allocator == "framework" and name != ref_name:
                row["x_reference_default_allocator"] = _round(rate / default_ref, 3)
            rows.append(dict(row, images=iters, size=cfg.INPUT.SIZE, threads=1, best_of=repeats, files=files))
    return rows


# ---------------------------------------------------------------------------------------------- training
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


class _StepClock:
    """Times each iteration of the trainer: a post-hook on its optimizer's step (once per iteration)."""

    def __init__(self, optimizer):
        self.stamps = []
        self.handle = optimizer.register_step_post_hook(lambda *args: self.stamps.append(time.perf_counter()))


class BareLoop:
    """The training step alone: same model, optimizer, loss, autocast and memory format as the Trainer, on
    batches already on the device (no data loading, no logging, no progress bar)."""

    def __init__(self, model, cfg, batches, device):
        self.device = device
        self.amp_dtype = resolve_amp_dtype(cfg.SOLVER.AMP, device)
        memory_format = resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, device)
        self.model = copy.deepcopy(model).to(device, memory_format=memory_format).train()
        self.optimizer = build_optimizer(cfg, self.model)
        self.scheduler = build_lr_scheduler(cfg, self.optimizer, max(1, len(batches)))
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.batches = [(x.to(device, memory_format=memory_format), y.to(device)) for x, y in batches]
        self.it = 0

    def run(self, iters):
        """images/s over `iters` iterations, the median seconds of one, and CPU seconds per iteration."""
        cpu = time.process_time()
        start = time.perf_counter()
        stamps = [start]
        for _ in range(iters):
            x, y = self.batches[self.it % len(self.batches)]
            self.it += 1
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                raw = self.model(x)
            loss = self.model.loss(raw.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            _sync(self.device)
            stamps.append(time.perf_counter())
        per_iter = [b - a for a, b in zip(stamps, stamps[1:])]
        return (iters * len(self.batches[0][0]) / (stamps[-1] - start), statistics.median(per_iter),
                (time.process_time() - cpu) / iters, None)


def _cpu_seconds(pid):
    """User + system CPU seconds of a process (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _worker_pids(loader):
    iterator = getattr(loader, "_iterator", None)  # persistent workers live on between epochs
    return [w.pid for w in getattr(iterator, "_workers", [])]


def trainer_epoch(trainer, clock):
    """One training epoch of the Trainer's own loop (data loader, workers, logging, progress bar), without the
    end-of-epoch evaluation and checkpoint. Returns the images/s it reports (first batch's wait included), the
    median seconds of one iteration, and the CPU seconds per iteration of the main process and of the workers."""
    clock.stamps.clear()
    pids = _worker_pids(trainer.train_loader)
    workers_before = [_cpu_seconds(p) for p in pids]
    main_before = time.process_time()
    trainer._train_one_epoch()
    main_cpu = time.process_time() - main_before
    workers_after = [_cpu_seconds(p) for p in pids]
    trainer.epoch += 1
    trainer.iter_in_epoch, trainer.epoch_loss = 0, [0.0, 0]
    per_iter = [b - a for a, b in zip(clock.stamps, clock.stamps[1:])]
    iters = max(1, len(clock.stamps))
    worker_cpu = (sum(b - a for a, b in zip(workers_before, workers_after))
                  if pids and None not in workers_before + workers_after else None)
    return (trainer.epoch_images / trainer.epoch_seconds, statistics.median(per_iter) if per_iter else None,
            main_cpu / iters, None if worker_cpu is None else worker_cpu / iters)


def _batches_from(dataset, batch_size, count):
    """`count` training batches collated from the data set (epoch 0 augmentation), kept in memory."""
    n = len(dataset)
    out = []
    for b in range(count):
        items = [dataset[(0, (b * batch_size + i) % n)] for i in range(batch_size)]
        out.append((torch.stack([it["input"] for it in items]), torch.stack([it["target"] for it in items])))
    return out


def bench_train(cfg, iters, workdir, peak_tflops=None, train_images=None):
    """Trainer images/s next to the bare loop's, in alternating rounds (one trainer epoch, then as many bare
    iterations), so that both see the same load of a shared machine; after one warm-up round.
    train_images: size of the training set, when already known (saves screening it once more)."""
    from .trainer import Trainer

    if train_images is None:
        train_images = len(build_dataset(cfg, cfg.DATASETS.TRAIN, train=True))
    per_epoch = train_images // cfg.SOLVER.IMS_PER_BATCH  # one process: the Trainer's iterations per epoch
    if per_epoch < 1:
        raise UserError(f"the training data has {train_images} images, fewer than one batch")
    rounds = max(1, math.ceil(iters / per_epoch))
    cfg = bench_cfg(cfg, workdir, **{"SOLVER.MAX_EPOCHS": rounds + 1, "TEST.NUM_TRIPLETS": 0})
    trainer = Trainer(cfg)
    device = trainer.device
    batch = trainer.train_loader.batch_size
    bare = BareLoop(trainer.model, cfg, _batches_from(trainer.train_set, batch, 4), device)
    clock = _StepClock(trainer.optimizer)

    bare.run(TRAIN_WARMUP_ITERS)  # warm-up: allocator, first-call kernels
    trainer_epoch(trainer, clock)  # warm-up: worker start, first epoch
    bare_runs, trainer_runs = [], []
    for _ in range(rounds):
        bare_runs.append(bare.run(per_epoch))
        trainer_runs.append(trainer_epoch(trainer, clock))
    clock.handle.remove()
    trainer.events.close()
    num_workers = cfg.DATALOADER.NUM_WORKERS
    del trainer  # its data-loader workers exit

    ratios = [t[0] / b[0] for t, b in zip(trainer_runs, bare_runs)]
    gflop = forward_gflop(bare.model, cfg.INPUT.SIZE, device)
    train_gflop = FLOPS_PER_TRAIN_IMAGE * gflop
    peak = peak_tflops or (peak_tflops_for(torch.cuda.get_device_name(device)) if device.type == "cuda" else None)
    common = {"arch": cfg.MODEL.ARCH, "head": cfg.MODEL.HEAD, "size": cfg.INPUT.SIZE, "batch": batch,
              "device": str(device), "amp": str(resolve_amp_dtype(cfg.SOLVER.AMP, device)).replace("torch.", ""),
              "rounds": rounds, "iters_per_round": per_epoch, "torch_threads": torch.get_num_threads(),
              "num_workers": num_workers, "gflop_per_train_image": _round(train_gflop), "peak_tflops": peak}
    rows = []
    for loop, runs in (("trainer", trainer_runs), ("bare", bare_runs)):
        rates = [r[0] for r in runs]
        medians = [r[1] for r in runs if r[1] is not None]
        workers = [r[3] for r in runs if r[3] is not None]
        row = {"figure": "training", "loop": loop, "images_per_s": _round(statistics.median(rates)),
               "images_per_s_best": _round(max(rates)),
               "median_s_per_iter": _round(statistics.median(medians)) if medians else None,
               # CPU seconds per iteration: less sensitive than wall time to what else runs on the machine
               "main_cpu_s_per_iter": _round(statistics.median(r[2] for r in runs)),
               "workers_cpu_s_per_iter": _round(statistics.median(workers)) if workers else None}
        row["images_per_s_per_round"] = [_round(r) for r in rates]
        if loop == "trainer":
            # paired: each trainer epoch over the bare iterations run just before it (same machine load)
            row["x_bare_loop"] = _round(statistics.median(ratios), 3)
            row["x_bare_loop_best"] = _round(max(rates) / max(r[0] for r in bare_runs), 3)
            row["x_bare_loop_per_round"] = [_round(r, 3) for r in ratios]
        row["mfu"] = _round(_mfu(statistics.median(rates), train_gflop, peak))
        rows.append(dict(row, **common))
    return rows


# ---------------------------------------------------------------------------------------------- inference
def make_photo(folder, source_zip=None):
    """A 1024x768 JPEG made from the first photo of the embedded sample set (resized; its content is real)."""
    from ..data.paths_catalog import data_dir

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
    from .predictor import Colorizer

    if not model_paths:
        model = build_model(bench_cfg(cfg, tempfile.gettempdir()))
        dev = resolve_device(device)
        return [(f"{cfg.MODEL.ARCH} (random weights)", Colorizer(model.to(dev), cfg, dev))]
    return [(path, Colorizer.from_checkpoint(path, None, device)) for path in model_paths]


def bench_inference(cfg, model_paths, iters, workdir, device="auto", peak_tflops=None):
    photo = make_photo(workdir)
    rows = []
    for label, colorizer in load_colorizers(cfg, model_paths, device):
        dst = os.path.join(workdir, "colorized.png")
        times = {"read": [], "colorize": [], "write": [], "total": []}
        for it in range(INFERENCE_WARMUP + iters):
            t0 = time.perf_counter()
            rgb = read_image_file(photo)
            t1 = time.perf_counter()
            out = colorizer.colorize(rgb)  # ends with .cpu(): synchronised
            t2 = time.perf_counter()
            write_rgb(dst, out)
            t3 = time.perf_counter()
            if it >= INFERENCE_WARMUP:
                for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                    times[k].append(v)
        dev = colorizer.device
        gflop = forward_gflop(colorizer.model, colorizer.cfg.INPUT.SIZE, dev)
        peak = peak_tflops or (peak_tflops_for(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None)
        median = statistics.median(times["total"])
        rows.append({"figure": "inference", "model": label, "arch": colorizer.cfg.MODEL.ARCH,
                     "photo": f"{INFERENCE_SIZE[0]}x{INFERENCE_SIZE[1]}", "net_size": colorizer.cfg.INPUT.SIZE,
                     "device": str(dev), "latency_ms_median": _round(1e3 * median),
                     "latency_ms_best": _round(1e3 * min(times["total"])),
                     "read_ms": _round(1e3 * statistics.median(times["read"])),
                     "colorize_ms": _round(1e3 * statistics.median(times["colorize"])),
                     "write_ms": _round(1e3 * statistics.median(times["write"])),
                     "iters": iters, "torch_threads": torch.get_num_threads(), "gflop_forward": _round(gflop),
                     # FLOPs of one forward over the whole pipeline's latency (read and write included)
                     "mfu_pipeline": _round(_mfu(1.0 / median, gflop, peak)), "peak_tflops": peak})
    return rows


# ---------------------------------------------------------------------------------------------- memory
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


def _status_mb(key):
    try:
        with open("/proc/self/status") as f:
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
        optimizer = build_optimizer(cfg, model)
        amp_dtype = resolve_amp_dtype(cfg.SOLVER.AMP, device)
        b, s = cfg.SOLVER.IMS_PER_BATCH, cfg.INPUT.SIZE
        x = torch.rand(b, 1, s, s, device=device).sub(0.5).contiguous(memory_format=memory_format)
        y = torch.rand(b, color.target_channels(cfg.INPUT.COLOR_SPACE), s, s, device=device).sub(0.5).mul(0.6)
        out["batch"] = b
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
        with PeakRss() as rss:
            for _ in range(arg):  # the second step also holds the optimizer's state
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    raw = model(x)
                loss = model.loss(raw.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            _sync(device)
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


def _in_fresh_process(function, *args):
    """function(*args) in a new interpreter: nothing inherited (allocator state, caches, peak RSS)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(function, args)


def bench_memory(cfg, model_paths, iters, workdir, device="auto"):
    """Peak memory of each measured thing, each in a fresh process: RSS above the process's footprint after its
    set-up (imports, model, data set), tracemalloc (Python and numpy allocations) for the data pipelines, and
    torch.cuda.max_memory_allocated on CUDA."""
    cfg_yaml = cfg.dump()
    rows = []

    def clean(m):
        return {k: _round(v) if isinstance(v, float) else v for k, v in m.items()}

    for pipeline in ("ours_train", "reference_pil_skimage"):
        m = _in_fresh_process(_memory_child, f"data:{pipeline}", cfg_yaml, iters, device)
        rows.append({"figure": "memory", "what": "data_pipeline", "pipeline": pipeline, "size": cfg.INPUT.SIZE,
                     "images": iters, **clean(m)})
    m = _in_fresh_process(_memory_child, "train", cfg_yaml, 2, device)
    rows.append({"figure": "memory", "what": "training_step", "arch": cfg.MODEL.ARCH, "size": cfg.INPUT.SIZE,
                 **clean(m)})
    photo = make_photo(workdir)
    for path in model_paths or [None]:
        m = _in_fresh_process(_memory_child, "inference", cfg_yaml, (path, photo), device)
        rows.append({"figure": "memory", "what": "inference", "photo": f"{INFERENCE_SIZE[0]}x{INFERENCE_SIZE[1]}",
                     **clean(m)})
    return rows


# ---------------------------------------------------------------------------------------------- entry point
def parse_which(text):
    which = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in which if w not in FIGURES]
    if unknown or not which:
        raise UserError(f"--which takes a comma-separated list of {', '.join(FIGURES)}; got {text!r}")
    return which


def run_benchmarks(cfg, which, iters=None, model_paths=(), device="auto", peak_tflops=None, emit=None):
    """The figures' rows (dicts) in the order of `which`; `emit` is called with each as soon as it is measured."""
    emit = emit or (lambda row: None)
    keep_freed_memory()  # as training and inference do
    rows = []
    train_images = None
    with tempfile.TemporaryDirectory(prefix="colorization_bench_") as workdir:
        for w in which:
            n = iters or DEFAULT_ITERS.get(w, DEFAULT_ITERS["data"])
            if w == "data":
                new = bench_data(cfg, n)
                train_images = new[0]["files"]
            elif w == "train":
                new = bench_train(cfg, n, os.path.join(workdir, "train"), peak_tflops, train_images)
            elif w == "inference":
                new = bench_inference(cfg, model_paths, n, workdir, device, peak_tflops)
            else:
                new = bench_memory(cfg, model_paths, iters or 20, workdir, device)
            load = _loadavg()
            for row in new:
                row["loadavg_1min"] = load  # what else ran on the machine: timings are only as good as this
                emit(row)
            rows.extend(new)
    return rows
