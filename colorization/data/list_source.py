"""The `list` data-set type: a text file of image paths, one a line (DDColor's meta_info style), read in its order.

Paths are relative to a root folder (the list's own folder unless the catalog names another) or absolute. `#` lines
are a header (`# key: value`, e.g. source, count, sha256); text after the path (a class label, as in Larsson et al.'s
ctest10k "/wnid/file label") is ignored. A listed file that is not at root/path is looked up by its file name anywhere
under the root, so one list serves a flat folder and one sorted into class folders (ImageNet val's two layouts)."""
import hashlib
import os

from ..errors import UserError
from .source_registry import register_source

LIST_EXTENSION = ".txt"


def _is_list_file(path):
    return os.path.isfile(path) and path.lower().endswith(LIST_EXTENSION)


def read_photo_list(path):
    """(header {key: value}, [relative or absolute paths]) of a list file."""
    header, paths = {}, []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("#"):
                    key, sep, value = line[1:].partition(":")
                    if sep:
                        header[key.strip()] = value.strip()
                elif line:
                    paths.append(line.split()[0])
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read the photo list {path} ({e})") from None
    return header, paths


def paths_sha256(paths):
    """SHA-256 of a list's paths, one a line: the list's identity in headers and run records (comments, labels and
    line endings left out)."""
    return hashlib.sha256("".join(p + "\n" for p in paths).encode("utf-8")).hexdigest()


@register_source("list", claims=_is_list_file, what="a list of photos (.txt)")
class ListSource:
    """The photos a list file names under `root` (default: the list's folder), in the list's order."""

    def __init__(self, list_path, root=None):
        self.list_path = list_path
        self.root = root or os.path.dirname(os.path.abspath(list_path))
        # where the screening cache goes: next to the photos (a name under their root, for the list)
        self.path = os.path.join(self.root, os.path.basename(list_path))
        self.header, self.paths = read_photo_list(list_path)
        self._by_file_name = None  # file name -> path under root, built on the first path not found where listed

    def list_images(self, limit=0):
        """The listed paths (the first `limit` only, when given), all of which must be there."""
        paths = self.paths[:limit] if limit else self.paths
        missing = [p for p in paths if self._locate(p) is None]
        if missing:
            raise UserError(f"{len(missing)} of the {len(paths)} photos listed in {self.list_path} are not under "
                            f"{self.root} (first: {missing[0]}); put the complete data set there")
        return list(paths)

    def _locate(self, name):
        path = name if os.path.isabs(name) else os.path.join(self.root, name)
        if os.path.isfile(path):
            return path
        if self._by_file_name is None:
            self._by_file_name = {}
            for dirpath, _, filenames in os.walk(self.root):
                for fn in filenames:
                    self._by_file_name.setdefault(fn, os.path.join(dirpath, fn))
        return self._by_file_name.get(os.path.basename(name))

    def read(self, name):
        path = self._locate(name)
        if path is None:
            raise FileNotFoundError(f"{name} is not under {self.root}")
        with open(path, "rb") as f:
            return f.read()

    def describe(self, name):
        return self._locate(name) or os.path.join(self.root, name)

    def fingerprint(self, names):
        """(name, size, modification time in ns) of each name, where it was found."""
        stats = ((n, os.stat(self._locate(n))) for n in names)
        return [(n, s.st_size, s.st_mtime_ns) for n, s in stats]

    def __getstate__(self):  # workers rebuild the file-name index only if they need it
        return dict(self.__dict__, _by_file_name=None)
