"""A .zip archive, read member by member without extracting it."""
import os
import zipfile

from ..errors import UserError
from .image_io import is_image_name
from .source_registry import register_source


def _is_zip_file(path):
    return os.path.isfile(path) and path.lower().endswith(".zip")


@register_source("zip", claims=_is_zip_file, what="a .zip archive")
class ZipSource:
    """Each process opens its own handle: a ZipFile shared across forked workers would interleave reads."""

    def __init__(self, path):
        self.path = path
        self._zip = None
        self._pid = None
        try:
            self._handle()
        except (zipfile.BadZipFile, OSError) as e:
            raise UserError(f"{path} is not a readable zip archive ({e})") from None

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

    def fingerprint(self, names):
        """(name, size, modification time, CRC) of each member."""
        zf = self._handle()
        infos = (zf.getinfo(n) for n in names)
        return [(i.filename, i.file_size, list(i.date_time), i.CRC) for i in infos]

    def __getstate__(self):
        return {"path": self.path, "_zip": None, "_pid": None}
