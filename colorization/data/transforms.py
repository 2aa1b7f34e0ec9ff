"""Geometric transforms on HxWx3 uint8 images: resize + centre crop for evaluation, random resized crop + flip for
training."""
import math

import cv2
import numpy as np


def _resize(img, width, height):
    # INTER_AREA avoids aliasing where it matters, when shrinking 2x or more; below that bilinear looks the
    # same and is several times faster (the data pipeline's largest cost).
    strong_shrink = width * 2 <= img.shape[1] or height * 2 <= img.shape[0]
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if strong_shrink else cv2.INTER_LINEAR)


def resize_center_crop(img, size):
    """The centre square, resized to size x size (cropping first: fewer pixels to resize)."""
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return _resize(img[top:top + side, left:left + side], size, size)


def random_resized_crop(img, size, scale, rng, ratio=(3 / 4, 4 / 3)):
    """A crop of random area (fraction in `scale`) and aspect ratio, resized to size x size."""
    h, w = img.shape[:2]
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        cw = int(round(math.sqrt(target_area * aspect)))
        ch = int(round(math.sqrt(target_area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            return _resize(img[top:top + ch, left:left + cw], size, size)
    return resize_center_crop(img, size)


def train_transform(img, size, crop_scale, hflip_prob, rng):
    if tuple(crop_scale) == (1.0, 1.0):
        img = resize_center_crop(img, size)
    else:
        img = random_resized_crop(img, size, crop_scale, rng)
    if hflip_prob > 0 and rng.random() < hflip_prob:
        img = cv2.flip(img, 1)  # several times faster than copying the numpy view img[:, ::-1]
    return img


def to_chw(img):
    """HxWxC -> a contiguous CxHxW copy. cv2.split writes the planes straight into the new array: a quarter of the
    time of numpy's transposing copy (docs/data_pipeline.md)."""
    out = np.empty((img.shape[2],) + img.shape[:2], img.dtype)
    cv2.split(img, list(out))
    return out
