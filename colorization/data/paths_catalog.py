"""Maps data set names to image sources (a folder, a .zip, or another registered type) under the data root, and a
split of them."""
import os
from dataclasses import dataclass

from ..errors import UserError
from .shards import is_url
from .sources import source_kinds, source_type_of

# The data root: COLORIZATION_DATA_DIR, else the repository's datasets/ folder.
_DEFAULT_DATA_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "datasets"))
DATA_DIR_ENV = "COLORIZATION_DATA_DIR"
_IMAGENET = ("ImageNet ILSVRC2012 (https://image-net.org/download-images, after registering): ILSVRC2012_img_val.tar "
             "extracted into imagenet/val (flat, or sorted into class folders), ILSVRC2012_img_train.tar and its class "
             "tars into imagenet/train/<wnid>/")

# name -> source relative to the data root, and which deterministic split of it ("train", "val" or "all").
# To add a data set: put its folder or zip under the data root and add a line here.
DATASETS = {
    "landscape_train": {"source": "sample_photos.zip", "split": "train"},
    "landscape_val": {"source": "sample_photos.zip", "split": "val"},
    "landscape_all": {"source": "sample_photos.zip", "split": "all"},
    # More training photos from other packages (datasets/MORE_ATTRIBUTION.md); train on both with
    # DATASETS.TRAIN ("landscape_train", "more_train"), tune on ("landscape_val", "more_val").
    "more_train": {"source": "more_photos.zip", "split": "train"},
    "more_val": {"source": "more_photos.zip", "split": "val"},
    "more_all": {"source": "more_photos.zip", "split": "all"},
    # Extra training photos, many of people (datasets/EXTRA_ATTRIBUTION.md); the same hash split.
    "extra_train": {"source": "extra_photos.zip", "split": "train"},
    "extra_val": {"source": "extra_photos.zip", "split": "val"},
    "extra_all": {"source": "extra_photos.zip", "split": "all"},
    # Everyday photos (people, indoor, food, vehicles, animals, objects) from packages that give no training photo
    # (datasets/EVERYDAY_ATTRIBUTION.md): for evaluation only, never for training or choosing settings.
    "everyday_test": {"source": "everyday_photos.zip", "split": "all"},
    # The public data sets of the published evaluation protocol (docs/evaluation.md), in their download layouts under
    # the data root. "list": a photo list shipped in colorization/data/lists/ (in its order); "count": the photos the
    # protocol expects; "download": where the data set comes from, for the error when its folder is missing.
    "imagenet_train": {"source": "imagenet/train", "split": "all", "download": _IMAGENET},
    "imagenet_val": {"source": "imagenet/val", "split": "all", "count": 50000, "download": _IMAGENET},
    "imagenet_val5k": {"source": "imagenet/val", "list": "imagenet_val5k.txt", "split": "all", "count": 5000,
                       "download": _IMAGENET},
    "imagenet_ctest10k": {"source": "imagenet/val", "list": "imagenet_ctest10k.txt", "split": "all", "count": 10000,
                          "download": _IMAGENET},
    "cocostuff_val": {"source": "coco/val2017", "split": "all", "count": 5000,
                      "download": "COCO 2017 val images (COCO-Stuff's photos): http://images.cocodataset.org/zips/"
                                  "val2017.zip, unzipped into coco/"},
    "ade20k_val": {"source": "ADEChallengeData2016/images/validation", "split": "all", "count": 2000,
                   "download": "ADE20K scene parsing: http://data.csail.mit.edu/places/ADEchallenge/"
                               "ADEChallengeData2016.zip, unzipped here"},
    # Shards written by colorization-pack (docs/data_pipeline.md) are a "source" too: a folder under the data root, or a URL
    # ("https://host/imagenet_256/", read through a local cache), e.g. {"source": "imagenet_256", "split": "train"}.
}
LISTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lists")

SPLITS = ("train", "val", "all")


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # what the config said
    source: str  # absolute path of an image source (a folder, a .zip, ...: data/sources.py)
    split: str  # "train", "val" or "all"
    root: str = ""  # the folder a list source's paths are relative to ("" for other sources: the list's folder)


def data_dir():
    return os.environ.get(DATA_DIR_ENV) or _DEFAULT_DATA_DIR


def resolve_dataset(name):
    """A catalog name, or a path to an image source (a folder, a .zip, ...) optionally suffixed with @train or @val."""
    if name in DATASETS:
        entry = DATASETS[name]
        if is_url(entry["source"]):
            return DatasetSpec(name, entry["source"], entry["split"])
        source = os.path.join(data_dir(), entry["source"])
        if not os.path.exists(source):
            where = f"; download: {entry['download']}" if "download" in entry else ""
            raise UserError(f"data set {name!r} points at {source}, which does not exist; "
                            f"set {DATA_DIR_ENV} to the folder that holds {entry['source']!r}{where}")
        if "list" in entry:
            return DatasetSpec(name, os.path.join(LISTS_DIR, entry["list"]), entry["split"], root=source)
        return DatasetSpec(name, source, entry["split"])
    path, split = name, "all"
    head, sep, tail = name.rpartition("@")
    if sep and tail in SPLITS:
        path, split = head, tail
    if is_url(path):  # packed shards
        return DatasetSpec(name, path, split)
    path = os.path.expanduser(path)
    if source_type_of(path) is not None:
        return DatasetSpec(name, os.path.abspath(path), split)
    if os.path.exists(path):
        raise UserError(f"data set {name!r} is no image source this framework reads; give {source_kinds()}")
    raise UserError(f"unknown data set {name!r}: not a catalog name and no such path. "
                    f"Known names: {', '.join(sorted(DATASETS))}. Add one to DATASETS in "
                    f"colorization/data/paths_catalog.py, or give a path (optionally PATH@train / PATH@val).")


def dataset_short_name(name):
    """A file-system friendly name for a data set (used for the default output folder)."""
    if name in DATASETS:
        return name
    base = os.path.basename(os.path.normpath(name.split("@")[0])) or "dataset"
    return os.path.splitext(base)[0]
