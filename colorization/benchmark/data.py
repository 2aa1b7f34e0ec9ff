"""The data figure: images/s of one data-loader worker (one core) for what our training workers do (decode + random
crop + flip to uint8; the color work happens on the trainer's device), from the data set's files and from the same
photos packed into shards (colorization-pack, short side 256, JPEG 95), and for an evaluation item (decode + resize +
LAB on the CPU), next to Zhang et al.'s demo pipeline (PIL open, 256x256 bicubic resize, scikit-image rgb2lab) on the
same files, in a process with the framework's allocator settings and in one with the C library's defaults."""
import copy
import io
import os
import tempfile
import time

import numpy as np

from ..config import cfg_from_yaml_string
from ..data.build import build_dataset
from ..errors import UserError
from ..utils.allocator import keep_freed_memory
from .common import in_fresh_process, require, round_sig, single_core


def reference_item(data, size, pil_image, rgb2lab):
    """Zhang et al.'s demo preprocessing: PIL open -> resize((256, 256), BICUBIC) -> np.asarray -> rgb2lab."""
    img = pil_image.open(io.BytesIO(data)).convert("RGB")
    rgb = np.asarray(img.resize((size, size), pil_image.BICUBIC))
    return rgb2lab(rgb)


def _plain_dataset(dataset):
    return dataset.datasets[0] if hasattr(dataset, "datasets") else dataset


def data_pipelines(dataset, size, packed=None):
    """name -> callable(i) doing one item of each pipeline on image i of `dataset` (same files for all); packed: the
    same data set read from shards."""
    pil = require("PIL.Image", "reference data pipeline")
    rgb2lab = require("skimage.color", "reference data pipeline").rgb2lab
    train_set = _plain_dataset(dataset)
    eval_set = copy.copy(train_set)
    eval_set.train = False
    n = len(train_set)
    pipelines = {
        "ours_train": lambda i: train_set.raw_item((0, i % n)),  # random resized crop + flip, what workers hand over
        "ours_eval": lambda i: eval_set[i % n],  # resize + centre crop, what validation loads
        "reference_pil_skimage": lambda i: reference_item(train_set.source.read(train_set.names[i % n]), size,
                                                          pil, rgb2lab),
    }
    if packed is not None:
        shards_set = _plain_dataset(packed)
        pipelines["ours_train_shards"] = lambda i: shards_set.raw_item((0, i % n))
    return pipelines


def packed_copy(cfg, dataset, folder):
    """The training data set packed into shards under `folder` (None without the shards extra)."""
    try:
        from ..data.pack import pack
        from ..data.shards import require_webdataset
        require_webdataset()
    except UserError:
        return None
    part = _plain_dataset(dataset)
    pack(part.source, part.names, folder, size=256, quality=95, gray_threshold=0.0)
    return build_dataset(cfg, (folder,), train=True)


def _data_speed_child(cfg_yaml, iters, repeats, framework_allocator):
    """Runs in a fresh process: seconds of `iters` items of each pipeline on one core, best of `repeats`
    passes. Returns (seconds by pipeline, whether the framework's allocator settings were in force, files)."""
    applied = keep_freed_memory() if framework_allocator else False
    cfg = cfg_from_yaml_string(cfg_yaml)
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
    with tempfile.TemporaryDirectory() as packed_dir:
        packed = packed_copy(cfg, dataset, os.path.join(packed_dir, "shards"))
        pipelines = data_pipelines(dataset, cfg.INPUT.SIZE, packed)
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
            if name == "ours_train_shards":  # the same photos from shards over from the data set's own files
                row["x_ours_train"] = round_sig(seconds and best["ours_train"] / seconds, 3)
            rows.append(dict(row, images=iters, size=cfg.INPUT.SIZE, threads=1, best_of=repeats, files=files))
    return rows

