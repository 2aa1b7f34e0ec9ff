"""Hints through a shot: points given on chosen frames (keyframes) follow the content through the optical flow
until the next scene cut or the next keyframe, so one set of clicks colors a whole shot.

Keyframes file: {"keyframes": [{"frame": 0, "points": [{"x": 412, "y": 96, "color": "#3a7bd5"}], "size": 3},
{"frame": 240, "points": []}]}: frame numbers count from 0 in display order; each entry's "points" and "size" are
those of a photo's hints file, in the video's pixels; an entry with no points clears the hints from that frame on."""

import cv2
import numpy as np

from ..data.hint_files import UserHints, hints_from_json, read_json_file
from ..errors import UserError

# Fixed-point steps that turn the backward flow (where a pixel of frame t was in t-1) into where a point of t-1 goes.
_FOLLOW_STEPS = 5


def keyframes_from_json(data, width, height, source="keyframes"):
    """{frame number: UserHints} from the parsed JSON of a keyframes file, checked against width x height frames."""
    if not isinstance(data, dict) or set(data) != {"keyframes"} or not isinstance(data["keyframes"], list):
        raise UserError(f'{source} must hold {{"keyframes": [{{"frame": 0, "points": [...], "size": 3}}, ...]}}')
    keyframes = {}
    for i, entry in enumerate(data["keyframes"]):
        where = f"{source}: keyframes[{i}]"
        if not isinstance(entry, dict) or "frame" not in entry:
            raise UserError(f'{where} must be an object with a "frame" number and its "points"')
        frame = entry["frame"]
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise UserError(f"{where}.frame is {frame!r}; expected a frame number (0 is the first frame)")
        if frame in keyframes:
            raise UserError(f"{where}: frame {frame} has hints twice; give each keyframe once")
        keyframes[frame] = hints_from_json({k: v for k, v in entry.items() if k != "frame"}, width, height, where)
    if not keyframes:
        raise UserError(f"{source} names no keyframe")
    return keyframes


def read_keyframes(path, width, height):
    return keyframes_from_json(read_json_file(path, "keyframes file"), width, height, path)


def follow(points, flow, width, height):
    """Where points (x, y) of frame t-1, in frame pixels, are in frame t, given t's backward flow at reduced size:
    p_t = p_t-1 - flow(p_t), solved by a few fixed-point steps. Points that leave the picture are dropped."""
    sh, sw = flow.shape[:2]
    sx, sy = sw / width, sh / height
    moved = []
    for x, y, rgb in points:
        qx, qy = (x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5  # the point on the small grid (pixel centres)
        px, py = qx, qy
        for _ in range(_FOLLOW_STEPS):
            at = np.array([[[px, py]]], np.float32)
            bx, by = cv2.remap(flow, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0, 0]
            px, py = qx - float(bx), qy - float(by)
        nx, ny = (px + 0.5) / sx - 0.5, (py + 0.5) / sy - 0.5
        if 0 <= nx <= width - 1 and 0 <= ny <= height - 1:
            moved.append((nx, ny, rgb))
    return moved


class HintTracker:
    """Called with each frame's index and Motion, in order: the UserHints of that frame (None: no hints)."""

    def __init__(self, keyframes, width, height):
        self.keyframes = keyframes
        self.width, self.height = width, height
        self._points, self._size = [], 3
        self.last_frame = -1

    def __call__(self, index, motion):
        self.last_frame = index
        if index in self.keyframes:
            hints = self.keyframes[index]
            self._points, self._size = list(hints.points), hints.size
        elif motion.cut:
            self._points = []
        elif self._points:
            self._points = follow(self._points, motion.flow, self.width, self.height)
        return UserHints(list(self._points), self._size) if self._points else None

    def unreached(self):
        """Keyframes past the last frame seen."""
        return sorted(k for k in self.keyframes if k > self.last_frame)
