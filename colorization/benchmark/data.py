"""The data figure: images/s of one data-loader worker (one core) for our item pipeline (decode + resize / random
crop + LAB) next to Zhang et al.'s demo pipeline (PIL open, 256x256 bicubic resize, scikit-image rgb2lab) on the
same files, in a process with the framework's allocator settings and in one with the C library's defaults."""
import copy
import io
import time

import numpy as np

from ..config import cfg_from_yaml_string
from ..data.build import build_dataset
from ..utils.allocator import keep_freed_memory
from .common import in_fresh_process, require, round_sig, single_core


def reference_item(data, size, pil_image, rgb2lab):
    """Zhang et al.'s demo preprocessing: PIL open -> resize((256, 256), BICUBIC) -> np.asarray -> rgb2lab."""
    img = pil_image.open(io.BytesIO(data)).convert("RGB")
    rgb = np.asarray(img.resize((size, size), pil_image.BICUBIC))
    return rgb2lab(rgb)


def _plain_dataset(dataset):
    return dataset.datasets[0] if hasattr(dataset, "datasets") else dataset


def data_pipelines(dataset, size):
    """name -> callable(i) doing one item of each pipeline on image i of `dataset` (same files for all)."""
    pil = require("PIL.Image", "reference data pipeline")
    rgb2lab = require("skimage.color", "reference data pipeline").rgb2lab
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
        best, applied, files = in_fresh_process(_data_speed_child, cfg.dump(), iters, repeats, framework)
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
                   "images_per_s_per_worker": round_sig(rate), "ms_per_image": round_sig(1e3 * seconds / iters),
                   "x_reference": round_sig(rate / ref, 3)}
            if allocator == "framework" and name != ref_name:
                row["x_reference_default_allocator"] = round_sig(rate / default_ref, 3)
            rows.append(dict(row, images=iters, size=cfg.INPUT.SIZE, threads=1, best_of=repeats, files=files))
    return rows

