"""A folder of images, searched recursively."""
import os

from .image_io import is_image_name
from .source_registry import register_source


@register_source("folder", claims=os.path.isdir, what="a folder of images")
class FolderSource:
    def __init__(self, root):
        self.path = root

    def list_images(self):
        names = []
        for dirpath, dirnames, filenames in os.walk(self.path):
            dirnames.sort()
            for fn in filenames:
                if is_image_name(fn):
                    names.append(os.path.relpath(os.path.join(dirpath, fn), self.path).replace(os.sep, "/"))
        return sorted(names)

    def read(self, name):
        with open(os.path.join(self.path, name), "rb") as f:
            return f.read()

    def describe(self, name):
        return os.path.join(self.path, name)

    def fingerprint(self, names):
        """(name, size, modification time in ns) of each name."""
        stats = ((n, os.stat(os.path.join(self.path, n))) for n in names)
        return [(n, s.st_size, s.st_mtime_ns) for n, s in stats]
