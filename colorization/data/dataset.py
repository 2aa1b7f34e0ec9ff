"""The colorization data set: screened image list of one split of a source, decoded and encoded per item."""
import hashlib
import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from . import color
from .hints import hint_input, sample_hints
from .image_io import decode_image
from .screening import measure_source, screen
from .sources import open_source
from .transforms import resize_center_crop, train_transform

logger = logging.getLogger(__name__)


def split_of(name, val_fraction):
    """'train' or 'val', from a hash of the file name: stable when other files come and go."""
    h = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big")
    return "val" if (h % 1_000_000) < val_fraction * 1_000_000 else "train"


class ColorizationDataset(Dataset):
    """Items are dicts: input (1xSxS; with `hints`, 4xSxS: L, hint ab, hint mask), target (CxSxS) in the network's
    units, and the image's name in its source.

    Training items are addressed by (epoch, index) so that the augmentation of every item, and its simulated hints,
    are a pure function of (seed, epoch, index): identical with any number of workers, and after a resume.
    hints: a HintSampling for a hint model's training items (evaluation draws its own, see engine/evaluator.py).
    min_colorfulness drops photos duller than that; color_enhance multiplies the chroma of training targets.
    The whole source is screened once, with `screening_workers` processes, and cached (data/screening.py).
    """

    def __init__(self, spec, color_space, size, val_fraction, gray_threshold, train=False,
                 crop_scale=(1.0, 1.0), hflip_prob=0.0, seed=0, hints=None, min_colorfulness=0.0, color_enhance=1.0,
                 screening_workers=0):
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
        listed = self.source.list_images()
        self.num_listed = len(listed)  # image files in the whole source, before the split and the screening
        measures = measure_source(self.source, listed, screening_workers)
        names = [n for n in listed if spec.split == "all" or split_of(n, val_fraction) == spec.split]
        self.names, self.dropped = screen(self.source, measures, names, gray_threshold, min_colorfulness)
        logger.info("data set %s (%s, split %s): %d images kept, %d unreadable skipped, %d grayscale dropped%s",
                    spec.name, spec.source, spec.split, len(self.names), self.dropped["unreadable"],
                    self.dropped["grayscale"], f", {self.dropped['dull']} with colorfulness below "
                    f"{min_colorfulness:g} dropped" if min_colorfulness > 0 else "")

    def __len__(self):
        return len(self.names)

    def load_rgb(self, index):
        return decode_image(self.source.read(self.names[index]), min_short_side=self.size)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        img = self.load_rgb(index)
        rng = np.random.default_rng((self.seed, epoch, index)) if self.train else None
        if self.train:
            img = train_transform(img, self.size, self.crop_scale, self.hflip_prob, rng)
        else:
            img = resize_center_crop(img, self.size)
        net_input, target = color.encode(color.to_unit(img), self.color_space)
        if self.train and self.color_enhance != 1.0:
            target = color.enhance_target(target, self.color_enhance, self.color_space)
        if self.hints is not None and self.train:
            hint_ab, mask, _ = sample_hints(target, rng, self.hints)
            net_input = hint_input(net_input, hint_ab, mask)
        return {"input": torch.from_numpy(net_input), "target": torch.from_numpy(target), "name": self.names[index]}
