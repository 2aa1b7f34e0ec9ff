"""The colorization data set: screened image list of one split of a source, decoded and encoded per item."""
import hashlib
import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from . import color
from ..metrics import colorfulness
from .batch_encode import BatchEncoder
from .hints import MAX_SIMULATED_POINTS, TRIES_PER_POINT, draw_hint_tries
from .image_io import ImageDecodeError, decode_image
from .sources import open_source
from .transforms import resize_center_crop, train_transform

logger = logging.getLogger(__name__)

# Chroma is measured on a small copy: enough to tell a gray photo from a color one, and cheap.
_SCREEN_SIDE = 64
# Images with a shorter side than this carry too little to learn from and are skipped.
MIN_SIDE = 8


def split_of(name, val_fraction):
    """'train' or 'val', from a hash of the file name: stable when other files come and go."""
    h = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big")
    return "val" if (h % 1_000_000) < val_fraction * 1_000_000 else "train"


def image_colorfulness(rgb_uint8):
    """Hasler and Suesstrunk's colorfulness of one HxWx3 uint8 image (the metric validation reports)."""
    return float(colorfulness(torch.from_numpy(rgb_uint8).permute(2, 0, 1)[None])[0])


def screen_reason(img, gray_threshold, min_colorfulness=0.0):
    """Why a decoded photo is left out of training data ("unreadable" when too small, "grayscale", "dull"), or None
    to keep it."""
    if min(img.shape[:2]) < MIN_SIDE:
        return "unreadable"
    small = resize_center_crop(img, _SCREEN_SIDE) if min(img.shape[:2]) > _SCREEN_SIDE else img
    if gray_threshold > 0 and color.chroma_percentile(small) < gray_threshold:
        return "grayscale"
    if min_colorfulness > 0 and image_colorfulness(small) < min_colorfulness:
        return "dull"
    return None


def screen_images(source, names, gray_threshold, min_colorfulness=0.0):
    """Keep the names that decode and carry color (and, with min_colorfulness, enough of it). Returns (kept, counts
    of what was dropped: unreadable, grayscale, dull)."""
    kept, dropped = [], {"unreadable": 0, "grayscale": 0, "dull": 0}
    for name in names:
        try:
            img = decode_image(source.read(name), min_short_side=_SCREEN_SIDE)
        except (ImageDecodeError, OSError) as e:
            logger.warning("skipping %s: %s", source.describe(name), e)
            dropped["unreadable"] += 1
            continue
        reason = screen_reason(img, gray_threshold, min_colorfulness)
        if reason == "unreadable":
            logger.warning("skipping %s: too small (%dx%d)", source.describe(name), img.shape[1], img.shape[0])
        if reason is None:
            kept.append(name)
        else:
            dropped[reason] += 1
    return kept, dropped


class ColorizationDataset(Dataset):
    """Items are dicts: input (1xSxS; with `hints`, 4xSxS: L, hint ab, hint mask), target (CxSxS) in the network's
    units, and the image's name in its source.

    Training items are addressed by (epoch, index) so that the augmentation of every item, and its simulated hints,
    are a pure function of (seed, epoch, index): identical with any number of workers, and after a resume.
    hints: a HintSampling for a hint model's training items (evaluation draws its own, see engine/evaluator.py).
    min_colorfulness drops photos duller than that; color_enhance multiplies the chroma of training targets.
    """

    def __init__(self, spec, color_space, size, val_fraction, gray_threshold, train=False,
                 crop_scale=(1.0, 1.0), hflip_prob=0.0, seed=0, hints=None, min_colorfulness=0.0, color_enhance=1.0):
        self.spec = spec
        self.source = open_source(spec.source)
        self.color_space = color_space
        self.size = size
        self.train = train
        self.crop_scale = tuple(crop_scale)
        self.hflip_prob = hflip_prob
        self.seed = seed
        self.hints = hints
        self.color_enhance = color_enhance
        names = self.source.list_images()
        self.num_listed = len(names)  # image files in the whole source, before the split and the screening
        if spec.split != "all":
            names = [n for n in names if split_of(n, val_fraction) == spec.split]
        if getattr(self.source, "screened_at", -1.0) >= gray_threshold and min_colorfulness == 0:
            # packed shards: the packer screened them (colorization-pack); no second pass over every photo
            self.names, self.dropped = names, {"unreadable": 0, "grayscale": 0, "dull": 0}
        else:
            self.names, self.dropped = screen_images(self.source, names, gray_threshold, min_colorfulness)
        logger.info("data set %s (%s, split %s): %d images kept, %d unreadable skipped, %d grayscale dropped%s",
                    spec.name, spec.source, spec.split, len(self.names), self.dropped["unreadable"],
                    self.dropped["grayscale"], f", {self.dropped['dull']} with colorfulness below "
                    f"{min_colorfulness:g} dropped" if min_colorfulness > 0 else "")

    def __len__(self):
        return len(self.names)

    def load_rgb(self, index):
        decode = getattr(self.source, "decode", decode_image)  # a source may know a faster way for its own files
        return decode(self.source.read(self.names[index]), min_short_side=self.size)

    def raw_item(self, key):
        """What a data-loader worker hands over: the photo cropped (and flipped) to size x size as uint8 RGB (3, S, S),
        and for a hint model's training the draws of its hints (padded to a fixed size so that items collate). The
        per-pixel work happens batched on the trainer's device (data/batch_encode.py)."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        img = self.load_rgb(index)
        item = {"name": self.names[index]}
        if self.train:
            rng = np.random.default_rng((self.seed, epoch, index))
            img = train_transform(img, self.size, self.crop_scale, self.hflip_prob, rng)
            if self.hints is not None:
                count, tries = draw_hint_tries(rng, self.size, self.size, self.hints)
                padded = np.zeros((MAX_SIMULATED_POINTS * TRIES_PER_POINT, 3), np.int16)
                padded[:len(tries)] = tries
                item.update(hint_count=count, hint_tries=torch.from_numpy(padded))
        else:
            img = resize_center_crop(img, self.size)
        item["rgb"] = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return item

    def encoder(self):
        """The BatchEncoder that turns this data set's raw items into network input and target."""
        return BatchEncoder(self.color_space, self.color_enhance if self.train else 1.0,
                            self.hints if self.train else None)

    def __getitem__(self, key):
        """One item encoded on the CPU, by the code that encodes training batches on the device."""
        raw = self.raw_item(key)
        batch = {"rgb": raw["rgb"][None]}
        if "hint_count" in raw:
            batch.update(hint_count=torch.tensor([raw["hint_count"]]), hint_tries=raw["hint_tries"][None])
        encoded = self.encoder()(batch)
        return {"input": encoded["input"][0], "target": encoded["target"][0], "name": raw["name"]}
