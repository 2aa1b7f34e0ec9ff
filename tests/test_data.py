import io
import logging
import zipfile

import cv2
import numpy as np
import pytest
import torch

from colorization.config import load_cfg
from colorization.data.paths_catalog import DatasetSpec
from colorization.data.build import build_data_loader, build_dataset
from colorization.data.dataset import ColorizationDataset, split_of
from colorization.data.image_io import ImageDecodeError, decode_image
from colorization.data.transforms import train_transform
from colorization.errors import UserError


def _dataset(folder, split="all", **kw):
    return ColorizationDataset(DatasetSpec(str(folder), str(folder), split), "LAB", 32, 0.1, 4.0, **kw)


def _png(img, **params):
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def test_split_is_deterministic_and_stable_when_files_are_added():
    names = [f"photo_{i}.jpg" for i in range(2000)]
    first = {n: split_of(n, 0.1) for n in names}
    more = names + [f"new_{i}.jpg" for i in range(500)]
    second = {n: split_of(n, 0.1) for n in more}
    assert all(first[n] == second[n] for n in names)
    val = sum(s == "val" for s in first.values())
    assert 140 < val < 260  # about 10 %


def test_embedded_split_has_no_overlap():
    cfg = load_cfg(None, ["INPUT.SIZE", "32"])
    train = build_dataset(cfg, ["landscape_train"], train=True)
    val = build_dataset(cfg, ["landscape_val"], train=False)
    assert not set(train.names) & set(val.names)
    assert len(train) + len(val) == 221
    assert 12 <= len(val) <= 35


def test_grayscale_photos_are_dropped(photo_dir, tmp_path, caplog):
    for i, p in enumerate(sorted(photo_dir.iterdir())[:4]):
        img = cv2.imread(str(p))
        if i < 2:
            img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            cv2.imwrite(str(tmp_path / f"gray_{i}.jpg"), img)
        else:
            cv2.imwrite(str(tmp_path / f"color_{i}.jpg"), img)
    with caplog.at_level(logging.INFO):
        ds = _dataset(tmp_path)
    assert sorted(ds.names) == ["color_2.jpg", "color_3.jpg"]
    assert ds.dropped["grayscale"] == 2


def test_bad_files_are_skipped_with_a_warning_and_counted(photo_path, tmp_path, caplog):
    good = open(photo_path, "rb").read()
    (tmp_path / "good.jpg").write_bytes(good)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.jpg").write_text("this is not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with caplog.at_level(logging.WARNING):
        ds = _dataset(tmp_path)
    assert ds.names == ["good.jpg"]
    assert ds.dropped["unreadable"] == 4
    for name in ("empty.jpg", "truncated.jpg", "text.jpg", "broken.png"):
        assert any(name in r.getMessage() for r in caplog.records), name


def test_formats_decode_to_8bit_rgb(photo_path):
    bgr = cv2.resize(cv2.imread(photo_path), (40, 30))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cases = {
        "png": _png(bgr),
        "png16": _png(bgr.astype(np.uint16) * 257),
        "bmp": cv2.imencode(".bmp", bgr)[1].tobytes(),
        "webp": cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes(),
        "tiff": cv2.imencode(".tiff", bgr)[1].tobytes(),
    }
    for name, data in cases.items():
        out = decode_image(data)
        assert out.dtype == np.uint8 and out.shape == (30, 40, 3), name
        assert np.abs(out.astype(int) - rgb).max() <= 1, name


def test_alpha_is_composited_on_white():
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[..., 2] = 255  # red
    bgra[:5, :, 3] = 255  # top half opaque, bottom half transparent
    out = decode_image(_png(bgra))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[9, 9]) == (255, 255, 255)


def test_palette_png_decodes():
    from PIL import Image
    img = Image.new("P", (12, 8))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 1)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    out = decode_image(buf.getvalue())
    assert out.shape == (8, 12, 3)
    assert tuple(out[0, 0]) == (0, 0, 255) and tuple(out[5, 5]) == (255, 0, 0)


def test_exif_orientation_is_applied(photo_path):
    from PIL import Image
    img = Image.open(photo_path).convert("RGB").resize((60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    assert decode_image(buf.getvalue()).shape == (60, 40, 3)


def test_large_jpeg_is_decoded_reduced(photo_path):
    big = cv2.resize(cv2.imread(photo_path), (2048, 1536))
    data = cv2.imencode(".jpg", big)[1].tobytes()
    assert decode_image(data, min_short_side=256).shape[:2] == (384, 512)
    assert decode_image(data).shape[:2] == (1536, 2048)


def test_garbage_raises_decode_error():
    with pytest.raises(ImageDecodeError):
        decode_image(b"GIF89a nonsense")


def test_zip_source_with_folders_is_read_without_extracting(photo_dir, tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/", "")
        for i, p in enumerate(sorted(photo_dir.iterdir())[:3]):
            zf.write(p, f"top/sub{i}/{p.name}")
        zf.writestr("top/readme.txt", "not an image")
    ds = ColorizationDataset(DatasetSpec("z", str(archive), "all"), "LAB", 32, 0.1, 4.0)
    assert len(ds) == 3 and all(n.startswith("top/sub") for n in ds.names)
    item = ds[0]
    assert item["input"].shape == (1, 32, 32) and item["target"].shape == (2, 32, 32)


def test_items_have_the_configured_size_and_space(photo_dir):
    for space, channels in (("LAB", 2), ("RGB", 3)):
        ds = ColorizationDataset(DatasetSpec("p", str(photo_dir), "all"), space, 48, 0.1, 4.0)
        item = ds[0]
        assert item["input"].shape == (1, 48, 48) and item["target"].shape == (channels, 48, 48)
        assert item["input"].dtype == torch.float32


def test_augmentation_is_a_function_of_seed_epoch_index(photo_dir):
    ds = _dataset(photo_dir, train=True, crop_scale=(0.3, 1.0), hflip_prob=0.5, seed=7)
    a, b = ds[(3, 2)], ds[(3, 2)]
    assert torch.equal(a["target"], b["target"])
    assert not torch.equal(ds[(4, 2)]["target"], a["target"])  # another epoch, another crop


def test_worker_item_is_the_augmented_photo_channels_first(photo_dir):
    ds = _dataset(photo_dir, train=True, crop_scale=(0.3, 1.0), hflip_prob=0.5, seed=7)
    for epoch, index in ((0, 0), (1, 2), (5, 1)):
        hwc = train_transform(ds.load_rgb(index), ds.size, ds.crop_scale, ds.hflip_prob,
                              np.random.default_rng((ds.seed, epoch, index)))
        rgb = ds.raw_item((epoch, index))["rgb"]
        assert rgb.is_contiguous() and rgb.dtype == torch.uint8
        assert torch.equal(rgb, torch.from_numpy(hwc).permute(2, 0, 1))


def test_train_loader_order_is_reproducible(photo_dir):
    cfg = load_cfg(None, ["INPUT.SIZE", "32", "SOLVER.IMS_PER_BATCH", "4", "DATALOADER.NUM_WORKERS", "0"])
    ds = build_dataset(cfg, [str(photo_dir)], train=True)
    loader = build_data_loader(cfg, ds, train=True)

    def order(epoch):
        loader.sampler.set_epoch(epoch)
        return [n for batch in loader for n in batch["name"]]

    assert order(0) == order(0) and order(0) != order(1)
    assert len(order(0)) == 12


def test_empty_folder_says_no_images(tmp_path):
    cfg = load_cfg(None)
    with pytest.raises(UserError, match="no images found"):
        build_dataset(cfg, [str(tmp_path)], train=True)
