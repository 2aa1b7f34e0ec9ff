"""Decode + resize of one photo per data-loader worker (one core) with OpenCV (the framework's decode_image), simplejpeg
and Pillow, on the embedded photos, on the same photos packed as colorization-pack stores them (short side 256,
JPEG 95), and on 3000x2000 enlargements: the figures behind docs/data_pipeline.md's "Decoding" table.

  python benchmarks/decode_speed.py [--photos 60] [--size 256]

Run it pinned to one core (taskset -c 1 ...) on a quiet machine; it prints one line per decoder and photo set.
"""
import argparse
import io
import os
import sys
import time
import zipfile

import cv2
import numpy as np
import simplejpeg
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from colorization.data.image_io import decode_image  # noqa: E402
from colorization.data.pack import encode_jpeg, shrink  # noqa: E402
from colorization.data.transforms import resize_center_crop  # noqa: E402

SAMPLE_ZIP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "datasets", "sample_photos.zip")


def decoders(size):
    def opencv(data):
        return resize_center_crop(decode_image(data, min_short_side=size), size)

    def simple(data):
        img = simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=size, min_width=size)
        return resize_center_crop(img, size)

    def pillow(data):
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (size, size))
        return resize_center_crop(np.asarray(img.convert("RGB")), size)

    return {"opencv": opencv, "simplejpeg": simple, "pillow_draft": pillow}


def best_rate(fn, files, repeats=3):
    fn(files[0])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for data in files:
            fn(data)
        best = min(best, time.perf_counter() - start)
    return len(files) / best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=60)
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args()
    cv2.setNumThreads(1)
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        files = [zf.read(n) for n in sorted(zf.namelist()) if n.lower().endswith(".jpg")][:args.photos]
    packed = [encode_jpeg(shrink(decode_image(d, args.size), args.size), 95) for d in files]
    big = [encode_jpeg(cv2.resize(decode_image(d), (3000, 2000), interpolation=cv2.INTER_CUBIC), 90)
           for d in files[:8]]
    sets = {"embedded photos": files, f"packed {args.size} q95": packed, "3000x2000 q90": big}
    for label, data in sets.items():
        kb = sum(map(len, data)) / len(data) / 1024
        for name, fn in decoders(args.size).items():
            print(f"{label:18s} ({kb:5.1f} KB) {name:14s} {best_rate(fn, data):7.1f} images/s per worker")


if __name__ == "__main__":
    main()
