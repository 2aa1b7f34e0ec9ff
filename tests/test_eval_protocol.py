"""The published evaluation protocol on tiny stand-ins of each real layout (our photos renamed into ImageNet's,
COCO's and ADE20K's folders): discovery, missing-data errors, the resize, each metric against an independent
computation, resume after a kill, and the report. FID runs the real Inception v3 at 299 (random weights in
torchvision's layout: the published file cannot be downloaded here) on 2 photos."""
import json
import os
import zipfile

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorization.data.build import build_dataset
from colorization.data.list_source import ListSource, paths_sha256, read_photo_list
from colorization.data.paths_catalog import DATA_DIR_ENV, LISTS_DIR, resolve_dataset
from colorization.config import get_cfg
from colorization.engine.colorizer import Colorizer
from colorization.engine.protocol import PROTOCOLS, evaluate_protocols, protocol_names, write_report
from colorization.engine.protocol import runner
from colorization.engine.protocol.runner import open_protocol_data, protocol_resize
from colorization.errors import UserError
from colorization.metrics import colorfulness, colorfulness_gap, frechet_distance
from colorization.modeling.inception import TorchvisionInceptionV3
from conftest import REPO, SAMPLE_ZIP, run_tools_in_one_process

MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
VAL5K_FIRST = ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000003.JPEG"]


def _photos(count):
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[:count]
        return [zf.read(n) for n in names]


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """ImageNet val sorted into class folders (val5k's first photos; the second one gray), ctest10k's first photos in
    a flat val folder of a second root, ImageNet train, COCO val2017 and ADE20K validation, 3 photos each."""
    root = tmp_path_factory.mktemp("data")
    photos = _photos(3)
    gray = cv2.imdecode(np.frombuffer(photos[1], np.uint8), cv2.IMREAD_GRAYSCALE)
    gray_jpeg = cv2.imencode(".jpg", gray)[1].tobytes()
    for name, wnid, data in zip(VAL5K_FIRST, ("n01751748", "n09193705", "n02105855"),
                                (photos[0], gray_jpeg, photos[2])):
        _write(root / "imagenet" / "val" / wnid / name, data)
        _write(root / "imagenet" / "train" / wnid / f"{wnid}_1.JPEG", data)
    _, ctest = read_photo_list(os.path.join(LISTS_DIR, "imagenet_ctest10k.txt"))
    flat = root / "flat"
    for path, data in zip(ctest, photos):
        _write(flat / "imagenet" / "val" / os.path.basename(path), data)
    for i, data in enumerate(photos):
        _write(root / "coco" / "val2017" / f"{139 + i:012d}.jpg", data)
        _write(root / "ADEChallengeData2016" / "images" / "validation" / f"ADE_val_{i + 1:08d}.jpg", data)
    return root


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """A weights file in torchvision's Inception v3 layout: random He-initialised convolutions, BatchNorm near the
    identity (features that do not die out over 40 layers)."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, value in TorchvisionInceptionV3().state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue  # not in torchvision's 2017 file either
        if key.endswith(("bn.weight", "running_var")):
            state[key] = 1 + 0.1 * torch.rand(value.shape, generator=gen)
        elif key.endswith(("bn.bias", "running_mean")):
            state[key] = 0.01 * torch.randn(value.shape, generator=gen)
        else:
            fan_in = int(np.prod(value.shape[1:])) if value.dim() > 1 else 1
            state[key] = torch.randn(value.shape, generator=gen) * (2 / fan_in) ** 0.5
    path = tmp_path_factory.mktemp("fid") / "inception_v3_google-test.pth"
    torch.save(state, path)
    return str(path)


@pytest.fixture(scope="module")
def protocol_run(data_root, inception_file, tmp_path_factory):
    """imagenet_val5k on its first 2 photos (one gray), chunks of 1 photo, on the CPU."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DATA_DIR_ENV, str(data_root))
        mp.setattr(runner, "CHUNK", 1)
        report = evaluate_protocols(["imagenet_val5k"], [MODEL], ["basic_LAB"], device="cpu",
                                    fid_weights=inception_file, cache_dir=str(cache), batch_size=2, workers=0,
                                    limit=2, progress=False)
    return report, cache


def test_catalog_finds_each_layout(data_root, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(data_root))
    val5k = open_protocol_data(PROTOCOLS["imagenet_val5k"], limit=3)
    assert val5k.names == VAL5K_FIRST and val5k.partial  # class folders, found by file name
    assert val5k.source.read(VAL5K_FIRST[0]) == _photos(1)[0]
    assert [len(open_protocol_data(PROTOCOLS[n], limit=3).names) for n in ("cocostuff_val", "ade20k_val")] == [3, 3]
    assert open_protocol_data(PROTOCOLS["ade20k_val"], limit=2).names == ["ADE_val_00000001.jpg",
                                                                          "ADE_val_00000002.jpg"]
    assert resolve_dataset("imagenet_train").source == str(data_root / "imagenet" / "train")
    monkeypatch.setenv(DATA_DIR_ENV, str(data_root / "flat"))
    ctest = open_protocol_data(PROTOCOLS["imagenet_ctest10k"], limit=3)
    assert ctest.names[0] == "n04286575/ILSVRC2012_val_00042961.JPEG"  # listed in class folders, found flat
    assert ctest.source.read(ctest.names[1]) == _photos(2)[1]
    assert protocol_names("all") == ["imagenet_val5k", "cocostuff_val", "ade20k_val"]


@pytest.mark.parametrize("name,count", [("imagenet_val5k.txt", 5000), ("imagenet_ctest10k.txt", 10000)])
def test_shipped_lists_match_their_headers(name, count):
    header, paths = read_photo_list(os.path.join(LISTS_DIR, name))
    assert int(header["count"]) == len(paths) == len(set(paths)) == count
    assert header["sha256"] == paths_sha256(paths)
    if name == "imagenet_val5k.txt":  # the stated rule: the first 5000 by name
        assert paths == sorted(paths) and paths[0] == VAL5K_FIRST[0] and paths[-1] == "ILSVRC2012_val_00005000.JPEG"


def test_a_list_file_is_a_data_set(photo_dir, tmp_path):
    photos = sorted(p.name for p in photo_dir.iterdir())[:3]
    listing = tmp_path / "meta_info.txt"
    listing.write_text("# source: test\n" + "".join(f"{photo_dir / n} 7\n" for n in photos))
    cfg = get_cfg()
    dataset = build_dataset(cfg, [str(listing)], train=False)
    assert dataset.names == [str(photo_dir / n) for n in photos] and dataset[0]["target"].shape[-1] == cfg.INPUT.SIZE
    relative = tmp_path / "relative.txt"
    relative.write_text("\n".join(photos[::-1]) + "\n")
    assert ListSource(str(relative), str(photo_dir)).list_images() == photos[::-1]  # the list's order
    relative.write_text("missing.jpg\n")
    with pytest.raises(UserError, match=r"1 of the 1 photos listed .* \(first: missing.jpg\)"):
        ListSource(str(relative), str(photo_dir)).list_images()


def test_missing_data_fails_with_where_to_download(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(UserError, match=r"coco/val2017, which does not exist.*images.cocodataset.org/zips/val2017"):
        open_protocol_data(PROTOCOLS["cocostuff_val"])
    with pytest.raises(UserError, match="ADEChallengeData2016.zip"):
        open_protocol_data(PROTOCOLS["ade20k_val"])
    monkeypatch.setenv(DATA_DIR_ENV, str(data_root))
    with pytest.raises(UserError, match="holds 3 photos, the protocol expects 2000.*--limit"):
        open_protocol_data(PROTOCOLS["ade20k_val"])
    with pytest.raises(UserError, match="4997 of the 5000 photos listed"):
        open_protocol_data(PROTOCOLS["imagenet_val5k"])
    with pytest.raises(UserError, match="--limit 4: .* holds only 3 photos"):
        open_protocol_data(PROTOCOLS["cocostuff_val"], limit=4)
    with pytest.raises(UserError, match="unknown --protocol 'imagenet'"):
        protocol_names("imagenet")


def test_resize_crops_the_center_square_or_squeezes_the_whole_photo():
    photo = np.zeros((100, 200, 3), np.uint8)
    photo[:, :50] = photo[:, 150:] = (255, 0, 0)  # red sides, blue center square
    photo[:, 50:150] = (0, 0, 255)
    cropped, squeezed = protocol_resize(photo, True), protocol_resize(photo, False)
    assert cropped.shape == squeezed.shape == (256, 256, 3)
    assert (cropped == (0, 0, 255)).all()
    assert (squeezed[:, :60] == (255, 0, 0)).all() and (squeezed[:, 70:186] == (0, 0, 255)).all()


def test_colorfulness_variants_on_a_hand_made_image():
    """Half the pixels (200, 100, 50), half (100, 200, 50): |R - G| = 100 and |(R + G)/2 - B| = 100 everywhere, so the
    tables' variant is 0.3 * sqrt(100² + 100²); the paper's, where R - G is ±100, is sqrt(100²) + 0.3 * 100."""
    img = torch.zeros(1, 3, 4, 4)
    img[0, :, :2] = torch.tensor([200.0, 100.0, 50.0]).view(3, 1, 1)
    img[0, :, 2:] = torch.tensor([100.0, 200.0, 50.0]).view(3, 1, 1)
    assert float(colorfulness(img, absolute=True)[0]) == pytest.approx(0.3 * np.hypot(100, 100), rel=1e-6)
    assert float(colorfulness(img)[0]) == pytest.approx(100 + 0.3 * 100, rel=1e-6)
    # |ΔCF| is the gap of the means, not the mean of the per-image gaps: +10 and -10 cancel.
    assert colorfulness_gap(np.mean([30.0, 10.0]), np.mean([20.0, 20.0])) == 0.0
    assert colorfulness_gap(15.0, 20.0) == colorfulness_gap(25.0, 20.0) == 5.0


def test_torchvision_layout_and_ddcolor_transform(inception_file):
    net = TorchvisionInceptionV3()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert len([k for k in shapes if not k.endswith("num_batches_tracked")]) == 484  # torchvision's file
    assert shapes["AuxLogits.conv1.conv.weight"] == (768, 128, 5, 5) and shapes["fc.weight"] == (1000, 2048)
    seen = []

    def stop(module, args):
        seen.append(args[0])
        raise StopIteration  # the input is all this test needs

    net.Conv2d_1a_3x3.register_forward_pre_hook(stop)
    with pytest.raises(StopIteration):
        net.eval()(torch.zeros(1, 3, 32, 32))
    # 0 -> 0 * 0.5 + 0.5 -> 0.5 * std / 0.5 + (mean - 0.5) / 0.5, as DDColor's FID code writes it.
    expected = torch.tensor([0.229 + 2 * 0.485 - 1, 0.224 + 2 * 0.456 - 1, 0.225 + 2 * 0.406 - 1])
    assert seen[0].shape == (1, 3, 299, 299) and torch.allclose(seen[0][0, :, 0, 0], expected, atol=1e-6)


def _independent(data_root, names):
    """Per-photo PSNR / SSIM (scikit-image), CF (numpy, DDColor's formula), L1 ab of our model's output colorized one
    photo at a time through Colorizer.colorize, and the originals' CF."""
    colorizer = Colorizer.from_checkpoint(MODEL, device="cpu")
    rows = []
    for name in names:
        path = next(str(p) for p in (data_root / "imagenet" / "val").rglob(name))
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        side = min(bgr.shape[:2])
        top, left = (bgr.shape[0] - side) // 2, (bgr.shape[1] - side) // 2
        original = cv2.cvtColor(cv2.resize(bgr[top:top + side, left:left + side], (256, 256)), cv2.COLOR_BGR2RGB)
        pred = colorizer.colorize(original)

        def cf(rgb):
            r, g, b = (rgb[:, :, i].astype(float) for i in range(3))
            rg, yb = np.abs(r - g), np.abs(0.5 * (r + g) - b)
            return np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)

        def ab(rgb):
            return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[:, :, 1:]

        rows.append({"psnr": peak_signal_noise_ratio(original, pred, data_range=255),
                     "ssim": structural_similarity(original, pred, gaussian_weights=True, sigma=1.5,
                                                   use_sample_covariance=False, data_range=255, channel_axis=-1),
                     "colorfulness": cf(pred), "original_cf": cf(original),
                     "l1_ab": np.abs(ab(pred) - ab(original)).mean()})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def test_metrics_match_an_independent_computation(protocol_run, data_root):
    report, cache = protocol_run
    (entry,) = report["protocols"]
    model = entry["rows"][0]["metrics"]
    ref = _independent(data_root, VAL5K_FIRST[:2])
    assert model["psnr"] == pytest.approx(ref["psnr"], abs=0.05)
    assert model["ssim"] == pytest.approx(ref["ssim"], abs=2e-3)
    assert model["colorfulness"] == pytest.approx(ref["colorfulness"], abs=0.05)
    assert entry["originals_colorfulness"] == pytest.approx(ref["original_cf"], abs=0.05)
    assert model["l1_ab"] == pytest.approx(ref["l1_ab"], abs=0.05)
    assert model["colorfulness_gap"] == pytest.approx(abs(ref["colorfulness"] - ref["original_cf"]), abs=0.1)
    # The baseline's ab = 0 leaves no color: its |ΔCF| is the originals' whole CF.
    baseline = entry["rows"][1]["metrics"]
    assert baseline["colorfulness"] < 0.5 and baseline["colorfulness_gap"] == pytest.approx(
        entry["originals_colorfulness"] - baseline["colorfulness"])
    # FID from the cached features, through numpy's covariance, and of the originals against themselves.
    folder = next(p for p in cache.iterdir() if p.name.startswith("imagenet_val5k-"))
    feats = {}
    for sub in ("originals", next(p.name for p in folder.iterdir() if p.name.startswith("model-"))):
        parts = [np.load(folder / sub / f"chunk_{c:05d}.npz") for c in range(2)]
        feats[sub.split("-")[0]] = np.concatenate([p["features"] for p in parts]).astype(np.float64)

    def stats(f):
        return torch.from_numpy(f.mean(axis=0)), torch.from_numpy(np.cov(f, rowvar=False))

    assert model["fid"] == pytest.approx(frechet_distance(*stats(feats["model"]), *stats(feats["originals"])),
                                         rel=1e-4)
    assert frechet_distance(*stats(feats["originals"]), *stats(feats["originals"])) == pytest.approx(0, abs=1e-6)


def test_report_names_its_protocol_and_marks_published_rows(protocol_run, inception_file, tmp_path):
    report, _ = protocol_run
    (entry,) = report["protocols"]
    assert entry["protocol"] == "imagenet_val5k" and entry["images"] == 2 and entry["expected_images"] == 5000
    assert entry["partial"] and entry["gray_images"] == 1 and entry["unreadable_images"] == 0
    header, _ = read_photo_list(os.path.join(LISTS_DIR, "imagenet_val5k.txt"))
    assert entry["list_sha256"] == header["sha256"] and "center square" in entry["resize"]
    kinds = [r["kind"] for r in entry["rows"]]
    assert kinds[:2] == ["model", "baseline"] and kinds.count("published") == 9
    ddcolor = next(r for r in entry["rows"] if r["name"] == "DDColor-L")
    assert ddcolor["metrics"] == {"fid": 3.92, "colorfulness": 38.26, "colorfulness_gap": 0.05, "psnr": 23.85}
    assert "Table 1" in ddcolor["source"]
    import hashlib
    with open(inception_file, "rb") as f:
        assert report["record"]["fid"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert "DDColor's FID code" in report["record"]["fid"]["network"]
    assert set(report["record"]["versions"]) >= {"torch", "numpy", "opencv"} and report["record"]["device"]
    md_path, = [p for p in write_report(report, str(tmp_path)) if p.endswith(".md")]
    md = open(md_path, encoding="utf-8").read()
    assert "| method | params | FID ↓ | CF | \\|ΔCF\\| ↓ | PSNR ↑ | SSIM ↑ | L1 ab ↓ | source |" in md
    assert "| DDColor-L | 227.9 M | 3.92 | 38.26 | 0.05 | 23.85 | – | – | published |" in md
    assert "a partial run, not comparable" in md and "1 of them gray" in md and "absolute values" in md
    assert json.loads(open(os.path.join(tmp_path, "report.json"), encoding="utf-8").read()) == report


def test_a_killed_run_continues_from_its_cache(protocol_run, data_root, inception_file, monkeypatch):
    """A kill leaves finished chunks, a temporary file of the chunk being written and nothing under its final name:
    the next run reads the finished chunk, computes the rest, and reports the same figures."""
    report, cache = protocol_run
    folder = next(p for p in cache.iterdir() if p.name.startswith("imagenet_val5k-"))
    for sub in folder.iterdir():
        (sub / "chunk_00001.npz").rename(sub / "chunk_00001.npz.4242.tmp")
        (sub / "chunk_00001.npz.4242.tmp").write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setenv(DATA_DIR_ENV, str(data_root))
    monkeypatch.setattr(runner, "CHUNK", 1)
    again = evaluate_protocols(["imagenet_val5k"], [MODEL], ["basic_LAB"], device="cpu", fid_weights=inception_file,
                               cache_dir=str(cache), batch_size=2, workers=0, limit=2, progress=False)
    (entry,) = again["protocols"]
    assert entry["images_from_cache"] == {"basic_LAB": 1}
    for row, before in zip(entry["rows"][:2], report["protocols"][0]["rows"][:2]):
        for key, value in before["metrics"].items():
            assert row["metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    assert all((sub / "chunk_00001.npz").is_file() for sub in folder.iterdir())


def test_command_line(protocol_run, data_root, inception_file, tmp_path, monkeypatch):
    """colorization-evaluate --protocol as a user runs it (reading the finished cache), and its error lines."""
    _, cache = protocol_run
    monkeypatch.setenv(DATA_DIR_ENV, str(data_root))
    tool = os.path.join(REPO, "tools", "evaluate.py")
    common = ["--model_to_load", MODEL, "--device", "cpu", "--fid_weights", inception_file, "--workers", "0"]
    rgb_model = os.path.join(REPO, "models", "landscape_train", "basic_RGB.pth")
    results = run_tools_in_one_process({
        "ok": [tool, "--protocol", "imagenet_val5k", "--limit", "1", "--cache", cache, "--output", tmp_path / "out",
               *common[:2], rgb_model, *common[2:]],
        "count": [tool, "--protocol", "all", "--output", tmp_path / "bad", *common],
        "unknown": [tool, "--protocol", "imagenet", *common],
        "both": [tool, "--protocol", "all", "--dataset", "everyday_test", *common],
    }, tmp_path)
    ok = results["ok"]
    assert ok["returncode"] == 0, ok["stderr"][-2000:]
    assert "| basic_LAB |" in ok["stdout"] and "| CIC (Zhang ECCV16) | 32.2 M | 8.72 |" in ok["stdout"]
    assert (tmp_path / "out" / "report.md").is_file() and (tmp_path / "out" / "report.json").is_file()
    # Its first photo is the first chunk the fixture's run left in the cache; the second model reuses the originals'.
    entry = json.loads((tmp_path / "out" / "report.json").read_text())["protocols"][0]
    assert entry["images_from_cache"] == {"basic_LAB": 1, "basic_RGB": 0}
    assert [r["name"] for r in entry["rows"][:3]] == ["basic_LAB", "basic_RGB", "no color"]
    assert entry["rows"][1]["metrics"]["psnr"] != entry["rows"][0]["metrics"]["psnr"]
    assert entry["rows"][1]["metrics"]["fid"] is None  # one photo: no covariance
    for name, message in (("count", "4997 of the 5000 photos listed"), ("unknown", "unknown --protocol 'imagenet'"),
                          ("both", "not allowed with argument")):
        result = results[name]
        assert result["returncode"] == 2 and result["stderr"].startswith("error: "), result
        assert message in result["stderr"] and "Traceback" not in result["stderr"]
