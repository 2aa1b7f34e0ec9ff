"""colorize over many photos (engine/colorize_many.py): photos of several sizes batched through the network give
what one photo at a time gives, a rerun with --resume only does what is missing, torchrun ranks split the photos,
and packed shards are an input like a folder."""
import os

import cv2
import numpy as np

from colorization.cli.inference import main as colorize
from colorization.data.pack import pack
from colorization.data.source_folder import FolderSource
from conftest import REPO

MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")


def _photos(photo_dir, tmp_path, count=5):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(sorted(photo_dir.iterdir())[:count]):
        img = cv2.imread(str(p))
        side = 48 + 8 * i  # every photo a different size
        cv2.imwrite(str(folder / p.name), cv2.resize(img, (side + 16, side)))
    return folder


def _outputs(folder):
    return {p.name: cv2.imread(str(p)) for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_batches_of_mixed_sizes_equal_one_photo_at_a_time(photo_dir, tmp_path, capsys):
    photos = _photos(photo_dir, tmp_path)
    assert colorize(["--img_path", str(photos), "--model_to_load", MODEL, "--output", f"{tmp_path}/one/",
                     "--batch", "1", "--workers", "0"]) == 0
    assert colorize(["--img_path", str(photos), "--model_to_load", MODEL, "--output", f"{tmp_path}/batched/",
                     "--batch", "3", "--workers", "1"]) == 0
    one, batched = _outputs(tmp_path / "one"), _outputs(tmp_path / "batched")
    assert one.keys() == batched.keys() and len(one) == 5
    for name, img in one.items():
        assert img.shape == batched[name].shape
        assert np.abs(img.astype(int) - batched[name]).max() <= 1, name
    assert "5 photos colorized" in capsys.readouterr().err


def test_resume_does_only_what_is_missing(photo_dir, tmp_path, capsys):
    photos = _photos(photo_dir, tmp_path)
    args = ["--img_path", str(photos), "--model_to_load", MODEL, "--output", f"{tmp_path}/out/", "--batch", "2",
            "--workers", "0"]
    assert colorize(args) == 0
    first = sorted((tmp_path / "out").iterdir())
    first[1].unlink()
    capsys.readouterr()
    assert colorize(args + ["--resume"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(first[1].name) and len(out.strip().splitlines()) == 1
    assert "1 photos colorized" in err and "4 already done" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in first]  # no temporary left


def test_torchrun_ranks_share_the_photos(photo_dir, tmp_path, monkeypatch, capsys):
    photos = _photos(photo_dir, tmp_path)
    written = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert colorize(["--img_path", str(photos), "--model_to_load", MODEL, "--output", f"{tmp_path}/out/",
                         "--device", "cpu", "--workers", "0"]) == 0
        written.append([line for line in capsys.readouterr().out.splitlines() if " -> " in line])
    assert len(written[0]) == 3 and len(written[1]) == 2 and not set(written[0]) & set(written[1])
    assert len(list((tmp_path / "out").iterdir())) == 5


def test_packed_shards_are_colorized_like_a_folder(photo_dir, tmp_path, capsys):
    photos = _photos(photo_dir, tmp_path, count=3)
    source = FolderSource(str(photos))
    pack(source, source.list_images(), str(tmp_path / "shards"), size=48)
    assert colorize(["--img_path", str(tmp_path / "shards"), "--model_to_load", MODEL, "--output",
                     f"{tmp_path}/out/", "--workers", "0"]) == 0
    assert sorted(os.listdir(tmp_path / "out")) == sorted(p.stem + "_colorized.png" for p in photos.iterdir())
    assert "shard-000000.tar:" in capsys.readouterr().out
