"""Sharded data sets (colorization-pack, data/shards.py): round trip with skips counted, reading from a URL through
the cache, every sample once per epoch over ranks and workers, bit-identical resume after SIGKILL and SIGTERM, and
damaged shards named and skipped (or one error line when nothing is left)."""
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from colorization.config import load_cfg
from colorization.data.build import build_data_loader, build_dataset
from colorization.data.image_io import decode_plain_jpeg, read_image_file
from colorization.data.pack import encode_jpeg, shrink
from colorization.data.shards import ShardSource
from conftest import REPO, run_tool, run_tools_in_one_process
from test_reliability import (CONFIG, HARNESS, ITERS_PER_EPOCH, PAUSE_AT, TRAIN_PY, _assert_same_final_state,
                              _opts, _train_in_process)

SIZE = 40


@pytest.fixture(scope="module")
def packed(photo_dir, tmp_path_factory):
    """The 12 photos plus a gray one and a broken file, packed at short side 40 in shards of about 10 KB."""
    source = tmp_path_factory.mktemp("to_pack")
    for p in sorted(photo_dir.iterdir()):
        (source / p.name).write_bytes(p.read_bytes())
    gray = cv2.cvtColor(cv2.imread(str(sorted(photo_dir.iterdir())[0])), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(source / "gray.jpg"), gray)
    (source / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path_factory.mktemp("packed") / "shards"
    result = run_tool("pack.py", "--dataset", source, "--output", out, "--size", SIZE, "--shard_mb", "0.01")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "12 photos" in result.stdout and "skipped 1 unreadable or too small, 1 grayscale" in result.stdout
    return out


def test_pack_round_trip_keeps_names_and_content(packed, photo_dir):
    index = json.loads((packed / "index.json").read_text())
    assert index["photos"] == 12 and index["skipped"] == {"unreadable": 1, "grayscale": 1}
    source = ShardSource(str(packed))
    assert source.list_images() == sorted(p.name for p in photo_dir.iterdir())
    for name in source.list_images()[:4]:
        img = source.decode(source.read(name))
        original = shrink(read_image_file(str(photo_dir / name)), SIZE)
        assert img.shape == original.shape and min(img.shape[:2]) == SIZE
        mse = np.mean((img.astype(np.float64) - original) ** 2)
        assert 10 * np.log10(255 ** 2 / mse) > 30  # JPEG quality 95 of the same pixels


def test_packed_jpegs_have_fitted_huffman_tables_same_pixels_fewer_bytes(photo_dir):
    img = shrink(read_image_file(str(sorted(photo_dir.iterdir())[0])), 256)
    plain = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    packed_bytes = encode_jpeg(img, 95)
    assert len(packed_bytes) < len(plain)
    assert np.array_equal(decode_plain_jpeg(packed_bytes), decode_plain_jpeg(plain))


def test_shards_from_a_url_are_cached_and_read_the_same(packed, server, tmp_path, monkeypatch):
    url, served, requests = server
    for p in packed.iterdir():
        (served / p.name).write_bytes(p.read_bytes())
    monkeypatch.setenv("COLORIZATION_CACHE_DIR", str(tmp_path / "cache"))
    local, remote = ShardSource(str(packed)), ShardSource(url + "/")
    assert remote.list_images() == local.list_images()
    assert all(remote.read(n) == local.read(n) for n in local.list_images())
    shard_requests = len([r for r in requests if r.endswith(".tar")])
    ShardSource(url)  # again: the cached shards pass their check, only the index is fetched
    assert len([r for r in requests if r.endswith(".tar")]) == shard_requests > 0


def test_ranks_and_workers_read_every_sample_once_per_epoch(packed):
    cfg = load_cfg(CONFIG, ["DATASETS.TRAIN", f"('{packed}',)", "DATALOADER.NUM_WORKERS", "2"])
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
    orders = []
    for epoch in (0, 1):
        seen = []
        for rank in (0, 1):
            loader = build_data_loader(cfg, dataset, True, rank=rank, world_size=2)
            loader.sampler.set_epoch(epoch)
            seen += [name for batch in loader for name in batch["name"]]
        assert sorted(seen) == sorted(dataset.names)  # 12 photos, 2 ranks x 2 per batch: none dropped
        orders.append(seen)
    assert orders[0] != orders[1]  # shuffled per epoch...
    loader = build_data_loader(cfg, dataset, True, rank=0, world_size=2)
    loader.sampler.set_epoch(1)
    assert [n for b in loader for n in b["name"]] == orders[1][:6]  # ...and the same for the same seed and epoch


def test_resume_from_shards_after_sigkill_and_sigterm_is_bit_identical(packed, tmp_path, one_torch_thread):
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    procs = {}
    for name, sig in (("sigkill", signal.SIGKILL), ("sigterm", signal.SIGTERM)):
        folder = tmp_path / name
        folder.mkdir()
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", PAUSE_MARKER=str(folder / "paused"),
                   PAUSE_AT_STEP=str(PAUSE_AT))
        cmd = [sys.executable, str(harness), REPO, TRAIN_PY, "--config-file", CONFIG,
               *_opts(packed, folder / "run", tmp_path / "preds", workers=2)]
        procs[name] = (subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                        stderr=open(folder / "stderr", "w"), start_new_session=True), sig)
    reference = tmp_path / "reference"
    _train_in_process(packed, reference, tmp_path / "preds")
    for name, (p, sig) in procs.items():
        deadline = time.monotonic() + 240
        while not (tmp_path / name / "paused").exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(p.pid, sig)
        p.wait(timeout=120)
    assert procs["sigkill"][0].returncode == -signal.SIGKILL
    assert procs["sigterm"][0].returncode == 0, (tmp_path / "sigterm" / "stderr").read_text()[-3000:]
    interrupted = torch.load(tmp_path / "sigterm" / "run" / "model_interrupted_epoch_0002.pth", weights_only=True)
    assert interrupted["iter_in_epoch"] == PAUSE_AT - ITERS_PER_EPOCH  # stopped mid-epoch, resumed from there
    for name in procs:
        run = tmp_path / name / "run"
        _train_in_process(packed, run, tmp_path / "preds", workers=2, resume=True)
        _assert_same_final_state(run, reference)


def test_a_damaged_shard_is_named_skipped_and_counted(packed, tmp_path, caplog):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in packed.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    shards = sorted(copy.glob("shard-*.tar"))
    assert len(shards) >= 2
    data = bytearray(shards[0].read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    shards[0].write_bytes(bytes(data))
    source = ShardSource(str(copy))
    assert source.damaged == [shards[0].name] and 0 < len(source.list_images()) < 12
    assert f"skipping damaged shard {copy}/{shards[0].name}: SHA-256 differs" in caplog.text
    # Every shard damaged, and then an index that is not JSON: training stops with one error line (one process).
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    for p in copy.iterdir():
        (unreadable / p.name).write_bytes(p.read_bytes())
    for p in shards:
        p.write_bytes(b"")
    (unreadable / "index.json").write_text("{not json")
    results = run_tools_in_one_process({name: [TRAIN_PY, "--config-file", CONFIG, *_opts(folder, tmp_path / name,
                                                                                          tmp_path / "preds")]
                                        for name, folder in (("empty", copy), ("bad_index", unreadable))}, tmp_path)
    result = results["empty"]
    assert result["returncode"] == 2 and "Traceback" not in result["stderr"]
    errors = [line for line in result["stderr"].splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no images found" in errors[0], result["stderr"][-2000:]
    result = results["bad_index"]
    assert result["returncode"] == 2 and "error: cannot read the shard index" in result["stderr"]
