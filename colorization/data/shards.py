"""Sharded data sets: WebDataset tar shards written by colorization-pack, and an index.json that lists every
shard (SHA-256, size) and, per photo, its original name and where its JPEG bytes lie in the shard. The index gives
random access, so the training sampler (shuffle per seed and epoch, split over ranks, resume in mid-epoch) works as
for a folder. A location is a local folder or a URL WebDataset opens (http(s), gs, pipe:COMMAND ...): remote shards
are fetched once into a local cache. A shard that is missing or fails its check is named, skipped and counted."""
import hashlib
import json
import logging
import os
import tempfile

from ..errors import UserError
from .image_io import decode_plain_jpeg
from .source_registry import register_source

logger = logging.getLogger(__name__)

INDEX_NAME = "index.json"
INDEX_FORMAT = "colorization-shards/1"
CACHE_ENV = "COLORIZATION_CACHE_DIR"
_CHUNK = 1 << 20


def is_url(path):
    """scheme://... or pipe:COMMAND: a location WebDataset opens."""
    return "://" in path or path.startswith("pipe:")


def is_shards_location(path):
    """A URL, or a folder holding an index.json."""
    return is_url(path) or os.path.isfile(os.path.join(path, INDEX_NAME))


def _is_remote(location):
    return "://" in location and not location.startswith("file://") or location.startswith("pipe:")


def _local_path(location):
    return location[len("file://"):] if location.startswith("file://") else location


def require_webdataset():
    try:
        import webdataset
    except ImportError:
        raise UserError("sharded data sets need WebDataset: pip install -e \".[shards]\"") from None
    return webdataset


def cache_dir(location):
    """Where the shards of a remote location are kept: $COLORIZATION_CACHE_DIR (else ~/.cache/colorization),
    shards/<hash of the location>."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "colorization")
    return os.path.join(root, "shards", hashlib.sha256(location.encode()).hexdigest()[:16])


def file_sha256(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _fetch(url, dest):
    """Copies url into dest through a temporary file (a killed fetch leaves no file under dest's name)."""
    gopen = require_webdataset().gopen
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", suffix=".tmp", dir=os.path.dirname(dest))
    try:
        with os.fdopen(fd, "wb") as out, gopen(url, "rb") as stream:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@register_source("shards", claims=is_shards_location, what="packed shards (a folder with index.json, or a URL)")
class ShardSource:
    """The image-source interface (list_images, read, describe, fingerprint; data/source_registry.py) over packed
    shards. screened_at: the gray-chroma threshold the packer screened with (the data set skips its own screening up to it)."""

    def __init__(self, location):
        self.location = location.rstrip("/")
        self.remote = _is_remote(self.location)
        self.folder = cache_dir(self.location) if self.remote else _local_path(self.location)
        self.path = self.folder  # where a screening cache goes (next to the shards)
        index = self._read_index()
        self.screened_at = float(index.get("gray_threshold", 0.0))
        self.packed_size = int(index.get("size", 0))
        self.damaged = []
        self._entries = {}  # name -> (shard file, offset, size)
        for shard in index["shards"]:
            path = self._checked_shard(shard)
            if path is None:
                continue
            for name, offset, size in shard["samples"]:
                self._entries[name] = (path, int(offset), int(size))
        if self.damaged:
            logger.warning("%s: %d damaged shard(s) skipped (%s); %d photos left", self.location, len(self.damaged),
                           ", ".join(self.damaged), len(self._entries))
        self._files, self._pid = {}, None

    def _read_index(self):
        where = f"{self.location}/{INDEX_NAME}"
        try:
            if self.remote:
                os.makedirs(self.folder, exist_ok=True)
                _fetch(where, os.path.join(self.folder, INDEX_NAME))  # always fresh: the index names the shards
            with open(os.path.join(self.folder, INDEX_NAME), encoding="utf-8") as f:
                index = json.load(f)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read the shard index {where} ({e}); pack a data set with colorization-pack") \
                from None
        if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or not isinstance(index.get("shards"),
                                                                                                  list):
            raise UserError(f"{where} is not a shard index of format {INDEX_FORMAT!r}; pack it again with "
                            f"colorization-pack")
        return index

    def _checked_shard(self, shard):
        """The local path of a shard whose size and SHA-256 match the index (fetched first if remote), or None
        (logged, counted in self.damaged)."""
        name = shard["name"]
        path = os.path.join(self.folder, name)
        reason = None
        try:
            if self.remote and not (os.path.isfile(path) and file_sha256(path) == shard["sha256"]):
                _fetch(f"{self.location}/{name}", path)
            if not os.path.isfile(path):
                reason = "missing"
            elif os.path.getsize(path) != shard["bytes"]:
                reason = f"{os.path.getsize(path)} bytes, the index says {shard['bytes']}"
            elif file_sha256(path) != shard["sha256"]:
                reason = "SHA-256 differs from the index"
        except Exception as e:  # a failed fetch: the library raises its own errors
            reason = f"cannot be fetched ({e})"
        if reason is None:
            return path
        logger.warning("skipping damaged shard %s/%s: %s", self.location, name, reason)
        self.damaged.append(name)
        return None

    def list_images(self):
        return sorted(self._entries)

    def read(self, name):
        # Each process opens its own handles: a file position shared across forked workers would interleave reads.
        if self._pid != os.getpid():
            self._files, self._pid = {}, os.getpid()
        path, offset, size = self._entries[name]
        f = self._files.get(path)
        if f is None:
            f = self._files[path] = open(path, "rb")
        f.seek(offset)
        return f.read(size)

    @staticmethod
    def decode(data, min_short_side=0):
        return decode_plain_jpeg(data, min_short_side)

    def describe(self, name):
        path = self._entries[name][0]
        return f"{self.location}/{os.path.basename(path)}:{name}"

    def fingerprint(self, names):
        """(name, shard, offset, size) of each name: the index fixes the packed bytes (each shard's SHA-256 checked)."""
        return [(n, os.path.basename(self._entries[n][0]), *self._entries[n][1:]) for n in names]

    def __getstate__(self):
        return dict(self.__dict__, _files={}, _pid=None)
