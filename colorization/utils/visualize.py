"""Image files a person looks at: gray | target | prediction strips and a grid of them."""
import os

import cv2
import numpy as np


def write_rgb(path, rgb):
    """Write an RGB uint8 image; the format follows the extension. Written under a temporary name (same extension)
    and renamed: a killed run never leaves a half-written image under the final name."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.{os.getpid()}.tmp{ext}")
    try:
        if not cv2.imwrite(tmp, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write image {path}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def hstack(images, gap=4):
    """Side by side with a white gap; all images must share the height."""
    h = images[0].shape[0]
    spacer = np.full((h, gap, 3), 255, np.uint8)
    parts = []
    for i, img in enumerate(images):
        if i:
            parts.append(spacer)
        parts.append(img)
    return np.concatenate(parts, axis=1)


def vstack(rows, gap=4):
    w = max(r.shape[1] for r in rows)
    out = []
    for i, r in enumerate(rows):
        if i:
            out.append(np.full((gap, w, 3), 255, np.uint8))
        if r.shape[1] < w:
            r = np.concatenate([r, np.full((r.shape[0], w - r.shape[1], 3), 255, np.uint8)], axis=1)
        out.append(r)
    return np.concatenate(out, axis=0)


def header_height(tile_width):
    """Height of the label row above tiles of this width: readable on 64 px tiles, not huge on 512 px ones."""
    return max(16, min(tile_width // 8, 40))


_LABEL_FONT, _LABEL_THICKNESS = cv2.FONT_HERSHEY_SIMPLEX, 1


def _label_width(text, scale):
    return cv2.getTextSize(text, _LABEL_FONT, scale, _LABEL_THICKNESS)[0][0]


def fit_label(label, width, scale):
    """The label, or, when it is wider than `width` pixels, its start and its end joined by ".." (the middle is cut,
    so "model, 10 hints" keeps its hint count and two long names keep their different endings)."""
    label = str(label)
    if _label_width(label, scale) <= width:
        return label
    for keep in range(len(label) - 1, 0, -1):
        head = (keep + 1) // 2
        text = label[:head] + ".." + label[len(label) - (keep - head):]
        if _label_width(text, scale) <= width:
            return text
    return label[:1]


def header_row(labels, tile_width, gap=4):
    """A white row with one black label centred over each tile of hstack(tiles, gap); long labels lose their middle
    (fit_label)."""
    h = header_height(tile_width)
    scale = h / 40.0  # Hershey simplex: about 22 px cap height + 10 px descent at scale 1
    cells = []
    for label in labels:
        cell = np.full((h, tile_width, 3), 255, np.uint8)
        text = fit_label(label, tile_width - 4, scale)
        (tw, th), base = cv2.getTextSize(text, _LABEL_FONT, scale, _LABEL_THICKNESS)
        org = (max(2, (tile_width - tw) // 2), (h + th) // 2)
        cv2.putText(cell, text, org, _LABEL_FONT, scale, (0, 0, 0), _LABEL_THICKNESS, cv2.LINE_AA)
        cells.append(cell)
    return hstack(cells, gap)


def mark_hints(rgb, points, scale=1.0):
    """A copy of rgb with each hint patch (top, left, side in network pixels; times `scale` here) outlined in black
    and white, so that the point shows on any color."""
    out = np.ascontiguousarray(rgb).copy()
    for top, left, side in points:
        y0, x0 = int(round(top * scale)), int(round(left * scale))
        y1, x1 = int(round((top + side) * scale)) - 1, int(round((left + side) * scale)) - 1
        cv2.rectangle(out, (x0 - 2, y0 - 2), (x1 + 2, y1 + 2), (0, 0, 0), 1)
        cv2.rectangle(out, (x0 - 1, y0 - 1), (x1 + 1, y1 + 1), (255, 255, 255), 1)
    return out


def save_triplets(folder, names, rows_of_tiles):
    """One PNG per image (its tiles side by side: gray | target | prediction [| with hints]) and grid.png of all
    rows. Returns the paths."""
    os.makedirs(folder, exist_ok=True)
    rows, paths = [], []
    for name, tiles in zip(names, rows_of_tiles):
        row = hstack(tiles)
        rows.append(row)
        stem = os.path.splitext(os.path.basename(name))[0]
        path = os.path.join(folder, f"{stem}.png")
        write_rgb(path, row)
        paths.append(path)
    if rows:
        write_rgb(os.path.join(folder, "grid.png"), vstack(rows))
    return paths
