"""Image files a person looks at: gray | target | prediction strips and a grid of them."""
import os

import cv2
import numpy as np


def write_rgb(path, rgb):
    """Write an RGB uint8 image; the format follows the extension."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ok = cv2.imwrite(path, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not write image {path}")


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


def save_triplets(folder, names, grays, targets, preds):
    """One PNG per image (gray | target | prediction) and grid.png of all rows. Returns the paths."""
    os.makedirs(folder, exist_ok=True)
    rows, paths = [], []
    for name, g, t, p in zip(names, grays, targets, preds):
        row = hstack([g, t, p])
        rows.append(row)
        stem = os.path.splitext(os.path.basename(name))[0]
        path = os.path.join(folder, f"{stem}.png")
        write_rgb(path, row)
        paths.append(path)
    if rows:
        write_rgb(os.path.join(folder, "grid.png"), vstack(rows))
    return paths
