"""The screening of a data set's photos (unreadable, too small, gray, dull), measured once per source in parallel
workers and cached: next to the data where that folder is writable, else in the user's cache, keyed by the source's
file list with sizes and modification times. Every process of a run reads the cache instead of decoding every photo
(what that saves: docs/measured_choices.md)."""
import hashlib
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from ..metrics import colorfulness
from ..utils.io import atomic_write
from . import color
from .image_io import ImageDecodeError, decode_image
from .transforms import resize_center_crop

logger = logging.getLogger(__name__)

# Chroma is measured on a small copy: enough to tell a gray photo from a color one, and cheap.
SCREEN_SIDE = 64
# Images with a shorter side than this carry too little to learn from and are skipped.
MIN_SIDE = 8
# Part of the cache key: change it when what measure() computes changes.
_VERSION = 1
CACHE_FOLDER = ".colorization_screening"
_CHUNK = 64
# How long another process of a run waits for the first one's screening before it measures the photos itself: at
# least a minute, and 10 ms a photo (several times what one process takes to screen a photo).
_WAIT_MIN_S, _WAIT_PER_PHOTO_S = 60.0, 0.01


def image_colorfulness(rgb_uint8):
    """Hasler and Suesstrunk's colorfulness of one HxWx3 uint8 image (the metric validation reports)."""
    return float(colorfulness(torch.from_numpy(rgb_uint8).permute(2, 0, 1)[None])[0])


def measure(source, name):
    """{"error": why it cannot be used} or {"chroma": 99th percentile of its chroma, "colorfulness": ...} of one photo,
    on a SCREEN_SIDE copy."""
    try:
        img = decode_image(source.read(name), min_short_side=SCREEN_SIDE)
    except (ImageDecodeError, OSError) as e:
        return {"error": str(e)}
    return measure_image(img)


def measure_image(img):
    """measure() of a decoded HxWx3 uint8 photo."""
    if min(img.shape[:2]) < MIN_SIDE:
        return {"error": f"too small ({img.shape[1]}x{img.shape[0]})"}
    small = resize_center_crop(img, SCREEN_SIDE) if min(img.shape[:2]) > SCREEN_SIDE else img
    return {"chroma": float(color.chroma_percentile(small)), "colorfulness": image_colorfulness(small)}


def _measure_chunk(source, names):
    return [measure(source, n) for n in names]


def _measure_all(source, names, workers):
    # A daemonic process (a multiprocessing.Pool's worker, a data-loader worker) may not start processes: measured
    # in this one.
    if workers <= 1 or len(names) <= _CHUNK or multiprocessing.current_process().daemon:
        return dict(zip(names, _measure_chunk(source, names)))
    chunks = [names[i:i + _CHUNK] for i in range(0, len(names), _CHUNK)]
    with ProcessPoolExecutor(workers) as pool:
        results = pool.map(_measure_chunk, [source] * len(chunks), chunks)
        return {n: m for chunk, found in zip(chunks, results) for n, m in zip(chunk, found)}


def cache_key(source, names):
    """Hex digest of the source's type and its files (names, sizes, modification times)."""
    text = json.dumps([_VERSION, SCREEN_SIDE, MIN_SIDE, type(source).__name__, source.fingerprint(names)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def user_cache_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "colorization",
                        "screening")


def cache_paths(source, key):
    """Where a source's screening is cached: next to the source first, then the user's cache."""
    path = os.path.normpath(source.path)
    file_name = f"{os.path.basename(path)}-{key[:32]}.json"
    return [os.path.join(os.path.dirname(path), CACHE_FOLDER, file_name), os.path.join(user_cache_dir(), file_name)]


def _read_cache(paths, names):
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                found = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(found, dict) and set(found) == set(names):
            return found
    return None


def _write_cache(paths, measures):
    for path in paths:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, lambda f: json.dump(measures, f), mode="w")
            return path
        except OSError as e:
            logger.info("cannot cache the screening at %s (%s)", path, e)
    return None


def measure_source(source, names, workers=0):
    """{name: measure(name)} for `names` of `source`, from the cache when it holds them, else measured (with
    `workers` processes) by the first process of a run and cached; the other processes wait for it and read it (no
    collective call: a process that builds a data set alone never blocks)."""
    paths = cache_paths(source, cache_key(source, names))
    measures = _read_cache(paths, names)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if measures is None and rank != 0:
        deadline = time.monotonic() + max(_WAIT_MIN_S, _WAIT_PER_PHOTO_S * len(names))
        while measures is None and time.monotonic() < deadline:
            time.sleep(0.5)
            measures = _read_cache(paths, names)
    if measures is None:
        logger.info("screening %d photos of %s (%d workers; cached for the next time)", len(names), source.path,
                    workers)
        measures = _measure_all(source, names, workers)
        _write_cache(paths, measures)
    return measures


def screen(source, measures, names, gray_threshold, min_colorfulness=0.0):
    """Keep the names that decode and carry color (and, with min_colorfulness, enough of it). Returns (kept, counts
    of what was dropped: unreadable, grayscale, dull); each unreadable photo is named in a warning."""
    kept, counts = [], {"unreadable": 0, "grayscale": 0, "dull": 0}
    for name in names:
        m = measures[name]
        reason = screen_reason(m, gray_threshold, min_colorfulness)
        if "error" in m:
            logger.warning("skipping %s: %s", source.describe(name), m["error"])
        if reason is None:
            kept.append(name)
        else:
            counts[reason] += 1
    return kept, counts


def screen_reason(m, gray_threshold, min_colorfulness=0.0):
    """Why a photo of measures m (measure()) is left out ("unreadable", "grayscale", "dull"), or None to keep it."""
    if "error" in m:
        return "unreadable"
    if gray_threshold > 0 and m["chroma"] < gray_threshold:
        return "grayscale"
    if min_colorfulness > 0 and m["colorfulness"] < min_colorfulness:
        return "dull"
    return None
