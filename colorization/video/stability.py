"""Temporal stability: carry each frame's color along the motion into the next one. Optical flow on the lightness
(OpenCV's DIS, at reduced resolution) says where each pixel of frame t was in frame t-1; the previous output's ab,
warped along it, is blended with the new prediction where the warp is reliable (the warped lightness matches),
while occluded and new regions take the new prediction. Scene cuts, found from the lightness, start afresh."""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

# The flow is computed on a copy whose longer side is at most this: color is smooth, motion is large-scale, and
# DIS at 320x240 takes a few milliseconds.
FLOW_MAX_SIDE = 320
# Photometric error |L_t - warp(L_t-1)| (8-bit lightness, after a light blur that takes out grain) below which the
# carried color is trusted fully, and above which not at all.
TRUST_FULLY_BELOW = 6.0
TRUST_NOT_ABOVE = 20.0
# A scene cut: the lightness histograms of two frames differ by more than CUT_HISTOGRAM (total variation, 0..1),
# or by more than CUT_HISTOGRAM_WITH_NO_MATCH while the motion explains less than CUT_MATCHED of the new frame.
CUT_HISTOGRAM = 0.5
CUT_HISTOGRAM_WITH_NO_MATCH = 0.15
CUT_MATCHED = 0.3
HISTOGRAM_BINS = 32
DEFAULT_STABILITY = 0.85


def small_size(width, height, max_side=FLOW_MAX_SIDE):
    scale = min(1.0, max_side / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


def lightness_8bit(rgb, size):
    """The L of LAB as uint8 (0..255 for 0..100) at `size` (width, height): what the flow and the cut test see."""
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2Lab)[:, :, 0]


def lightness_histogram(lightness):
    hist = cv2.calcHist([lightness], [0], None, [HISTOGRAM_BINS], [0, 256]).ravel()
    return hist / max(1.0, hist.sum())


def histogram_distance(h1, h2):
    """Total variation between two normalised histograms: 0 the same, 1 disjoint."""
    return 0.5 * float(np.abs(h1 - h2).sum())


def pixel_grid(width, height):
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.dstack([xs, ys])


def warp(image, flow, grid, border=cv2.BORDER_REPLICATE):
    """image (of frame t-1) seen from frame t: image(x + flow(x)) with a backward flow of t's pixels."""
    return cv2.remap(image, grid + flow, None, cv2.INTER_LINEAR, borderMode=border)


def inside(flow, grid):
    """Pixels of frame t whose place in frame t-1 lies inside the picture."""
    pos = grid + flow
    h, w = flow.shape[:2]
    return (pos[..., 0] >= 0) & (pos[..., 0] <= w - 1) & (pos[..., 1] >= 0) & (pos[..., 1] <= h - 1)


def upscale_flow(flow, size):
    """A flow computed at a reduced size, at `size` (width, height), in that size's pixels."""
    h, w = flow.shape[:2]
    big = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    big *= np.array([size[0] / w, size[1] / h], np.float32)
    return big


def dis_flow(preset):
    return cv2.DISOpticalFlow_create(preset)


@dataclass
class Motion:
    """What frame t's lightness says about its link to frame t-1, at the reduced size: the backward flow (where
    each pixel was, in small pixels), how far the carried color can be trusted there (0..1), and whether a new shot
    starts here (then flow and reliability are None)."""
    lightness: np.ndarray
    flow: Optional[np.ndarray]
    reliability: Optional[np.ndarray]
    cut: bool


class MotionEstimator:
    """Called on each frame's RGB in order (the reader thread does it, beside decoding); returns its Motion."""

    def __init__(self, width, height, max_side=FLOW_MAX_SIDE):
        self.size = small_size(width, height, max_side)
        self._grid = pixel_grid(*self.size)
        self._dis = dis_flow(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._prev = None
        self._prev_hist = None

    def __call__(self, rgb):
        lightness = lightness_8bit(rgb, self.size)
        hist = lightness_histogram(lightness)
        prev, prev_hist = self._prev, self._prev_hist
        self._prev, self._prev_hist = lightness, hist
        if prev is None:
            return Motion(lightness, None, None, True)
        distance = histogram_distance(hist, prev_hist)
        if distance > CUT_HISTOGRAM:
            return Motion(lightness, None, None, True)
        flow = self._dis.calc(lightness, prev, None)
        reliability = self._reliability(lightness, prev, flow)
        if distance > CUT_HISTOGRAM_WITH_NO_MATCH and float((reliability > 0.5).mean()) < CUT_MATCHED:
            return Motion(lightness, None, None, True)
        return Motion(lightness, flow, reliability, False)

    def _reliability(self, lightness, prev, flow):
        blur = (3, 3)
        now = cv2.GaussianBlur(lightness, blur, 0).astype(np.float32)
        warped = warp(cv2.GaussianBlur(prev, blur, 0).astype(np.float32), flow, self._grid)
        error = np.abs(now - warped)
        trust = np.clip((TRUST_NOT_ABOVE - error) / (TRUST_NOT_ABOVE - TRUST_FULLY_BELOW), 0.0, 1.0)
        trust[~inside(flow, self._grid)] = 0.0  # came in from outside the picture: nothing to carry
        return trust


class Stabilizer:
    """Carries color along the motion in each frame's predicted LAB (full size, HxWx3, changed in place: a and b):
    ab = pred + strength * reliability * (warp(prev) - pred); strength 0 is plain frame by frame. The blend is
    worked out at the flow's reduced size and the correction scaled up onto the full-size prediction: the network's
    ab (predicted at INPUT.SIZE and upsampled) holds no finer detail, and full-size work on strided a, b planes
    would cost as much as the network on a CPU."""

    def __init__(self, strength=DEFAULT_STABILITY):
        self.strength = float(strength)
        self._prev = None  # the previous output's ab at the reduced size
        self._grid = None

    def __call__(self, lab, motion):
        if self.strength <= 0.0:
            return lab
        h, w = lab.shape[:2]
        sh, sw = motion.lightness.shape
        small = cv2.resize(lab, (sw, sh), interpolation=cv2.INTER_AREA)  # all three channels: contiguous, fast
        if self._prev is None or motion.cut:
            self._prev = np.ascontiguousarray(small[:, :, 1:])
            return lab
        if self._grid is None or self._grid.shape[:2] != (sh, sw):
            self._grid = pixel_grid(sw, sh)
        correction = np.zeros_like(small)  # nothing added to L
        correction[:, :, 1:] = warp(self._prev, motion.flow, self._grid) - small[:, :, 1:]
        correction *= (self.strength * motion.reliability)[:, :, None]
        self._prev = small[:, :, 1:] + correction[:, :, 1:]
        if (sw, sh) != (w, h):
            correction = cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
        lab += correction
        return lab
