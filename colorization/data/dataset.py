"""The colorization data set: screened image list of one split of a source, decoded and encoded per item."""
import hashlib
import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from .batch_encode import BatchEncoder
from .hints import MAX_SIMULATED_POINTS, TRIES_PER_POINT, draw_hint_tries
from .image_io import decode_image
from .screening import measure_source, screen
from .sources import open_source
from .transforms import resize_center_crop, to_chw, train_transform

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
        self.source = open_source(spec.source, spec.root)
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
        names = [n for n in listed if spec.split == "all" or split_of(n, val_fraction) == spec.split]
        if getattr(self.source, "screened_at", -1.0) >= gray_threshold and min_colorfulness == 0:
            # packed shards: colorization-pack screened them; no second pass over every photo
            self.names, self.dropped = names, {"unreadable": 0, "grayscale": 0, "dull": 0}
        else:
            measures = measure_source(self.source, listed, screening_workers)
            self.names, self.dropped = screen(self.source, measures, names, gray_threshold, min_colorfulness)
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
        item["rgb"] = torch.from_numpy(to_chw(img))
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
