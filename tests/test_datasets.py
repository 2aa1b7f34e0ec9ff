"""The photo sets under datasets/: catalog names, the everyday set kept apart from everything trained on, and every
photo attributed."""
import hashlib
import os
import re
import zipfile

import cv2
import numpy as np
import pytest

from colorization.config import load_cfg
from colorization.data.build import build_dataset
from colorization.data.image_io import probe_size
from colorization.data.paths_catalog import DATASETS, resolve_dataset
from conftest import REPO

DATA = os.path.join(REPO, "datasets")
# zip -> its attribution file
SETS = {"sample_photos.zip": "ATTRIBUTION.md", "more_photos.zip": "MORE_ATTRIBUTION.md",
        "extra_photos.zip": "EXTRA_ATTRIBUTION.md", "everyday_photos.zip": "EVERYDAY_ATTRIBUTION.md"}
TRAINING_ZIPS = ("sample_photos.zip", "more_photos.zip", "extra_photos.zip")
EVALUATION_ZIP = "everyday_photos.zip"
# Thumbnail correlation above which two photos count as the same picture. The same photo re-encoded or resized
# scores above 0.99; the closest distinct pictures in these sets (two hazy hill sides) about 0.92.
SAME_PICTURE = 0.97


def _members(zip_name):
    with zipfile.ZipFile(os.path.join(DATA, zip_name)) as zf:
        return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


@pytest.fixture(scope="module")
def members():
    return {z: _members(z) for z in SETS}


def _thumbnails(data):
    """Zero-mean unit-length 16x16 gray thumbnails of the whole photo and of its centre square, and a hash of
    the decoded pixels."""
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_2)
    h, w = gray.shape
    s = min(h, w)
    square = gray[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    thumbs = []
    for img in (gray, square):
        t = cv2.resize(img, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
        t -= t.mean()
        thumbs.append(t / (np.linalg.norm(t) + 1e-6))
    return thumbs, hashlib.sha256(gray.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def thumbnails(members):
    return {z: {os.path.basename(n): _thumbnails(d) for n, d in m.items()} for z, m in members.items()}


def _package(file_name):
    return file_name.split("__", 1)[0]


def test_new_catalog_names_resolve_to_their_zips():
    expected = {"more_train": ("more_photos.zip", "train"), "more_val": ("more_photos.zip", "val"),
                "more_all": ("more_photos.zip", "all"), "extra_train": ("extra_photos.zip", "train"),
                "extra_val": ("extra_photos.zip", "val"), "everyday_test": ("everyday_photos.zip", "all")}
    for name, (zip_name, split) in expected.items():
        spec = resolve_dataset(name)
        assert spec.source == os.path.join(DATA, zip_name) and os.path.isfile(spec.source)
        assert spec.split == split
    # the everyday photos are for evaluation only: no catalog name offers a train or val split of them
    assert all(e["split"] == "all" for e in DATASETS.values() if e["source"] == EVALUATION_ZIP)


def test_everyday_set_holds_60_color_photos_after_screening():
    cfg = load_cfg()
    d = build_dataset(cfg, ["everyday_test"], train=False)
    assert d.dropped["unreadable"] == 0
    assert len(d) >= 60


def test_more_photos_split_into_train_and_val():
    cfg = load_cfg()
    train = build_dataset(cfg, ["more_train"], train=False)
    val = build_dataset(cfg, ["more_val"], train=False)
    assert len(train) >= 100 and len(val) >= 5
    assert not set(train.names) & set(val.names)


def test_zips_follow_the_conventions(members):
    for zip_name, m in members.items():
        folders = {n.split("/")[0] for n in m}
        assert folders == {zip_name[:-4]}, zip_name
        for name, data in m.items():
            assert re.fullmatch(r"[^/]+/[a-z0-9.+-]+__[A-Za-z0-9_.+-]+\.jpg", name), name
            assert data[:2] == b"\xff\xd8", name
            assert min(probe_size(data)) <= 384, name


def test_everyday_photos_share_no_name_and_no_package_with_training_photos(members):
    everyday = {os.path.basename(n) for n in members[EVALUATION_ZIP]}
    training = {os.path.basename(n) for z in TRAINING_ZIPS for n in members[z]}
    assert not everyday & training
    assert not {_package(n) for n in everyday} & {_package(n) for n in training}


def _same_pictures(a, b):
    """Pairs (name in a, name in b) of the same picture: equal decoded pixels or near-equal thumbnails."""
    names_a, names_b = sorted(a), sorted(b)
    pairs = {(x, y) for x in names_a for y in names_b if a[x][1] == b[y][1]}
    for k in range(2):
        sims = np.stack([a[n][0][k] for n in names_a]) @ np.stack([b[n][0][k] for n in names_b]).T
        pairs |= {(names_a[i], names_b[j]) for i, j in zip(*np.nonzero(sims > SAME_PICTURE))}
    return pairs


def test_no_picture_in_two_sets(thumbnails):
    everyday = thumbnails[EVALUATION_ZIP]
    for zip_name in TRAINING_ZIPS:
        assert not _same_pictures(everyday, thumbnails[zip_name]), zip_name
    for i, zip_name in enumerate(TRAINING_ZIPS):
        for other in TRAINING_ZIPS[i + 1:]:
            assert not _same_pictures(thumbnails[zip_name], thumbnails[other]), (zip_name, other)
    extra = thumbnails["extra_photos.zip"]
    assert {(a, b) for a, b in _same_pictures(extra, extra) if a != b} == set()  # no near-duplicates within it


def test_the_picture_check_finds_a_copy_resized_and_reencoded(members, thumbnails):
    name, data = sorted(members[EVALUATION_ZIP].items())[0]
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    copy = cv2.imencode(".jpg", cv2.resize(img, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA),
                        [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes()
    training = dict(thumbnails["sample_photos.zip"], copy=_thumbnails(copy))
    assert _same_pictures(thumbnails[EVALUATION_ZIP], training) == {(os.path.basename(name), "copy")}


def _attributed(attribution_file):
    text = open(os.path.join(DATA, attribution_file), encoding="utf-8").read()
    return re.findall(r"^- `([^`]+\.jpg)` from `", text, flags=re.M)


def test_every_photo_is_attributed_and_every_attribution_has_its_photo(members):
    for zip_name, attribution in SETS.items():
        listed = _attributed(attribution)
        assert len(listed) == len(set(listed)), attribution
        assert set(listed) == {os.path.basename(n) for n in members[zip_name]}, attribution
