import os

import pytest

from colorization.data import paths_catalog
from colorization.data.paths_catalog import resolve_dataset
from colorization.errors import UserError


def test_landscape_names_point_at_embedded_zip():
    train, val = resolve_dataset("landscape_train"), resolve_dataset("landscape_val")
    assert train.source == val.source and train.source.endswith("sample_photos.zip")
    assert os.path.isfile(train.source)
    assert (train.split, val.split) == ("train", "val")


def test_data_dir_env_variable(tmp_path, monkeypatch):
    (tmp_path / "sample_photos.zip").write_bytes(b"")
    monkeypatch.setenv(paths_catalog.DATA_DIR_ENV, str(tmp_path))
    assert resolve_dataset("landscape_train").source == str(tmp_path / "sample_photos.zip")


def test_data_dir_env_variable_missing_source_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(paths_catalog.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(UserError, match="COLORIZATION_DATA_DIR"):
        resolve_dataset("landscape_train")


def test_unknown_name_lists_known_names_and_how_to_add():
    with pytest.raises(UserError) as e:
        resolve_dataset("imagenet_val")
    msg = str(e.value)
    assert "landscape_train" in msg and "landscape_val" in msg and "paths_catalog.py" in msg


def test_paths_work_instead_of_names(photo_dir):
    spec = resolve_dataset(str(photo_dir))
    assert spec.source == str(photo_dir) and spec.split == "all"
    spec = resolve_dataset(f"{photo_dir}@val")
    assert spec.source == str(photo_dir) and spec.split == "val"


def test_a_file_that_is_not_a_zip_is_refused(photo_path):
    with pytest.raises(UserError, match="no image source this framework reads; give a folder of images, a .zip archive"):
        resolve_dataset(photo_path)
