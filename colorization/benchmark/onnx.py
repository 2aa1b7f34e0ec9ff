"""The deploy figure: latency of colorizing a 1024x768 photo (read, net, write) per network with PyTorch eager, with
onnxruntime float32 and with its int8 variant, in interleaved rounds (a busy machine slows all alike), and their
ratios; onnxruntime's graph optimisation and threads picked by measurement; each one's PSNR on the validation photos
(int8 kept only within 0.2 dB of float); and where the time goes (pipeline steps, onnxruntime's slowest operators)."""
import json
import os
import statistics
import time
from collections import defaultdict

import torch

from ..data.build import build_data_loader, build_dataset
from ..deploy import export_onnx, is_onnx_path, load_onnx_model, save_onnx
from ..deploy.onnx_quantize import MAX_INT8_PSNR_DROP, calibration_feeds, quantize_int8
from ..engine.evaluator import evaluate
from ..engine.colorizer import Colorizer
from ..errors import UserError
from .common import round_sig
from .inference import INFERENCE_WARMUP, load_colorizers, make_photo, time_pipeline

TORCH_THREADS = (1, 2)  # PyTorch's intra-op threads get the same chance as onnxruntime's: picked by measurement
SESSION_CANDIDATES = [(opt, threads) for opt in ("basic", "extended", "all") for threads in (1, 2)]
TUNING_ROUNDS = 4
TOP_OPERATORS = 5
PRECISION = {"onnxruntime": "float32", "onnxruntime_int8": "int8"}


def _median_ms(values):
    return round_sig(1e3 * statistics.median(values))


def tune_session(path, x):
    """{(optimization, threads): median ms of the bare network on input x}, measured in interleaved rounds."""
    models = {c: load_onnx_model(path, optimization=c[0], threads=c[1]) for c in SESSION_CANDIDATES}
    times = defaultdict(list)
    for m in models.values():
        m.readout(x)  # first run: allocations and kernel choices
    for _ in range(TUNING_ROUNDS):
        for c, m in models.items():
            t0 = time.perf_counter()
            m.readout(x)
            times[c].append(time.perf_counter() - t0)
    return {c: _median_ms(v) for c, v in times.items()}


def tune_torch_threads(colorizer, x):
    """{threads: median ms of the bare PyTorch network on input x}, measured in interleaved rounds."""
    before = torch.get_num_threads()
    times = defaultdict(list)
    try:
        with torch.no_grad():
            colorizer.backend.readout(x)
            for _ in range(TUNING_ROUNDS):
                for threads in TORCH_THREADS:
                    torch.set_num_threads(threads)
                    t0 = time.perf_counter()
                    colorizer.backend.readout(x)
                    times[threads].append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return {threads: _median_ms(v) for threads, v in times.items()}


def operator_profile(path, settings, x):
    """Share of onnxruntime's operator time per operator type over one run, the largest first."""
    model = load_onnx_model(path, optimization=settings[0], threads=settings[1],
                            profile_prefix=os.path.join(os.path.dirname(path), "profile"))
    model.readout(x)
    with open(model.session.end_profiling(), encoding="utf-8") as f:
        events = json.load(f)
    per_op = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values()) or 1.0
    top = sorted(per_op.items(), key=lambda kv: -kv[1])[:TOP_OPERATORS]
    return {op: round(us / total, 3) for op, us in top}


def validation_psnr(models, cfg, dataset):
    """PSNR on the photos of `dataset` of each (label -> model with predict / in_channels / eval)."""
    loader = build_data_loader(cfg, build_dataset(cfg, [dataset], train=False), train=False)
    return {label: round(evaluate(m, loader, cfg.INPUT.COLOR_SPACE, torch.device("cpu"),
                                  with_baseline=False)[0]["psnr"], 3) for label, m in models.items()}


def _timed_rounds(colorizers, photo, workdir, iters):
    """Interleaved pipeline runs, each round every colorizer once; "net" is the backend's read-out inside the run."""
    times = {label: defaultdict(list) for label in colorizers}
    for it in range(INFERENCE_WARMUP + iters):
        for label, c in colorizers.items():
            spent = []
            read_out = c.backend.readout

            def timed_readout(x, read_out=read_out, spent=spent):
                t0 = time.perf_counter()
                out = read_out(x)
                spent.append(time.perf_counter() - t0)
                return out
            c.backend.readout = timed_readout  # an instance attribute over the method, for this run only
            try:
                step = time_pipeline(c, photo, os.path.join(workdir, f"{label}.png"))
            finally:
                del c.backend.readout
            step["net"] = sum(spent)
            step["pre_post"] = step["colorize"] - step["net"]
            if it >= INFERENCE_WARMUP:
                for k, v in step.items():
                    times[label][k].append(v)
    return times


def _variants(label, colorizer, workdir, calibration):
    """(torch, onnxruntime float, onnxruntime int8) Colorizers of one model, the files, the tuning table."""
    cfg = colorizer.cfg
    stem = os.path.join(workdir, f"model{abs(hash(label)) % 10**8}")
    float_path, int8_path = stem + ".onnx", stem + "_int8.onnx"
    save_onnx(export_onnx(colorizer.model, cfg), float_path)
    save_onnx(export_onnx(colorizer.model, cfg, phase_convolutions=True), stem + "_phase.onnx")
    quantize_int8(stem + "_phase.onnx", int8_path, calibration_feeds(cfg, calibration))
    x = torch.zeros(1, colorizer.model.in_channels, cfg.INPUT.SIZE, cfg.INPUT.SIZE)
    tuning = {"float32": tune_session(float_path, x), "int8": tune_session(int8_path, x)}
    best = {k: min(t, key=t.get) for k, t in tuning.items()}
    cpu = torch.device("cpu")
    colorizers = {"torch": colorizer,
                  "onnxruntime": Colorizer(load_onnx_model(float_path, optimization=best["float32"][0],
                                                           threads=best["float32"][1]), cfg, cpu),
                  "onnxruntime_int8": Colorizer(load_onnx_model(int8_path, optimization=best["int8"][0],
                                                                threads=best["int8"][1]), cfg, cpu)}
    paths = {"onnxruntime": float_path, "onnxruntime_int8": int8_path}
    return colorizers, paths, tuning, best, x


def bench_onnx(cfg, model_paths, iters, workdir):
    """One row per model (--model_to_load checkpoints, or the config's network with random weights); int8 calibrated
    on the config's first DATASETS.TRAIN, PSNR measured on its first DATASETS.TEST."""
    onnx_files = [p for p in model_paths if is_onnx_path(p)]
    if onnx_files:
        raise UserError(f"the onnx figure exports checkpoints itself; give the .pth of {', '.join(onnx_files)}")
    photo = make_photo(workdir)
    rows = []
    for label, torch_colorizer in load_colorizers(cfg, model_paths, "cpu"):
        colorizers, paths, tuning, best, x = _variants(label, torch_colorizer, workdir, cfg.DATASETS.TRAIN[0])
        torch_tuning = tune_torch_threads(torch_colorizer, x)
        threads_before = torch.get_num_threads()
        torch.set_num_threads(min(torch_tuning, key=torch_tuning.get))  # also runs the shared pre / post-processing
        try:
            times = _timed_rounds(colorizers, photo, workdir, iters)
        finally:
            torch.set_num_threads(threads_before)
        psnr = validation_psnr({k: c.model for k, c in colorizers.items()}, torch_colorizer.cfg, cfg.DATASETS.TEST[0])
        total = {k: statistics.median(t["total"]) for k, t in times.items()}
        row = {"figure": "onnx", "model": label, "arch": torch_colorizer.cfg.MODEL.ARCH,
               "photo": "1024x768", "net_size": torch_colorizer.cfg.INPUT.SIZE, "iters": iters,
               "torch_threads": min(torch_tuning, key=torch_tuning.get),
               "torch_net_ms_by_threads": torch_tuning}
        for k, t in times.items():
            row[k] = {"latency_ms_median": _median_ms(t["total"]), "latency_ms_best": round_sig(1e3 * min(t["total"])),
                      "net_ms": _median_ms(t["net"]), "read_ms": _median_ms(t["read"]),
                      "pre_post_ms": _median_ms(t["pre_post"]),
                      "write_ms": _median_ms(t["write"]), "psnr_val": psnr[k]}
        for k, path in paths.items():
            precision = PRECISION[k]
            row[k].update(session={"optimization": best[precision][0], "threads": best[precision][1]},
                          net_ms_by_session={f"{o}/{t}": ms for (o, t), ms in tuning[precision].items()},
                          operator_share=operator_profile(path, best[precision], x))
        row["x_torch_onnxruntime"] = round(total["torch"] / total["onnxruntime"], 3)
        row["x_torch_int8"] = round(total["torch"] / total["onnxruntime_int8"], 3)
        row["int8_psnr_drop_db"] = round(psnr["onnxruntime"] - psnr["onnxruntime_int8"], 3)
        row["int8_kept"] = row["int8_psnr_drop_db"] <= MAX_INT8_PSNR_DROP
        rows.append(row)
    return rows
