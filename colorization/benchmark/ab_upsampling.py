"""The ab-upsampling figure: what the colorize pipeline's geometry alone costs, whatever the network. Each photo's own
(true) ab goes the way a prediction goes: to the network's grid (INPUT.SIZE square, or aspect-kept with
INPUT.KEEP_ASPECT) and back to the photo with nearest or bilinear upsampling, under the photo's L. PSNR and
colorfulness of that "oracle" against the photo bound what any network can reach through each pipeline; the
difference between the pipelines is what they lose at color edges. (No trained DDColor weights are needed.)"""
import cv2
import numpy as np
import torch

from ..data import color
from ..data.dataset import split_of
from ..data.image_io import decode_image
from ..data.paths_catalog import resolve_dataset
from ..data.screening import image_colorfulness
from ..data.source_registry import open_source
from ..engine.colorizer import network_size
from ..metrics import psnr
from .common import round_sig

# (name, keep aspect, ab upsampling): DDColor's reference pipeline first.
PIPELINES = (("square_nearest", False, "nearest"), ("square_bilinear", False, "bilinear"),
             ("aspect_nearest", True, "nearest"), ("aspect_bilinear", True, "bilinear"))


def oracle_rgb(rgb, size, keep_aspect, upsampling):
    """uint8 RGB of the photo's true ab after the pipeline's round trip, under its own L."""
    h, w = rgb.shape[:2]
    lab = color.rgb_to_lab(color.to_unit(rgb))
    net_w, net_h = network_size(w, h, size, keep_aspect)
    small = cv2.resize(color.to_unit(rgb), (net_w, net_h), interpolation=cv2.INTER_LINEAR)
    ab = color.rgb_to_lab(small)[:, :, 1:]
    interpolation = cv2.INTER_NEAREST if upsampling == "nearest" else cv2.INTER_LINEAR
    lab[:, :, 1:] = cv2.resize(ab, (w, h), interpolation=interpolation)
    return color.to_uint8(color.lab_to_rgb(lab))


def bench_ab_upsampling(cfg, datasets, max_photos=None):
    rows = []
    for name in datasets:
        photos = _photos(cfg, name, max_photos)
        for label, keep_aspect, upsampling in PIPELINES:
            outs = [oracle_rgb(rgb, cfg.INPUT.SIZE, keep_aspect, upsampling) for rgb in photos]
            rows.append({"figure": "ab_upsampling", "dataset": name, "photos": len(photos), "pipeline": label,
                         "net_size": cfg.INPUT.SIZE,
                         "oracle_psnr": round_sig(float(np.mean([_psnr(o, p) for o, p in zip(outs, photos)]))),
                         "oracle_colorfulness": round_sig(float(np.mean([image_colorfulness(o) for o in outs]))),
                         "photos_colorfulness": round_sig(float(np.mean([image_colorfulness(p) for p in photos]))),
                         "photo_sizes": f"{min(p.shape[1] for p in photos)}..{max(p.shape[1] for p in photos)} px "
                                        f"wide"})
    return rows


def _psnr(a, b):
    as_tensor = [torch.from_numpy(x).permute(2, 0, 1)[None] for x in (a, b)]
    return float(psnr(*as_tensor)[0])


def _photos(cfg, name, max_photos):
    """uint8 RGB photos of a data set (catalog name or path, with its split), at their own size."""
    spec = resolve_dataset(name)
    source = open_source(spec.source)
    names = [n for n in source.list_images()
             if spec.split == "all" or split_of(n, cfg.DATASETS.VAL_FRACTION) == spec.split]
    return [decode_image(source.read(n)) for n in names[:max_photos]]
