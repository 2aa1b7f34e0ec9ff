"""Writing shards (data/shards.py) from any image source: each photo decoded, screened as training screens it
(unreadable, too small and grayscale photos are skipped and counted), shrunk to a short side of `size`, re-encoded as
JPEG, written into WebDataset tar shards of about `shard_bytes`; the index last, so that a folder is a data set only
once it is whole."""
import json
import logging
import os
import shutil
import tarfile

import cv2

from ..utils.io import atomic_write
from .image_io import ImageDecodeError, decode_image
from .screening import measure_image, screen_reason
from .shards import INDEX_FORMAT, INDEX_NAME, file_sha256, require_webdataset

logger = logging.getLogger(__name__)


def shrink(img, size):
    """The photo with its short side brought down to `size` (never enlarged)."""
    h, w = img.shape[:2]
    if min(h, w) <= size:
        return img
    scale = size / min(h, w)
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def encode_jpeg(rgb, quality):
    # Huffman tables fitted to each photo: the same pixels in 4 % fewer bytes, decoded 2-3 % faster, for 0.5 ms more
    # per photo when packing (docs/data_pipeline.md).
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:
        raise ImageDecodeError("could not be re-encoded as JPEG")
    return buf.tobytes()


def _member_offsets(path):
    """{key: (offset, size)} of the .jpg members of a tar shard."""
    with tarfile.open(path) as tar:
        return {m.name[:-len(".jpg")]: (m.offset_data, m.size) for m in tar.getmembers() if m.name.endswith(".jpg")}


class _ShardWriter:
    """Tar shards shard-000000.tar ... under a work folder, a new one when the current one reaches shard_bytes."""

    def __init__(self, folder, shard_bytes):
        self.webdataset = require_webdataset()
        self.folder, self.shard_bytes = folder, shard_bytes
        self.shards, self._tar, self._file, self._names = [], None, None, {}

    def write(self, key, name, jpeg):
        if self._tar is None:
            self._file = open(os.path.join(self.folder, f"shard-{len(self.shards):06d}.tar"), "wb")
            self._tar = self.webdataset.TarWriter(self._file)
            self._names = {}
        self._tar.write({"__key__": key, "jpg": jpeg, "json": {"name": name}})
        self._names[key] = name
        if self._file.tell() >= self.shard_bytes:
            self.close()

    def close(self):
        if self._tar is None:
            return
        self._tar.close()
        self._file.close()
        path = self._file.name
        offsets = _member_offsets(path)
        self.shards.append({"name": os.path.basename(path), "bytes": os.path.getsize(path),
                            "sha256": file_sha256(path),
                            "samples": [[self._names[k], *offsets[k]] for k in sorted(self._names)]})
        self._tar = self._file = None


def pack(source, names, output, size=256, quality=95, gray_threshold=2.0, shard_bytes=128 << 20, progress=None):
    """Writes the photos `names` of `source` as shards into the folder `output` (made if needed; an earlier pack in
    it is replaced). Returns the index (its "skipped" counts what was left out)."""
    if os.path.exists(os.path.join(output, INDEX_NAME)):
        os.remove(os.path.join(output, INDEX_NAME))  # the old index must not describe the new shards
    work = os.path.join(output, ".packing")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    writer = _ShardWriter(work, shard_bytes)
    skipped = {"unreadable": 0, "grayscale": 0}
    for i, name in enumerate(names):
        try:
            img = decode_image(source.read(name), min_short_side=size)
            reason = screen_reason(measure_image(img), gray_threshold)
        except (ImageDecodeError, OSError) as e:
            logger.warning("skipping %s: %s", source.describe(name), e)
            reason = "unreadable"
        if reason is not None:
            skipped[reason] += 1
        else:
            writer.write(f"{i:09d}", name, encode_jpeg(shrink(img, size), quality))
        if progress is not None:
            progress(i + 1)
    writer.close()
    for shard in writer.shards:
        os.replace(os.path.join(work, shard["name"]), os.path.join(output, shard["name"]))
    shutil.rmtree(work, ignore_errors=True)
    index = {"format": INDEX_FORMAT, "size": size, "quality": quality, "gray_threshold": gray_threshold,
             "photos": sum(len(s["samples"]) for s in writer.shards), "skipped": skipped, "shards": writer.shards}
    atomic_write(os.path.join(output, INDEX_NAME), lambda f: f.write(json.dumps(index)), mode="w")
    _remove_stale_shards(output, {s["name"] for s in writer.shards})
    return index


def _remove_stale_shards(output, kept):
    """Shards of an earlier, larger pack in the same folder, which the new index no longer names."""
    for name in os.listdir(output):
        if name.startswith("shard-") and name.endswith(".tar") and name not in kept:
            os.remove(os.path.join(output, name))
