"""Image sources: a folder searched recursively, a .zip read member by member without extracting it, a .txt list of
image files, or packed shards (data/shards.py)."""
import os
import zipfile

from .image_io import is_image_name
from .shards import ShardSource, is_shards_location


class FolderSource:
    def __init__(self, root):
        self.root = root

    def list_images(self):
        names = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for fn in filenames:
                if is_image_name(fn):
                    names.append(os.path.relpath(os.path.join(dirpath, fn), self.root).replace(os.sep, "/"))
        return sorted(names)

    def read(self, name):
        with open(os.path.join(self.root, name), "rb") as f:
            return f.read()

    def describe(self, name):
        return os.path.join(self.root, name)


class ZipSource:
    """Each process opens its own handle: a ZipFile shared across forked workers would interleave reads."""

    def __init__(self, path):
        self.path = path
        self._zip = None
        self._pid = None

    def _handle(self):
        if self._zip is None or self._pid != os.getpid():
            self._zip = zipfile.ZipFile(self.path)
            self._pid = os.getpid()
        return self._zip

    def list_images(self):
        return sorted(info.filename for info in self._handle().infolist()
                      if not info.is_dir() and is_image_name(info.filename))

    def read(self, name):
        return self._handle().read(name)

    def describe(self, name):
        return f"{self.path}:{name}"

    def __getstate__(self):
        return {"path": self.path, "_zip": None, "_pid": None}


class FileListSource:
    """A text file naming one image file per line (relative to the list's folder, or absolute; # comments)."""

    def __init__(self, path):
        self.path = path
        self.root = os.path.dirname(os.path.abspath(path))

    def list_images(self):
        with open(self.path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
        return sorted({line for line in lines if line and not line.startswith("#") and is_image_name(line)})

    def read(self, name):
        with open(os.path.join(self.root, name), "rb") as f:
            return f.read()

    def describe(self, name):
        return os.path.join(self.root, name)


def open_source(path):
    if is_shards_location(path):
        return ShardSource(path)
    if os.path.isdir(path):
        return FolderSource(path)
    if path.lower().endswith(".txt"):
        return FileListSource(path)
    try:
        zf = ZipSource(path)
        zf.list_images()
        return zf
    except zipfile.BadZipFile as e:
        from ..errors import UserError
        raise UserError(f"{path} is not a readable zip archive ({e})") from None
