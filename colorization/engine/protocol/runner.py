"""Running a protocol: each photo resized to 256x256 as the protocol says, made gray and colorized through the model's
own pipeline (Colorizer), then PSNR, SSIM, colorfulness (the tables' variant), L1 ab and Inception features, batch by
batch on the model's device.

Resumable: per-photo results and features are written in chunks of CHUNK photos (to a temporary name, then renamed)
under the cache folder, keyed by the data set's list, the FID weights and the model's weights; a killed run finds its
finished chunks and computes only the rest. The originals' features (and the "no color" baseline's) are computed once
per data set and shared by every model."""
import logging
import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ... import metrics
from ...config import get_cfg
from ...data import color
from ...data.image_io import ImageDecodeError, decode_image
from ...data.list_source import ListSource, paths_sha256
from ...data.paths_catalog import DATASETS, resolve_dataset
from ...data.sources import open_source
from ...errors import UserError
from ...modeling.inception import FID_FEATURES
from ..fid import FeatureMoments
from .published import SIZE

logger = logging.getLogger(__name__)

# Photos per cache file: what a kill loses at most.
CHUNK = 250
# A photo whose 99th-percentile chroma stays below this is counted as gray: the threshold training drops them by.
GRAY_CHROMA = get_cfg().DATASETS.GRAY_CHROMA_THRESHOLD
# Per-photo values of a colorization (and of the baseline) kept in the cache.
PHOTO_METRICS = ("psnr", "ssim", "colorfulness", "l1_ab")


def protocol_resize(rgb, center_crop):
    """HxWx3 uint8 -> SIZE x SIZE uint8: the center square, or the whole photo, resized bilinearly."""
    if center_crop:
        h, w = rgb.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        rgb = rgb[top:top + side, left:left + side]
    return cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


@dataclass
class ProtocolData:
    """The photos of a protocol run: the source, their names in order, and the record of what they are."""
    protocol: object
    source: object
    names: list
    location: str  # the folder (and list) the photos come from
    list_sha256: str  # of the whole data set's names, one a line (a shipped list's header sha256), --limit or not
    expected: int  # the number of photos the protocol's data set has (0: not fixed)

    @property
    def partial(self):
        return bool(self.expected) and len(self.names) < self.expected


def open_protocol_data(protocol, limit=0):
    """The photos of a protocol (the first `limit` only, when given), checked: a missing folder, missing listed files
    or a whole folder that does not hold the expected number of photos are errors naming what to do."""
    spec = resolve_dataset(protocol.dataset)
    source = open_source(spec.source, spec.root)
    if isinstance(source, ListSource):
        names, every_name = source.list_images(limit), source.paths
    else:
        names = every_name = source.list_images()
    expected = DATASETS.get(protocol.dataset, {}).get("count", 0)
    download = DATASETS.get(protocol.dataset, {}).get("download")
    where = spec.root or spec.source
    if limit:
        if len(names) < limit:
            raise UserError(f"--limit {limit}: data set {protocol.dataset!r} ({where}) holds only {len(names)} photos")
        names = names[:limit]
    elif expected and len(names) != expected:
        raise UserError(f"data set {protocol.dataset!r} ({where}) holds {len(names)} photos, the protocol expects "
                        f"{expected}: put the complete data set there" + (f" ({download})" if download else "") +
                        ", or evaluate its first N photos with --limit N (not comparable with published rows)")
    location = f"{spec.source} under {spec.root}" if isinstance(source, ListSource) else spec.source
    return ProtocolData(protocol, source, names, location, paths_sha256(every_name), expected)


class _Photos(Dataset):
    """Items: (index, 256x256 uint8 original or None if unreadable, gray or not)."""

    def __init__(self, source, names, center_crop):
        self.source, self.names, self.center_crop = source, names, center_crop

    def __len__(self):
        return len(self.names)

    def __getitem__(self, index):
        name = self.names[index]
        try:
            rgb = protocol_resize(decode_image(self.source.read(name)), self.center_crop)
        except (ImageDecodeError, OSError) as e:
            logger.warning("skipping %s: %s", self.source.describe(name), e)
            return index, None, False
        small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
        return index, rgb, color.chroma_percentile(small) < GRAY_CHROMA


def _collate(items):
    return items


class _ChunkCache:
    """chunk_00000.npz ... in one folder; a chunk is used only if it holds the names it should."""

    def __init__(self, folder, names):
        self.folder, self.names = folder, names

    def path(self, chunk):
        return os.path.join(self.folder, f"chunk_{chunk:05d}.npz")

    def names_of(self, chunk):
        return self.names[chunk * CHUNK:(chunk + 1) * CHUNK]

    def load(self, chunk):
        path = self.path(chunk)
        if not os.path.exists(path):
            return None
        try:
            with np.load(path) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError) as e:
            logger.warning("recomputing %s: unreadable (%s)", path, e)
            return None
        if list(data.get("names", [])) != self.names_of(chunk):
            logger.warning("recomputing %s: it holds other photos", path)
            return None
        return data

    def save(self, chunk, data):
        os.makedirs(self.folder, exist_ok=True)
        tmp = self.path(chunk) + f".{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, names=np.array(self.names_of(chunk)), **data)
        os.replace(tmp, self.path(chunk))


def _rgb_metrics(pred, target, target_ab, device):
    """Per-photo metrics of uint8 (B, H, W, 3) numpy predictions against the originals: {name: (B,) numpy}."""
    p = torch.from_numpy(pred).permute(0, 3, 1, 2).to(device)
    t = torch.from_numpy(target).permute(0, 3, 1, 2).to(device)
    pred_ab = np.stack([color.rgb_to_lab(color.to_unit(x))[:, :, 1:] for x in pred])
    values = {"psnr": metrics.psnr(p, t), "ssim": metrics.ssim(p, t),
              "colorfulness": metrics.colorfulness(p, absolute=True),
              "l1_ab": torch.from_numpy(np.abs(pred_ab - target_ab).reshape(len(pred), -1).mean(axis=1))}
    return {k: v.cpu().numpy().astype(np.float64) for k, v in values.items()}


def _features(fid_network, rgb, device):
    if fid_network is None:  # --fid_weights none
        return np.zeros((len(rgb), FID_FEATURES), np.float32)
    with torch.no_grad():
        x = torch.from_numpy(rgb).permute(0, 3, 1, 2).to(device).float() / 255.0
        return fid_network(x).cpu().numpy().astype(np.float32)


def _no_color(rgb):
    lab = color.rgb_to_lab(color.to_unit(rgb))
    lab[:, :, 1:] = 0.0
    return color.to_uint8(color.lab_to_rgb(lab))


def _colorize(colorizer, rgb):
    labs = colorizer.predict_lab([color.to_unit(x) for x in rgb])
    return np.stack([colorizer.to_rgb(lab) for lab in labs])


@dataclass
class ModelRun:
    """One model to evaluate: its row name, what was loaded, the weights file's SHA-256 and a Colorizer."""
    name: str
    checkpoint: str
    sha256: str
    colorizer: object
    params: int = 0

    @property
    def cache_name(self):
        """Its results' cache folder: the weights and the backend that ran them (onnxruntime differs slightly)."""
        return f"model-{self.sha256[:16]}-{self.colorizer.backend.backend}"


@dataclass
class ProtocolResult:
    data: ProtocolData
    rows: list  # (name, metrics) for each model, then the "no color" baseline
    models: list  # ModelRun
    gray: int
    unreadable: int
    from_cache: dict = field(default_factory=dict)  # "originals" / model name -> photos read from the cache
    seconds: float = 0.0


def _pending(cache, chunks):
    return [c for c in range(chunks) if cache.load(c) is None]


def run_protocol(data, models, fid_network, fid_device, cache_dir, batch_size=32, workers=2, progress=True):
    """Evaluates every ModelRun on the photos of `data` (ProtocolData); returns a ProtocolResult. The FID features
    come from fid_network on fid_device (None: no FID); results are cached under cache_dir (see the module's
    docstring)."""
    start = time.time()
    chunks = -(-len(data.names) // CHUNK)
    originals = _ChunkCache(os.path.join(cache_dir, "originals"), data.names)
    from_cache = {}
    for model in models:
        cache = _ChunkCache(os.path.join(cache_dir, model.cache_name), data.names)
        todo = sorted(set(_pending(cache, chunks)) | set(_pending(originals, chunks)))
        done = len(data.names) - sum(len(cache.names_of(c)) for c in todo)
        from_cache[model.name] = done
        if done:
            logger.warning("%s: %d of %d photos of %s read from the cache %s", model.name, done, len(data.names),
                           data.protocol.name, cache.folder)
        _compute(data, model, todo, cache, originals, fid_network, fid_device, batch_size, workers,
                 progress, done)
    rows, gray, unreadable = _summaries(data, models, originals, chunks, fid_network is not None)
    return ProtocolResult(data, rows, models, gray, unreadable, from_cache, time.time() - start)


def _compute(data, model, todo, cache, originals, fid_network, fid_device, batch_size, workers, progress, done):
    if not todo:
        return
    colorizer = model.colorizer
    batches = [list(range(c * CHUNK, min((c + 1) * CHUNK, len(data.names)))[i:i + batch_size])
               for c in todo for i in range(0, len(cache.names_of(c)), batch_size)]
    loader = DataLoader(_Photos(data.source, data.names, data.protocol.center_crop), batch_sampler=batches,
                        num_workers=workers, collate_fn=_collate)
    bar = tqdm(total=len(data.names), initial=done, desc=f"{data.protocol.name} {model.name}", unit="img",
               dynamic_ncols=True, disable=not progress)
    parts = {}  # chunk -> {"model": [...], "originals": [...]}
    original_done = {c for c in todo if originals.load(c) is not None}  # computed for another model
    for items in loader:
        chunk = items[0][0] // CHUNK
        ok = [(i, rgb, gray) for i, rgb, gray in items if rgb is not None]
        model_part, original_part = _evaluate_batch(items, ok, colorizer, fid_network, fid_device,
                                                    chunk not in original_done)
        entry = parts.setdefault(chunk, {"model": [], "originals": []})
        entry["model"].append(model_part)
        entry["originals"].append(original_part)
        if sum(len(p["index"]) for p in entry["model"]) == len(cache.names_of(chunk)):
            cache.save(chunk, _concat(entry["model"]))
            if chunk not in original_done:
                originals.save(chunk, _concat(entry["originals"]))
            del parts[chunk]
        bar.update(len(items))
    bar.close()


def _evaluate_batch(items, ok, colorizer, fid_network, fid_device, with_originals):
    """Per-photo arrays of one batch for the model's cache and (with_originals) the originals' (unreadable photos: ok
    False, zeros)."""
    n = len(items)
    model_part = {"index": np.array([i for i, _, _ in items]), "ok": np.array([rgb is not None for _, rgb, _ in items])}
    original_part = dict(model_part, gray=np.array([bool(g) for _, _, g in items]))
    for part in (model_part, original_part):
        part["features"] = np.zeros((n, FID_FEATURES), np.float32)
        for name in PHOTO_METRICS:
            part[name] = np.zeros(n)
    original_part["baseline_features"] = np.zeros_like(original_part["features"])
    original_part["target_colorfulness"] = np.zeros(n)
    for name in PHOTO_METRICS:
        original_part[f"baseline_{name}"] = np.zeros(n)
    if not ok:
        return model_part, original_part
    where = np.array([j for j, (_, rgb, _) in enumerate(items) if rgb is not None])
    target = np.stack([rgb for _, rgb, _ in ok])
    target_ab = np.stack([color.rgb_to_lab(color.to_unit(x))[:, :, 1:] for x in target])
    pred = _colorize(colorizer, target)
    for name, values in _rgb_metrics(pred, target, target_ab, colorizer.device).items():
        model_part[name][where] = values
    model_part["features"][where] = _features(fid_network, pred, fid_device)
    if not with_originals:
        return model_part, original_part
    baseline = np.stack([_no_color(x) for x in target])
    for name, values in _rgb_metrics(baseline, target, target_ab, colorizer.device).items():
        original_part[f"baseline_{name}"][where] = values
    original_part["target_colorfulness"][where] = metrics.colorfulness(
        torch.from_numpy(target).permute(0, 3, 1, 2), absolute=True).numpy()
    original_part["features"][where] = _features(fid_network, target, fid_device)
    original_part["baseline_features"][where] = _features(fid_network, baseline, fid_device)
    return model_part, original_part


def _concat(parts):
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class _RowSums:
    """One row's per-photo metric values and feature moments, gathered chunk by chunk (features are not kept)."""

    def __init__(self):
        self.values = {name: [] for name in PHOTO_METRICS}
        self.moments = FeatureMoments("cpu")

    def add(self, part, prefix, ok):
        for name in PHOTO_METRICS:
            self.values[name].append(part[prefix + name][ok])
        self.moments.add(torch.from_numpy(part[prefix + "features"][ok]))

    def row(self, target_cf, target_moments, with_fid):
        row = {name: float(np.concatenate(v).mean()) for name, v in self.values.items()}
        row["colorfulness_gap"] = metrics.colorfulness_gap(row["colorfulness"], target_cf)
        row["target_colorfulness"] = target_cf
        row["fid"] = (metrics.frechet_distance(*self.moments.mean_cov(), *target_moments.mean_cov())
                      if with_fid and self.moments.count > 1 else None)
        row["images"] = self.moments.count
        return row


def _summaries(data, models, originals, chunks, with_fid):
    """[(row name, metrics)] for each model and the "no color" baseline, and the gray and unreadable counts; reads
    the cache one chunk at a time."""
    caches = [_ChunkCache(os.path.join(os.path.dirname(originals.folder), m.cache_name), data.names) for m in models]
    sums = [_RowSums() for _ in models]
    baseline, target_moments = _RowSums(), FeatureMoments("cpu")
    gray, unreadable, target_cf = 0, 0, []
    for chunk in range(chunks):
        original = originals.load(chunk)
        ok = original["ok"]
        gray += int(original["gray"][ok].sum())
        unreadable += int((~ok).sum())
        target_cf.append(original["target_colorfulness"][ok])
        target_moments.add(torch.from_numpy(original["features"][ok]))
        baseline.add(original, "baseline_", ok)
        for cache, row in zip(caches, sums):
            row.add(cache.load(chunk), "", ok)
    if target_moments.count == 0:
        raise UserError(f"none of the {len(data.names)} photos of {data.location} could be read")
    mean_cf = float(np.concatenate(target_cf).mean())
    rows = [(m.name, row.row(mean_cf, target_moments, with_fid)) for m, row in zip(models, sums)]
    rows.append(("no color", baseline.row(mean_cf, target_moments, with_fid)))
    return rows, gray, unreadable
