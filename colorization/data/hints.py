"""User hints as the network sees them: hint ab (2 channels, ab / 110, zero where no hint) and a hint mask (1 where
a hint is), and the simulated hints of training and evaluation (Zhang et al. 2017): square patches holding the mean
ab of the ground truth under them. Every draw comes from the rng it is given: a pure function of its seed."""
from dataclasses import dataclass

import cv2
import numpy as np

from . import color

# A hint model's input: normalised L, hint ab, hint mask.
HINT_CHANNELS = 3
# Simulated points per image stop here at the latest (a geometric draw with STOP_PROB 1/8 exceeds 100 once in
# about 600,000 images).
MAX_SIMULATED_POINTS = 100
# Positions drawn for a patch before it is given up as too gray (no color worth hinting around there).
TRIES_PER_POINT = 4


@dataclass(frozen=True)
class HintSampling:
    """How hints are simulated (INPUT.HINTS.*): stop_prob ends the geometric count of points, patch sides are
    uniform in 1..max_patch, positions Gaussian around the centre with probability gaussian_prob (else uniform),
    patches whose mean chroma is below min_chroma (ab units) are skipped."""
    stop_prob: float = 0.125
    max_patch: int = 9
    gaussian_prob: float = 1.0
    min_chroma: float = 2.0


def empty_hints(height, width):
    """(hint ab (2,H,W), mask (1,H,W)) with no hint: what automatic colorization feeds a hint model."""
    return np.zeros((2, height, width), np.float32), np.zeros((1, height, width), np.float32)


def _position(rng, side, patch, gaussian):
    if gaussian:  # around the centre, std (side - patch) / 4, as Zhang et al.
        return int(np.clip(round(rng.normal((side - patch) / 2.0, (side - patch) / 4.0)), 0, side - patch))
    return int(rng.integers(0, side - patch + 1))


def geometric_count(rng, stop_prob):
    """Points to place: keep adding while a uniform draw stays at or above stop_prob (none with probability
    stop_prob; mean (1 - p) / p, 7 for p = 1/8)."""
    count = 0
    while count < MAX_SIMULATED_POINTS and rng.random() >= stop_prob:
        count += 1
    return count


def draw_hint_tries(rng, height, width, sampling=HintSampling(), num_points=None):
    """The random part of simulated hints, which needs no pixels: (points wanted, tries (points x 4, 3) int16 rows
    of (side, top, left)). Point after point consumes tries in order until one lands on a patch with color (see
    accepted_tries); the draws are those sample_hints has always made, so the same rng gives the same hints."""
    count = geometric_count(rng, sampling.stop_prob) if num_points is None else num_points
    tries = np.zeros((count * TRIES_PER_POINT, 3), np.int16)
    for row in tries:
        side = int(rng.integers(1, min(sampling.max_patch, height, width) + 1))
        gaussian = rng.random() < sampling.gaussian_prob
        row[:] = side, _position(rng, height, side, gaussian), _position(rng, width, side, gaussian)
    return count, tries


def accepted_tries(count, colorful):
    """Indices of the tries that become hints: each of `count` points takes the first of its next tries whose patch
    has color (colorful[i]), or gives up after TRIES_PER_POINT of them."""
    chosen, position = [], 0
    for _ in range(count):
        window = colorful[position:position + TRIES_PER_POINT]
        hit = int(np.argmax(window)) if window.any() else None
        if hit is not None:
            chosen.append(position + hit)
        position += TRIES_PER_POINT if hit is None else hit + 1
    return chosen


def sample_hints(target_ab, rng, sampling=HintSampling(), num_points=None):
    """Simulated hints from a ground truth target_ab (2,H,W) in network units (ab / 110).

    num_points None: a geometric number of points (training); an int: that many (evaluation). A point whose
    patches stay almost gray after a few positions is left out. Returns (hint ab, mask, points), points as
    (top, left, side) in network pixels.
    """
    _, h, w = target_ab.shape
    hint_ab, mask = empty_hints(h, w)
    count, tries = draw_hint_tries(rng, h, w, sampling, num_points)
    means = [target_ab[:, top:top + side, left:left + side].reshape(2, -1).mean(axis=1) for side, top, left in tries]
    colorful = np.array([np.hypot(*m) * color.AB_SCALE >= sampling.min_chroma for m in means], bool)
    points = []
    for i in accepted_tries(count, colorful):
        side, top, left = (int(v) for v in tries[i])
        hint_ab[:, top:top + side, left:left + side] = means[i][:, None, None]
        mask[:, top:top + side, left:left + side] = 1.0
        points.append((top, left, side))
    return hint_ab, mask, points


def hint_input(net_input, hint_ab, mask):
    """A hint model's input (3 + 1 channels) from normalised L (1,H,W) and the hint channels."""
    return np.concatenate([net_input, hint_ab, mask], axis=0)


def _ab_of(rgb01):
    """ab / 110 of RGB colors in [0, 1] (..., 3): a hint's color contributes only its ab."""
    rgb = np.asarray(rgb01, np.float32).reshape(-1, 1, 3)
    return (color.rgb_to_lab(rgb)[:, 0, 1:] / color.AB_SCALE).reshape(np.shape(rgb01)[:-1] + (2,))


def user_hint_channels(hints, width, height, net_size):
    """(hint ab (2,S,S), mask (1,S,S), points as (top, left, side)) on the network's S x S grid from UserHints of a
    width x height photo: a point maps by the resize the photo's L takes; a scribble keeps each grid cell its
    strokes touch, with the mean ab of those strokes."""
    hint_ab, mask = empty_hints(net_size, net_size)
    points = []
    for x, y, rgb in hints.points:
        side = min(hints.size, net_size)
        cx, cy = (x + 0.5) * net_size / width, (y + 0.5) * net_size / height
        top = int(np.clip(round(cy - side / 2.0), 0, net_size - side))
        left = int(np.clip(round(cx - side / 2.0), 0, net_size - side))
        hint_ab[:, top:top + side, left:left + side] = _ab_of(rgb)[:, None, None]
        mask[:, top:top + side, left:left + side] = 1.0
        points.append((top, left, side))
    if hints.scribble_mask is not None:
        stroke = hints.scribble_mask.astype(np.float32)
        ab = _ab_of(hints.scribble_rgb) * stroke[:, :, None]
        coverage = cv2.resize(stroke, (net_size, net_size), interpolation=cv2.INTER_AREA)
        summed = cv2.resize(ab, (net_size, net_size), interpolation=cv2.INTER_AREA)
        cells = coverage > 0
        hint_ab[:, cells] = (summed[cells] / coverage[cells, None]).T
        mask[0, cells] = 1.0
    return hint_ab, mask, points
