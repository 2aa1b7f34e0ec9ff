"""A data set's screening is measured once and cached (next to the data, else in the user's cache), keyed by the
files; parallel workers measure the same as one process."""
import logging
import multiprocessing
import os
import shutil

import cv2
import numpy as np
import pytest

from colorization.data import screening
from colorization.data.dataset import ColorizationDataset
from colorization.data.paths_catalog import DatasetSpec
from colorization.data.sources import open_source


@pytest.fixture
def photos(tmp_path, photo_dir):
    """Six real photos, a gray copy of one and an unreadable file, in a folder of their own."""
    folder = tmp_path / "data" / "photos"
    folder.mkdir(parents=True)
    for p in sorted(os.listdir(photo_dir))[:6]:
        shutil.copy(os.path.join(photo_dir, p), folder / p)
    first = sorted(os.listdir(folder))[0]
    gray = cv2.cvtColor(cv2.imread(str(folder / first)), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(folder / "gray.png"), np.stack([gray] * 3, axis=-1))
    (folder / "broken.jpg").write_bytes(b"not a photo")
    return folder


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """Counts the photos measured (decoded); the user's cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user_cache"))
    calls, measure = [], screening.measure
    monkeypatch.setattr(screening, "measure", lambda source, name: calls.append(name) or measure(source, name))
    return calls


def _dataset(folder):
    return ColorizationDataset(DatasetSpec("p", str(folder), "all"), "LAB", 32, 0.1, 4.0)


def test_the_screening_is_cached_next_to_the_data_and_read_back(photos, counted, caplog):
    first = _dataset(photos)
    assert len(counted) == 8 and len(first) == 6
    assert first.dropped == {"unreadable": 1, "grayscale": 1, "dull": 0}
    assert len(os.listdir(photos.parent / screening.CACHE_FOLDER)) == 1
    with caplog.at_level(logging.WARNING):
        again = _dataset(photos)
    assert len(counted) == 8, "the second data set decoded photos again"
    assert again.names == first.names and again.dropped == first.dropped
    assert "skipping" in caplog.text and "broken.jpg" in caplog.text  # a skip is still named


def test_a_changed_file_list_is_screened_again(photos, counted):
    _dataset(photos)
    os.remove(photos / "gray.png")
    assert _dataset(photos).dropped["grayscale"] == 0 and len(counted) == 15
    with open(photos / "broken.jpg", "ab") as f:  # same name, another size
        f.write(b"!")
    _dataset(photos)
    assert len(counted) == 22


def test_where_the_data_folder_is_not_writable_the_user_cache_is_used(photos, counted, tmp_path):
    (photos.parent / screening.CACHE_FOLDER).write_text("a file where the cache folder would go")
    _dataset(photos)
    assert len(os.listdir(tmp_path / "user_cache" / "colorization" / "screening")) == 1
    _dataset(photos)
    assert len(counted) == 8


def test_parallel_workers_measure_what_one_process_does(photos, monkeypatch):
    monkeypatch.setattr(screening, "_CHUNK", 2)
    source = open_source(str(photos))
    names = source.list_images()
    assert screening._measure_all(source, names, workers=2) == screening._measure_all(source, names, workers=0)


def _measure_in_a_daemonic_process(folder):
    screening._CHUNK = 2  # the forked pool's copy of the module
    source = open_source(folder)
    return screening._measure_all(source, source.list_images(), workers=2)


def test_a_daemonic_process_measures_in_itself(photos):
    """Inside a multiprocessing.Pool's worker (which may not have children), e.g. a benchmark's fresh process, the
    screening runs in that process instead of failing to start its workers."""
    source = open_source(str(photos))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        measured = pool.apply(_measure_in_a_daemonic_process, (str(photos),))
    assert measured == screening._measure_all(source, source.list_images(), workers=0)


def test_a_zip_source_is_keyed_by_its_members(tmp_path, photos):
    archive = shutil.make_archive(str(tmp_path / "photos"), "zip", photos)
    source = open_source(archive)
    names = source.list_images()
    assert screening.cache_key(source, names) == screening.cache_key(open_source(archive), names)
    assert screening.cache_key(source, names) != screening.cache_key(source, names[1:])


def test_another_process_of_a_run_waits_for_the_first_ones_cache(photos, monkeypatch, tmp_path):
    import threading
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user_cache"))
    source = open_source(str(photos))
    names = source.list_images()
    measured = screening._measure_all(source, names, workers=0)
    paths = screening.cache_paths(source, screening.cache_key(source, names))
    monkeypatch.setattr(screening.torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(screening.torch.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(screening, "measure", lambda source, name: pytest.fail("rank 1 decoded a photo"))
    writer = threading.Timer(1.0, screening._write_cache, (paths, measured))
    writer.start()
    assert screening.measure_source(source, names) == measured
    writer.join()
