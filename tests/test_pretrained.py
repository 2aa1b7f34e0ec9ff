"""Weights download and loading against a loopback HTTP server (the `server` fixture of conftest.py): cache,
hashes, truncation, unsafe pickles."""
import hashlib
import os

import pytest
import torch

from colorization.errors import UserError
from colorization.modeling.registry import MODEL_REGISTRY, PublishedWeights
from colorization.checkpoint import load_official_state_dict, resolve_weights


def _small_state_dict():
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(4, 1, 3, 3), "conv.bias": torch.randn(4)}


def _write_weights(folder, name, obj):
    path = folder / name
    torch.save(obj, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_dir():
    return os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints")


def _cache_files():
    return sorted(os.listdir(_cache_dir())) if os.path.isdir(_cache_dir()) else []


def _assert_same(state_dict, expected):
    assert state_dict.keys() == expected.keys()
    for key in expected:
        assert torch.equal(state_dict[key], expected[key])


def test_imagenet_download_is_cached_and_verified(server, monkeypatch):
    base, served, requests = server
    weights = _small_state_dict()
    _, sha = _write_weights(served, "official-weights.pth", weights)
    monkeypatch.setitem(MODEL_REGISTRY["eccv16"].weights, "imagenet",
                        PublishedWeights(f"{base}/official-weights.pth", sha))
    _assert_same(resolve_weights("imagenet", "eccv16", progress=False), weights)
    assert _cache_files() == ["official-weights.pth"]
    assert len(requests) == 1
    _assert_same(resolve_weights("imagenet", "eccv16", progress=False), weights)
    assert len(requests) == 1  # served from the cache

    # A corrupted cache file fails its hash check and is fetched again.
    with open(os.path.join(_cache_dir(), "official-weights.pth"), "r+b") as f:
        f.write(b"garbage")
    _assert_same(resolve_weights("imagenet", "eccv16", progress=False), weights)
    assert len(requests) == 2


def test_official_table_matches_design():
    assert MODEL_REGISTRY["eccv16"].weights["imagenet"].sha256.startswith("9b330a0b")
    assert MODEL_REGISTRY["siggraph17"].weights["imagenet"].url.endswith("siggraph17-df00044c.pth")
    with pytest.raises(UserError, match="basic"):
        resolve_weights("imagenet", "basic")


def test_hash_mismatch_keeps_nothing(server, monkeypatch):
    base, served, _ = server
    _write_weights(served, "official-weights.pth", _small_state_dict())
    wrong = "0" * 64
    monkeypatch.setitem(MODEL_REGISTRY["siggraph17"].weights, "imagenet",
                        PublishedWeights(f"{base}/official-weights.pth", wrong))
    with pytest.raises(UserError, match=f"official-weights.pth.*expected {wrong}, got [0-9a-f]{{64}}"):
        resolve_weights("imagenet", "siggraph17", progress=False)
    assert _cache_files() == []


def test_hash_prefix_in_url_file_name(server):
    base, served, _ = server
    weights = _small_state_dict()
    path, sha = _write_weights(served, "tmp.pth", weights)
    os.rename(path, served / f"model-{sha[:8]}.pth")
    _assert_same(resolve_weights(f"{base}/model-{sha[:8]}.pth", "eccv16", progress=False), weights)
    os.rename(served / f"model-{sha[:8]}.pth", served / "model-deadbeef.pth")
    with pytest.raises(UserError, match="deadbeef"):
        resolve_weights(f"{base}/model-deadbeef.pth", "eccv16", progress=False)
    assert _cache_files() == [f"model-{sha[:8]}.pth"]


def test_plain_url_and_explicit_sha(server, capsys):
    base, served, requests = server
    weights = _small_state_dict()
    _, sha = _write_weights(served, "plain.pth", weights)
    _assert_same(resolve_weights(f"{base}/plain.pth", "eccv16", sha256=sha), weights)
    assert "Downloading" in capsys.readouterr().err
    _assert_same(resolve_weights(f"{base}/plain.pth", "eccv16", progress=False), weights)
    assert len(requests) == 1


def test_truncated_download_keeps_nothing(server):
    base, _, _ = server
    with pytest.raises(UserError, match="incomplete.*100 of 1000 bytes"):
        resolve_weights(f"{base}/truncated/weights.pth", "eccv16", progress=False)
    assert _cache_files() == []


def test_http_error_is_clear(server):
    base, _, _ = server
    with pytest.raises(UserError, match="missing.pth"):
        resolve_weights(f"{base}/missing.pth", "eccv16", progress=False)
    assert _cache_files() == []


class _RunsShellOnLoad:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_crafted_pickle_is_refused(server, tmp_path):
    base, served, _ = server
    marker = tmp_path / "pwned"
    path, _ = _write_weights(served, "evil.pth", {"conv.weight": _RunsShellOnLoad(marker)})
    with pytest.raises(UserError, match="evil.pth.*refused"):
        resolve_weights(str(path), "eccv16")
    with pytest.raises(UserError, match="evil.pth.*refused"):
        resolve_weights(f"{base}/evil.pth", "eccv16", progress=False)
    assert not marker.exists()


def test_local_paths_and_checkpoint_dicts(tmp_path):
    weights = _small_state_dict()
    raw, _ = _write_weights(tmp_path, "raw.pth", weights)
    checkpoint, _ = _write_weights(tmp_path, "ckpt.pth", {"model": weights, "epoch": 3})
    _assert_same(resolve_weights(str(raw), "eccv16"), weights)
    _assert_same(resolve_weights(checkpoint, "eccv16"), weights)
    with pytest.raises(UserError, match="nowhere.pth"):
        resolve_weights(str(tmp_path / "nowhere.pth"), "eccv16")
    not_weights, _ = _write_weights(tmp_path, "list.pth", [1, 2, 3])
    with pytest.raises(UserError, match="list.pth"):
        resolve_weights(str(not_weights), "eccv16")
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(raw.read_bytes()[:100])
    with pytest.raises(UserError, match="damaged.pth"):
        resolve_weights(str(damaged), "eccv16")


def test_load_official_state_dict_names_bad_keys():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    good = {k: v.clone() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_official_state_dict(net, good)  # old files without num_batches_tracked still load
    load_official_state_dict(net, {"module." + k: v for k, v in good.items()})
    bad = dict(good)
    del bad["0.bias"]
    bad["extra.weight"] = torch.zeros(1)
    bad["1.weight"] = torch.zeros(5)
    with pytest.raises(UserError) as info:
        load_official_state_dict(net, bad)
    message = str(info.value)
    assert "1 missing keys: 0.bias" in message
    assert "1 unexpected keys: extra.weight" in message
    assert "1.weight: file (5,) vs model (4,)" in message


def test_download_inside_a_process_group(server, monkeypatch):
    """With torch.distributed initialised the rank-0-first path (download, barrier, verify) runs."""
    import torch.distributed as dist
    base, served, requests = server
    weights = _small_state_dict()
    _, sha = _write_weights(served, "official-weights.pth", weights)
    monkeypatch.setitem(MODEL_REGISTRY["eccv16"].weights, "imagenet",
                        PublishedWeights(f"{base}/official-weights.pth", sha))
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        _assert_same(resolve_weights("imagenet", "eccv16", progress=False), weights)
    finally:
        dist.destroy_process_group()
    assert len(requests) == 1
    assert _cache_files() == ["official-weights.pth"]
