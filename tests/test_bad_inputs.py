"""The bad-input matrix (issue 6): every odd or broken input ends in a clear message naming the culprit, or in a
logged skip with a count; user errors exit with code 2 and one `error:` line; nothing is half-written.

- data set files: through build_dataset (what training uses), in process;
- huge images: decoded in a subprocess that measures its peak memory;
- tools: tools/train.py and tools/inference.py run as __main__ in one driver subprocess (one Python start-up
  for all cases, each with its own argv, exit code and stderr).
"""
import io
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from colorization.config import load_cfg
from colorization.data.build import build_dataset
from colorization.data.image_io import MAX_DECODE_BYTES, decode_image
from conftest import REPO, run_tools_in_one_process

CONFIG = os.path.join(REPO, "configs", "quick", "reliability_tiny.yaml")
RGB_CONFIG = os.path.join(REPO, "configs", "quick", "basic_RGB_quick.yaml")
IMAGE_IO = os.path.join(REPO, "colorization", "data", "image_io.py")


@pytest.fixture(autouse=True, scope="module")
def restore_logging():
    """Trainer's logger set-up (propagate off) must not leak into other test modules' caplog."""
    logger = logging.getLogger("colorization")
    state = (logger.level, logger.propagate, list(logger.handlers))
    yield
    logger.setLevel(state[0])
    logger.propagate = state[1]
    logger.handlers[:] = state[2]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def text(self):
        return "\n".join(r.getMessage() for r in self.records)


def _with_log(fn):
    """Run fn() with the framework's log records collected (works whatever the logger's propagate is)."""
    logger, handler = logging.getLogger("colorization"), _Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return fn(), handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _png_bytes(array_bgr_or_gray):
    return cv2.imencode(".png", array_bgr_or_gray)[1].tobytes()


def _write_flat_png(path, width, height, pixel):
    """A valid PNG of one colour, written row by row: a huge one costs no memory to make."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    color_type = {1: 0, 3: 2, 4: 6}[len(pixel)]
    row = b"\x00" + bytes(pixel) * width
    comp = zlib.compressobj(1)
    idat = b"".join([comp.compress(row) for _ in range(height)] + [comp.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def small_photo(photo_path):
    """A real photo, 64x48, as BGR (OpenCV) and RGB."""
    bgr = cv2.resize(cv2.imread(photo_path), (64, 48), interpolation=cv2.INTER_AREA)
    return bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def huge_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("huge")
    img = np.empty((10000, 10000, 3), np.uint8)
    img[:] = (30, 90, 200)
    img[:5000, :, 1] = 160
    (folder / "huge.jpg").write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    del img
    _write_flat_png(folder / "huge.png", 10000, 10000, (200, 90, 30))
    _write_flat_png(folder / "big_rgba.png", 6000, 4000, (200, 90, 30, 128))
    return folder


# --------------------------------------------------------------------------------- data set files, in process
def _case_file(case, folder, photo_path, small_photo, huge_files):
    """Writes the case's file(s) into folder; returns (file name, expected RGB or None when it is skipped)."""
    bgr, rgb = small_photo
    good = open(photo_path, "rb").read()
    if case == "zero_byte":
        (folder / "zero.jpg").write_bytes(b"")
        return "zero.jpg", "empty file"
    if case == "truncated_jpeg":
        (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
        return "truncated.jpg", "corrupt or truncated"
    if case == "png_broken_header":
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
        return "broken.png", "not a recognised image header"
    if case == "text_named_jpg":
        (folder / "notes.jpg").write_text("these are my holiday notes, not a photo")
        return "notes.jpg", "not a recognised image header"
    if case == "image_1x1":
        (folder / "dot.png").write_bytes(_png_bytes(np.full((1, 1, 3), (10, 100, 200), np.uint8)))
        return "dot.png", "too small (1x1)"
    if case == "png_10000x10000":
        shutil.copy(huge_files / "huge.png", folder / "huge.png")
        return "huge.png", "too large to decode safely"
    if case == "png_16bit":
        (folder / "deep.png").write_bytes(_png_bytes(bgr.astype(np.uint16) * 257))
        return "deep.png", rgb
    if case == "png_rgba":
        bgra = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
        bgra[:, 32:, 3] = 0  # right half fully transparent: composited on white
        (folder / "alpha.png").write_bytes(_png_bytes(bgra))
        expected = rgb.copy()
        expected[:, 32:] = 255
        return "alpha.png", expected
    if case == "png_palette":
        from PIL import Image  # test-only helper
        pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        buf = io.BytesIO()
        pal.save(buf, format="PNG")
        (folder / "palette.png").write_bytes(buf.getvalue())
        return "palette.png", np.asarray(pal.convert("RGB"))
    if case == "jpeg_cmyk":
        from PIL import Image
        buf = io.BytesIO()
        Image.fromarray(rgb).convert("CMYK").save(buf, "JPEG", quality=95)
        assert Image.open(io.BytesIO(buf.getvalue())).mode == "CMYK"
        (folder / "print.jpg").write_bytes(buf.getvalue())
        return "print.jpg", ("close", rgb)
    if case == "image_8x8":
        tile = np.zeros((8, 8, 3), np.uint8)
        tile[:4] = (0, 0, 255)
        tile[4:] = (0, 255, 0)
        (folder / "tiny.png").write_bytes(_png_bytes(tile))
        return "tiny.png", cv2.cvtColor(tile, cv2.COLOR_BGR2RGB)
    if case == "jpeg_10000x10000":
        shutil.copy(huge_files / "huge.jpg", folder / "huge.jpg")
        return "huge.jpg", ("shape", (1250, 1250, 3))  # decoded at 1/8 for screening
    if case == "unicode_and_spaces_in_name":
        sub = folder / "Été 2024" / "山 photos"
        sub.mkdir(parents=True)
        (sub / "ma photo préférée ü.jpg").write_bytes(good)
        return "Été 2024/山 photos/ma photo préférée ü.jpg", ("same", good)
    raise AssertionError(case)


SKIPPED = ["zero_byte", "truncated_jpeg", "png_broken_header", "text_named_jpg", "image_1x1", "png_10000x10000"]
KEPT = ["png_16bit", "png_rgba", "png_palette", "jpeg_cmyk", "image_8x8", "jpeg_10000x10000",
        "unicode_and_spaces_in_name"]


def _two_good(folder, photo_dir):
    for p in sorted(photo_dir.iterdir())[:2]:
        shutil.copy(p, folder / f"good_{p.name}")


def _build(folder, **overrides):
    opts = [x for kv in overrides.items() for x in kv]
    return build_dataset(load_cfg(CONFIG, opts), [str(folder)], train=True)


@pytest.mark.parametrize("case", SKIPPED)
def test_data_set_file_is_skipped_with_a_warning_naming_it_and_a_count(case, photo_dir, photo_path, small_photo,
                                                                         huge_files, tmp_path):
    name, reason = _case_file(case, tmp_path, photo_path, small_photo, huge_files)
    _two_good(tmp_path, photo_dir)
    ds, log = _with_log(lambda: _build(tmp_path))
    assert name not in ds.names and len(ds) == 2
    assert ds.dropped == {"unreadable": 1, "grayscale": 0, "dull": 0}
    warnings = [r.getMessage() for r in log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(tmp_path / name) in warnings[0] and reason in warnings[0], warnings
    assert "2 images kept, 1 unreadable skipped" in log.text()


@pytest.mark.parametrize("case", KEPT)
def test_data_set_file_is_read_as_sensible_rgb(case, photo_dir, photo_path, small_photo, huge_files, tmp_path):
    name, expected = _case_file(case, tmp_path, photo_path, small_photo, huge_files)
    _two_good(tmp_path, photo_dir)
    ds, log = _with_log(lambda: _build(tmp_path))
    assert name in ds.names and len(ds) == 3 and ds.dropped == {"unreadable": 0, "grayscale": 0, "dull": 0}, log.text()
    assert not [r for r in log.records if r.levelno >= logging.WARNING], log.text()
    item = ds[(0, ds.names.index(name))]
    assert item["input"].shape == (1, 32, 32) and item["target"].shape == (2, 32, 32)
    assert torch.isfinite(item["target"]).all()
    decoded = decode_image((tmp_path / name).read_bytes(), min_short_side=64)
    assert decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3
    if isinstance(expected, np.ndarray):
        assert decoded.shape == expected.shape
        assert np.abs(decoded.astype(int) - expected).max() <= 1
    elif expected[0] == "close":  # CMYK JPEG: lossy, but the colours must come back
        diff = np.abs(decoded.astype(int) - expected[1]).mean(axis=(0, 1))
        assert decoded.shape == expected[1].shape and diff.max() < 4, diff
    elif expected[0] == "shape":
        assert decoded.shape == expected[1]
    elif expected[0] == "same":
        assert np.array_equal(decoded, decode_image(expected[1], min_short_side=64))


def test_zip_with_directory_entries_nested_folders_and_unicode_names(photo_dir, tmp_path):
    archive = tmp_path / "photos archive.zip"
    photos = sorted(photo_dir.iterdir())[:3]
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("album/", "")
        zf.writestr("album/2024/", "")
        zf.writestr("album/2024/été/", "")
        zf.write(photos[0], "album/top.jpg")
        zf.write(photos[1], "album/2024/été/ma photo ü.jpg")
        zf.write(photos[2], "album/2024/deep/er/nested.jpg")  # no directory entries for these folders
        zf.writestr("album/readme.txt", "not an image")
        zf.writestr("album/2024/empty.jpg", b"")
    ds, log = _with_log(lambda: _build(archive))
    assert sorted(ds.names) == ["album/2024/deep/er/nested.jpg", "album/2024/été/ma photo ü.jpg", "album/top.jpg"]
    assert ds.dropped == {"unreadable": 1, "grayscale": 0, "dull": 0}
    assert f"{archive}:album/2024/empty.jpg" in log.text()
    for i in range(len(ds)):
        assert ds[(0, i)]["input"].shape == (1, 32, 32)


def test_a_data_set_with_all_kinds_of_bad_files_still_trains_and_counts_them(tool_runs):
    r = tool_runs["train_mixed_folder"]
    assert r["returncode"] == 0, r["stderr"][-3000:]
    assert "Traceback" not in r["stderr"]
    assert f"12 images kept, {len(SKIPPED)} unreadable skipped, 0 grayscale dropped" in r["stderr"]
    assert r["stderr"].count("skipping ") == len(SKIPPED)
    assert (r["out_dir"] / "model_final.pth").is_file()


# ------------------------------------------------------------------------------------ huge images: memory
# Peak memory of one decode. ru_maxrss would not do: a child started from a big pytest process inherits its
# parent's peak. VmHWM is the peak of this process's own memory; writing 5 to clear_refs resets it to VmRSS.
MEASURE = r'''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("image_io", sys.argv[1])
image_io = importlib.util.module_from_spec(spec)
spec.loader.exec_module(image_io)
data = open(sys.argv[2], "rb").read()


def status_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024


try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass  # then VmHWM is the peak since start-up: the growth can only come out larger
before = status_mb("VmRSS")
try:
    result = {"shape": list(image_io.decode_image(data, min_short_side=int(sys.argv[3])).shape)}
except image_io.ImageDecodeError as e:
    result = {"error": str(e)}
result["growth_mb"] = status_mb("VmHWM") - before
print(json.dumps(result))
'''


@pytest.fixture(scope="module")
def huge_decodes(huge_files):
    cases = {"jpeg_for_training": ("huge.jpg", 64), "jpeg_for_inference": ("huge.jpg", 0),
             "png_rgb": ("huge.png", 64), "png_rgba_24mp": ("big_rgba.png", 64)}

    def measure(args):
        name, side = args
        out = subprocess.run([sys.executable, "-c", MEASURE, IMAGE_IO, str(huge_files / name), str(side)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(cases, pool.map(measure, cases.values())))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="measures memory through Linux /proc")
def test_huge_jpeg_decodes_reduced_in_little_memory(huge_decodes):
    r = huge_decodes["jpeg_for_training"]
    assert r.get("shape") == [1250, 1250, 3] and r["growth_mb"] < 100, r
    # Without a wanted size (inference) the full 10000x10000 would need ~600 MB: it is read at 1/2 (75 MB).
    r = huge_decodes["jpeg_for_inference"]
    assert r.get("shape") == [5000, 5000, 3] and 50 < r["growth_mb"] < 250, r  # (> 50: the probe does measure)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="measures memory through Linux /proc")
def test_huge_png_is_refused_from_its_header_without_decoding(huge_decodes):
    r = huge_decodes["png_rgb"]
    assert "too large to decode safely" in r.get("error", "") and "10000x10000" in r["error"], r
    assert r["growth_mb"] < 50, r


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="measures memory through Linux /proc")
def test_big_rgba_png_decodes_within_the_memory_limit(huge_decodes):
    r = huge_decodes["png_rgba_24mp"]
    assert r.get("shape") == [4000, 6000, 3], r
    # 24 Mpx RGBA: OpenCV's 96 MB twice, then the 72 MB RGB result; compositing in strips adds little.
    assert 150 < r["growth_mb"] < (MAX_DECODE_BYTES >> 20), r


def test_decoded_big_rgba_is_composited_correctly(huge_files):
    # 50 % transparent orange over white, strip by strip: every row alike.
    out = decode_image((huge_files / "big_rgba.png").read_bytes())
    expected = np.round(np.array([200, 90, 30]) * 128 / 255 + 255 * (1 - 128 / 255)).astype(int)  # RGB
    assert np.abs(out[::397, ::401].astype(int) - expected).max() <= 1


# ------------------------------------------------------------------------ tools: one driver subprocess
TRAIN = os.path.join(REPO, "tools", "train.py")
INFER = os.path.join(REPO, "tools", "inference.py")


def _data(folder):
    return ["DATASETS.TRAIN", f"('{folder}',)", "DATASETS.TEST", f"('{folder}',)"]


@pytest.fixture(scope="module")
def tool_runs(photo_dir, photo_path, small_photo, huge_files, tmp_path_factory):
    root = tmp_path_factory.mktemp("tools")
    out = lambda name: ["OUTPUT_DIR", str(root / "out" / name), "PREDICTIONS_DIR", str(root / "preds" / name)]
    cases = {}

    def train(name, *argv, config=CONFIG):
        cases[name] = (TRAIN, (["--config-file", str(config)] if config else []) + [str(a) for a in argv])

    # configs
    (root / "unknown_key.yaml").write_text("SOLVER:\n  NOT_A_KEY: 1\n")
    (root / "wrong_type.yaml").write_text("MODEL:\n  BASIC_WIDTH: wide\n")
    (root / "broken.yaml").write_text("MODEL: [basic, 4\n")
    (root / "list.yaml").write_text("- MODEL\n- INPUT\n")
    train("config_unknown_key_on_the_command_line", *out("c1"), "SOLVER.NOT_A_KEY", "1")
    train("config_unknown_key_in_the_file", *out("c2"), config=root / "unknown_key.yaml")
    train("config_wrong_type_on_the_command_line", *out("c3"), "SOLVER.MAX_EPOCHS", "many")
    train("config_wrong_type_in_the_file", *out("c4"), config=root / "wrong_type.yaml")
    train("config_file_missing", *out("c5"), config=root / "nope.yaml")
    train("config_not_valid_yaml", *out("c6"), config=root / "broken.yaml")
    train("config_not_a_mapping", *out("c7"), config=root / "list.yaml")
    train("config_odd_number_of_overrides", *out("c8"), "SOLVER.MAX_EPOCHS")
    train("config_unknown_data_set_name", *out("c9"), "DATASETS.TRAIN", "('no_such_set',)")
    train("config_unknown_model_name", *out("c10"), "MODEL.ARCH", "no_such_net")
    train("config_rgb_with_a_zhang_net", *out("c11"), "MODEL.ARCH", "eccv16", "INPUT.COLOR_SPACE", "RGB")
    # data sets
    empty = root / "empty_folder"
    empty.mkdir()
    (empty / "notes.txt").write_text("no photos here")
    gray = root / "grayscale_only"
    gray.mkdir()
    for p in sorted(photo_dir.iterdir())[:5]:
        g = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2GRAY)
        cv2.imwrite(str(gray / p.name), cv2.cvtColor(g, cv2.COLOR_GRAY2BGR))
    unreadable = root / "unreadable_only"
    unreadable.mkdir()
    for i in range(3):
        (unreadable / f"bad_{i}.jpg").write_bytes(b"\x00" * (10 + i))
    train("data_empty_folder", *out("d1"), *_data(empty))
    train("data_grayscale_only", *out("d2"), *_data(gray))
    train("data_unreadable_only", *out("d3"), *_data(unreadable))
    mixed = root / "mixed"
    mixed.mkdir()
    for p in photo_dir.iterdir():
        shutil.copy(p, mixed / p.name)
    for case in SKIPPED:
        _case_file(case, mixed, photo_path, small_photo, huge_files)
    train("train_mixed_folder", *out("d4"), "DATASETS.TRAIN", f"('{mixed}',)", "DATASETS.TEST",
          f"('{photo_dir}',)", "SOLVER.MAX_EPOCHS", "1")
    # output folders
    a_file = root / "a_file"
    a_file.write_text("a regular file")
    train("output_parent_is_a_file", *_data(photo_dir), "OUTPUT_DIR", a_file / "run", "PREDICTIONS_DIR",
          root / "preds" / "o1")
    train("predictions_parent_is_a_file", *_data(photo_dir), "OUTPUT_DIR", root / "out" / "o2",
          "PREDICTIONS_DIR", a_file / "preds")

    # inference: a real checkpoint of this framework, and broken ones
    from colorization.engine.trainer import Trainer
    with Trainer(load_cfg(CONFIG, _data(photo_dir) + out("ckpt"))) as trainer:
        trainer.save("model_final.pth")  # untrained is enough
    ckpt = root / "out" / "ckpt" / "model_final.pth"
    wider = load_cfg(CONFIG, ["MODEL.BASIC_WIDTH", "8"])
    from colorization.modeling import build_model
    torch.save(build_model(wider).state_dict(), root / "wider_state_dict.pth")
    (root / "zeros.pth").write_bytes(b"\x00" * 100)
    (root / "empty.pth").write_bytes(b"")
    (root / "truncated.pth").write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    (root / "bad.jpg").write_text("not an image")
    no_images = root / "no_images"
    no_images.mkdir()
    (no_images / "readme.txt").write_text("nothing to see")
    all_bad = root / "all_bad"
    all_bad.mkdir()
    for i in range(2):
        (all_bad / f"broken_{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    tiny = root / "tiny"
    tiny.mkdir()
    cv2.imwrite(str(tiny / "dot.png"), np.full((1, 1, 3), (10, 100, 200), np.uint8))
    cv2.imwrite(str(tiny / "tile.png"), np.full((8, 8, 3), (10, 100, 200), np.uint8))
    shutil.copy(photo_path, tiny / "été photo ü.jpg")

    def infer(name, img, model, *extra):
        cases[name] = (INFER, ["--img_path", str(img), "--model_to_load", str(model),
                               "--output", str(root / "inferred" / name / "out.png"), *map(str, extra)])

    infer("inference_missing_image", root / "nope.jpg", ckpt)
    infer("inference_folder_without_images", no_images, ckpt)
    infer("inference_unreadable_image", root / "bad.jpg", ckpt)
    infer("inference_no_image_readable_in_folder", all_bad, ckpt)
    infer("inference_missing_checkpoint", photo_path, root / "nope.pth")
    infer("inference_checkpoint_of_zeros", photo_path, root / "zeros.pth")
    infer("inference_empty_checkpoint", photo_path, root / "empty.pth")
    infer("inference_truncated_checkpoint", photo_path, root / "truncated.pth")
    infer("inference_config_of_another_model", photo_path, ckpt, "--config", RGB_CONFIG)
    infer("inference_state_dict_of_another_architecture", photo_path, root / "wider_state_dict.pth",
          "--config", CONFIG)
    cases["inference_tiny_and_unicode_images"] = (INFER, ["--img_path", str(tiny), "--model_to_load", str(ckpt),
                                                          "--output", str(root / "inferred" / "tiny") + "/"])
    (root / "evil.yaml").write_text(f"MODEL:\n  ARCH: !!python/object/apply:os.system [\"touch {root / 'pwned'}\"]\n")
    infer("inference_config_with_a_python_tag", photo_path, ckpt, "--config", root / "evil.yaml")
    cases["inference_output_cannot_be_written"] = (INFER, ["--img_path", photo_path, "--model_to_load", str(ckpt),
                                                           "--output", str(a_file / "colorized.png")])
    torch.save(torch.zeros(3), root / "a_tensor.pth")
    train("model_weight_is_not_a_checkpoint", *_data(photo_dir), *out("w1"), "MODEL.WEIGHT", root / "a_tensor.pth")

    results = run_tools_in_one_process({name: [script, *argv] for name, (script, argv) in cases.items()}, root)
    for name, r in results.items():
        argv = cases[name][1]
        r["root"] = root
        r["out_dir"] = Path(argv[argv.index("OUTPUT_DIR") + 1]) if "OUTPUT_DIR" in argv else None
    return results


def _error_line(r):
    assert "Traceback" not in r["stderr"], r["stderr"][-3000:]
    assert r["returncode"] == 2, (r["returncode"], r["stderr"][-3000:])
    lines = [line for line in r["stderr"].splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r["stderr"][-3000:]
    return lines[0]


def _nothing_half_written(folder):
    """No checkpoint, pointer, metrics or config: a failed start leaves no run behind that looks resumable."""
    if folder.exists():
        left = [p.name for p in folder.iterdir()
                if p.suffix in (".pth", ".tmp", ".jsonl") or p.name in ("last_checkpoint", "config.yaml")]
        assert not left, left


CONFIG_CASES = {
    "config_unknown_key_on_the_command_line": ["SOLVER.NOT_A_KEY"],
    "config_unknown_key_in_the_file": ["SOLVER.NOT_A_KEY", "unknown_key.yaml"],
    "config_wrong_type_on_the_command_line": ["SOLVER.MAX_EPOCHS", "many"],
    "config_wrong_type_in_the_file": ["MODEL.BASIC_WIDTH", "wrong_type.yaml"],
    "config_file_missing": ["config file not found", "nope.yaml"],
    "config_not_valid_yaml": ["broken.yaml", "not valid YAML", "line"],
    "config_not_a_mapping": ["list.yaml", "mapping"],
    "config_odd_number_of_overrides": ["KEY VALUE", "SOLVER.MAX_EPOCHS"],
    "config_unknown_data_set_name": ["unknown data set 'no_such_set'", "Known names"],
    "config_unknown_model_name": ["no_such_net", "MODEL.ARCH", "basic"],
    "config_rgb_with_a_zhang_net": ["eccv16", "COLOR_SPACE", "LAB"],
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_config_mistakes_exit_2_with_one_line_naming_the_culprit(tool_runs, case):
    r = tool_runs[case]
    line = _error_line(r)
    for needle in CONFIG_CASES[case]:
        assert needle in line, line
    _nothing_half_written(r["out_dir"])
    assert "training basic" not in r["stderr"]


DATA_CASES = {
    "data_empty_folder": ["no images found", "empty_folder", "no image files"],
    "data_grayscale_only": ["no images found", "grayscale_only", "5 grayscale photos dropped",
                            "GRAY_CHROMA_THRESHOLD"],
    "data_unreadable_only": ["no images found", "unreadable_only", "3 unreadable"],
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_a_data_set_left_empty_exits_2_naming_it_and_why(tool_runs, case):
    r = tool_runs[case]
    line = _error_line(r)
    for needle in DATA_CASES[case]:
        assert needle in line, line
    _nothing_half_written(r["out_dir"])
    assert "training basic" not in r["stderr"]


OUTPUT_CASES = {
    "output_parent_is_a_file": ["OUTPUT_DIR", "a_file/run", "cannot be written"],
    "predictions_parent_is_a_file": ["PREDICTIONS_DIR", "a_file/preds", "cannot be written"],
}


@pytest.mark.parametrize("case", list(OUTPUT_CASES))
def test_an_output_folder_that_cannot_be_written_stops_before_training(tool_runs, case):
    r = tool_runs[case]
    line = _error_line(r)
    for needle in OUTPUT_CASES[case]:
        assert needle in line, line
    assert "data set" not in r["stderr"] and "training basic" not in r["stderr"]  # before any other work
    _nothing_half_written(r["out_dir"])


INFERENCE_CASES = {
    "inference_missing_image": ["image not found", "nope.jpg"],
    "inference_folder_without_images": ["no images found", "no_images"],
    "inference_unreadable_image": ["cannot read image", "bad.jpg"],
    "inference_no_image_readable_in_folder": ["none of the 2 images could be read"],
    "inference_missing_checkpoint": ["checkpoint not found", "nope.pth"],
    "inference_checkpoint_of_zeros": ["zeros.pth", "not a checkpoint"],
    "inference_empty_checkpoint": ["empty.pth", "empty"],
    "inference_truncated_checkpoint": ["truncated.pth", "corrupt or truncated"],
    "inference_config_of_another_model": ["COLOR_SPACE", "basic_RGB_quick.yaml"],
    "inference_state_dict_of_another_architecture": ["wider_state_dict.pth", "does not fit this model",
                                                     "wrongly shaped"],
}


@pytest.mark.parametrize("case", list(INFERENCE_CASES))
def test_inference_mistakes_exit_2_with_one_line_naming_the_culprit(tool_runs, case):
    r = tool_runs[case]
    line = _error_line(r)
    for needle in INFERENCE_CASES[case]:
        assert needle in line, line
    assert not (r["root"] / "inferred" / case).exists()  # nothing written
    if case == "inference_no_image_readable_in_folder":
        assert r["stderr"].count("skipped ") == 2  # each unreadable photo is named


MORE_USER_ERRORS = {
    # case: what the error line must name
    "inference_config_with_a_python_tag": ["evil.yaml", "never run"],
    "inference_output_cannot_be_written": ["a_file/colorized.png"],
    "model_weight_is_not_a_checkpoint": ["a_tensor.pth", "MODEL.WEIGHT"],
}


@pytest.mark.parametrize("case", list(MORE_USER_ERRORS))
def test_python_tags_unwritable_output_and_non_checkpoint_weights_exit_2_with_one_line(tool_runs, case):
    r = tool_runs[case]
    assert not (r["root"] / "pwned").exists()  # never run, whatever else happens
    line = _error_line(r)
    for needle in MORE_USER_ERRORS[case]:
        assert needle in line, line


def test_inference_on_1x1_8x8_and_unicode_named_images_keeps_their_size(tool_runs):
    r = tool_runs["inference_tiny_and_unicode_images"]
    assert r["returncode"] == 0 and "Traceback" not in r["stderr"], r["stderr"][-3000:]
    folder = r["root"] / "inferred" / "tiny"
    for name, shape in (("dot", (1, 1, 3)), ("tile", (8, 8, 3)), ("été photo ü", None)):
        path = folder / f"{name}_colorized.png"
        assert str(path) in r["stdout"]
        img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and (shape is None or img.shape == shape)
