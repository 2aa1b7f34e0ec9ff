"""How much a colorized video flickers, measured on its output frames as video colorization papers do:

- warp error of ab: mean |ab_t - warp(ab_t-1)| (both channels, LAB units) over the pixels that are not occluded,
  with flows computed on the output frames themselves, forward and backward, and occlusion by their consistency
  (the stabilizer's flow is not reused; a finer flow changes the figures little: docs/measured_choices.md);
- CDC, color distribution consistency: the Jensen-Shannon divergence (natural log) of the per-channel 256-bin
  histograms of RGB frames t and t+d, averaged over channels and frames, for d = 1, 2 and 4, then over d.

Pairs of frames across a scene cut are left out of both."""
from collections import deque

import cv2
import numpy as np

from .stability import dis_flow, inside, pixel_grid, small_size, upscale_flow, warp

CDC_GAPS = (1, 2, 4)
# The warp error is measured on the output's pixels up to this size (larger frames are scaled down to it)...
MEASURE_MAX_SIDE = 640
# ...with flows computed at up to this size and scaled up
FLOW_MAX_SIDE = 320


def js_divergence(p, q):
    """Jensen-Shannon divergence (natural log, 0..ln 2) of two normalised histograms."""
    m = 0.5 * (p + q)
    js = 0.0
    for x in (p, q):
        nz = x > 0
        js += 0.5 * float(np.sum(x[nz] * np.log(x[nz] / m[nz])))
    return js


def channel_histograms(rgb):
    """(3, 256) normalised histograms of the R, G and B channels of a uint8 image."""
    hists = np.stack([cv2.calcHist([rgb], [c], None, [256], [0, 256]).ravel() for c in range(3)])
    return hists / hists.sum(axis=1, keepdims=True)


def consistent_pixels(backward, forward, grid):
    """Pixels of frame t whose backward flow and the forward flow at its end point agree (Sundaram et al.'s test,
    as used for warp error): |b + f(x + b)|^2 < 0.01 (|b|^2 + |f(x + b)|^2) + 0.5, and stay in the picture."""
    forward_there = warp(forward, backward, grid)
    gap = cv2.magnitude(*cv2.split(backward + forward_there)) ** 2
    bound = 0.01 * (cv2.magnitude(*cv2.split(backward)) ** 2 + cv2.magnitude(*cv2.split(forward_there)) ** 2) + 0.5
    return (gap < bound) & inside(backward, grid)


class FlickerMeter:
    """add(rgb, cut) for each output frame in order (cut: a new shot starts there); summary() gives the figures."""

    def __init__(self, width, height):
        self.size = small_size(width, height, MEASURE_MAX_SIDE)
        self.flow_size = small_size(width, height, FLOW_MAX_SIDE)
        self._grid = pixel_grid(*self.size)
        self._flow_grid = pixel_grid(*self.flow_size)
        self._dis = dis_flow(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._prev = None  # (lightness, ab) of the previous frame, small
        self._hists = deque(maxlen=max(CDC_GAPS))  # (shot, histograms) of the last frames
        self._shot = -1
        self._warp_sum, self._warp_pairs = 0.0, 0
        self._js_sum = {d: 0.0 for d in CDC_GAPS}
        self._js_pairs = {d: 0 for d in CDC_GAPS}
        self.frames = 0

    def add(self, rgb, cut):
        self.frames += 1
        if cut:
            self._shot += 1
            self._prev = None
        hists = channel_histograms(rgb)
        for back, (shot, old) in enumerate(reversed(self._hists), start=1):
            if back in self._js_sum and shot == self._shot:
                self._js_sum[back] += float(np.mean([js_divergence(old[c], hists[c]) for c in range(3)]))
                self._js_pairs[back] += 1
        self._hists.append((self._shot, hists))
        if rgb.shape[1::-1] != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        lightness = np.clip(lab[:, :, 0] * 2.55 + 0.5, 0, 255).astype(np.uint8)
        if self.flow_size != self.size:
            lightness = cv2.resize(lightness, self.flow_size, interpolation=cv2.INTER_AREA)
        ab = np.ascontiguousarray(lab[:, :, 1:])
        if self._prev is not None:
            self._add_warp_error(lightness, ab)
        self._prev = (lightness, ab)

    def _add_warp_error(self, lightness, ab):
        prev_lightness, prev_ab = self._prev
        backward = self._dis.calc(lightness, prev_lightness, None)
        forward = self._dis.calc(prev_lightness, lightness, None)
        valid = consistent_pixels(backward, forward, self._flow_grid)
        valid = valid.astype(np.uint8)
        if self.flow_size != self.size:
            backward = upscale_flow(backward, self.size)
            valid = cv2.resize(valid, self.size, interpolation=cv2.INTER_NEAREST)
        if valid.any():
            a, b = cv2.mean(cv2.absdiff(ab, warp(prev_ab, backward, self._grid)), mask=valid)[:2]
            self._warp_sum += (a + b) / 2.0
            self._warp_pairs += 1

    def summary(self):
        """warp_error_ab and cdc (None where there was no pair of frames to compare), cdc_by_gap, frames."""
        by_gap = {d: (self._js_sum[d] / self._js_pairs[d] if self._js_pairs[d] else None) for d in CDC_GAPS}
        measured = [v for v in by_gap.values() if v is not None]
        return {"frames": self.frames,
                "warp_error_ab": self._warp_sum / self._warp_pairs if self._warp_pairs else None,
                "cdc": float(np.mean(measured)) if measured else None,
                "cdc_by_gap": {str(d): v for d, v in by_gap.items()},
                "scene_cuts": max(0, self._shot)}
