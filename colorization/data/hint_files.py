"""Hints a user gives: a JSON file of points ({"points": [{"x": 412, "y": 96, "color": "#3a7bd5"}], "size": 3}, in
the photo's own pixel coordinates, patch side in network pixels) or a scribble image (a layer of the photo's size
whose opaque pixels, or pixels unlike a background color, are hints). Only a hint's ab is used: its lightness
comes from the photo. Every mistake is a UserError naming the file and the field."""
import json
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..errors import UserError

DEFAULT_PATCH = 3
MAX_PATCH = 32
_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_POINT_KEYS = {"x", "y", "color"}


@dataclass
class UserHints:
    """points: (x, y, (r, g, b) in [0, 1]) in photo pixels; size: patch side in network pixels. scribble: an
    HxW bool mask of hint pixels and their HxWx3 RGB in [0, 1], at the photo's size."""
    points: List[Tuple[float, float, Tuple[float, float, float]]] = field(default_factory=list)
    size: int = DEFAULT_PATCH
    scribble_mask: Optional[np.ndarray] = None
    scribble_rgb: Optional[np.ndarray] = None

    def __bool__(self):
        return bool(self.points) or (self.scribble_mask is not None and bool(self.scribble_mask.any()))


def parse_color(text, where):
    """'#3a7bd5' or '#37d' -> (r, g, b) in [0, 1]."""
    match = _HEX.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise UserError(f"{where} is {text!r}; a color is written '#rrggbb' (e.g. '#3a7bd5')")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return tuple(int(digits[i:i + 2], 16) / 255.0 for i in (0, 2, 4))


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise UserError(f"{where} is {value!r}; expected a number of pixels")
    return float(value)


def hints_from_json(data, width, height, source="hints"):
    """UserHints from the parsed JSON of a hints file, checked against a photo of width x height."""
    if not isinstance(data, dict):
        raise UserError(f"{source} must hold an object like {{\"points\": [...], \"size\": 3}}, "
                        f"not a {type(data).__name__}")
    unknown = sorted(set(data) - {"points", "size"})
    if unknown:
        raise UserError(f"{source}: unknown key {unknown[0]!r}; a hints file holds \"points\" and \"size\"")
    size = data.get("size", DEFAULT_PATCH)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PATCH:
        raise UserError(f"{source}: size is {size!r}; expected a whole number of network pixels, 1 to {MAX_PATCH}")
    points = data.get("points", [])
    if not isinstance(points, list):
        raise UserError(f"{source}: points must be a list of {{\"x\", \"y\", \"color\"}} objects")
    parsed = []
    for i, point in enumerate(points):
        where = f"{source}: points[{i}]"
        if not isinstance(point, dict) or set(point) != _POINT_KEYS:
            keys = sorted(point) if isinstance(point, dict) else point
            raise UserError(f"{where} is {keys!r}; each point holds exactly \"x\", \"y\" and \"color\"")
        x, y = _number(point["x"], f"{where}.x"), _number(point["y"], f"{where}.y")
        if not (0 <= x < width and 0 <= y < height):
            raise UserError(f"{where} ({x:g}, {y:g}) is outside the photo ({width}x{height} pixels)")
        parsed.append((x, y, parse_color(point["color"], f"{where}.color")))
    return UserHints(parsed, size)


def read_json_file(path, what="hints file"):
    """The parsed JSON of a user's file, or a UserError naming it."""
    if not os.path.isfile(path):
        raise UserError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON ({e})") from None


def read_hints_file(path, width, height):
    return hints_from_json(read_json_file(path), width, height, path)


def _decode_layer(path):
    """A scribble file as (HxWx3 float RGB in [0, 1], HxW alpha in [0, 1] or None)."""
    data = np.fromfile(path, np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise UserError(f"cannot read hint image {path} (not an image OpenCV can decode)")
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    img = img.astype(np.float32) / scale
    if img.ndim == 2:
        img = img[:, :, None]
    alpha = img[:, :, 3] if img.shape[2] == 4 else None
    bgr = img[:, :, :3] if img.shape[2] >= 3 else np.repeat(img[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(bgr[:, :, ::-1]), alpha


def read_hint_image(path, width, height, background="#ffffff"):
    """UserHints from a scribble of the photo's size: pixels with alpha > 0 are hints; without alpha, the pixels
    that differ from `background`."""
    if not os.path.isfile(path):
        raise UserError(f"hint image not found: {path}")
    rgb, alpha = _decode_layer(path)
    if rgb.shape[:2] != (height, width):
        raise UserError(f"hint image {path} is {rgb.shape[1]}x{rgb.shape[0]}; it must have the photo's size, "
                        f"{width}x{height}")
    if alpha is not None:
        mask = alpha > 0
    else:
        back = np.array(parse_color(background, "--hint_background"), np.float32)
        mask = np.abs(rgb - back).max(axis=2) > 1.5 / 255.0
    if not mask.any():
        raise UserError(f"hint image {path} holds no hints (no opaque pixel, or none unlike the background "
                        f"{background})")
    return UserHints(scribble_mask=mask, scribble_rgb=rgb)
