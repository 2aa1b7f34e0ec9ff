"""Tests of colorization.metrics: hand-computed cases, agreement with scikit-image, batching, accumulation."""

import math
import os

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorization import metrics as M


def _const_rgb(b, h, w, values):
    """(B, 3, H, W) float images, every pixel equal to `values` (an RGB triple)."""
    return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1).expand(b, 3, h, w).clone()


def _smooth_images(seed, n, h=48, w=40):
    """n pairs of natural-ish uint8 HWC images: smoothed noise (target) and a noisy, shifted variant (pred)."""
    rng = np.random.default_rng(seed)
    targets, preds = [], []
    for _ in range(n):
        t = rng.normal(128, 60, size=(h, w, 3)).astype(np.float32)
        t = cv2.GaussianBlur(t, (0, 0), sigmaX=3.0)
        t = (t - t.mean()) * (100.0 / max(t.std(), 1e-3)) + 128.0
        p = t + rng.normal(5, 12, size=t.shape) + 20 * np.sin(np.arange(w) / 5.0)[None, :, None]
        targets.append(np.clip(np.round(t), 0, 255).astype(np.uint8))
        preds.append(np.clip(np.round(p), 0, 255).astype(np.uint8))
    return preds, targets


def _to_tensor(imgs):
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()


# ----------------------------------------------------------------------------- L1 / L2 / PSNR


def test_l1_l2_constant_difference():
    pred = _const_rgb(2, 5, 7, (10.0, 20.0, 30.0))
    target = _const_rgb(2, 5, 7, (13.0, 16.0, 30.0))
    # |diff| = 3, 4, 0 per channel
    assert torch.allclose(M.l1_error(pred, target), torch.full((2,), 7.0 / 3.0))
    assert torch.allclose(M.l2_error(pred, target), torch.full((2,), 25.0 / 3.0))
    ab_p = torch.zeros(3, 2, 4, 4)
    ab_t = torch.full((3, 2, 4, 4), -2.0)
    assert torch.allclose(M.l1_error(ab_p, ab_t), torch.full((3,), 2.0))
    assert torch.allclose(M.l2_error(ab_p, ab_t), torch.full((3,), 4.0))


def test_uint8_inputs_do_not_wrap():
    pred = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    target = torch.full((1, 3, 4, 4), 10, dtype=torch.uint8)
    assert M.l1_error(pred, target).item() == pytest.approx(10.0)
    assert M.l1_error(target, pred).item() == pytest.approx(10.0)


def test_psnr_constant_difference_and_cap():
    pred = _const_rgb(1, 8, 8, (100.0, 100.0, 100.0))
    target = _const_rgb(1, 8, 8, (110.0, 110.0, 110.0))  # MSE = 100
    expected = 20 * math.log10(255.0 / 10.0)
    assert M.psnr(pred, target).item() == pytest.approx(expected, rel=1e-6)
    same = M.psnr(target, target)
    assert same.item() == M.PSNR_CAP_DB and torch.isfinite(same).all()


def test_psnr_matches_skimage():
    preds, targets = _smooth_images(0, 4)
    got = M.psnr(_to_tensor(preds), _to_tensor(targets))
    ref = [peak_signal_noise_ratio(t, p, data_range=255) for p, t in zip(preds, targets)]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5)


# ----------------------------------------------------------------------------- SSIM


def test_ssim_identical_is_one_and_small_raises():
    preds, targets = _smooth_images(1, 2)
    t = _to_tensor(targets)
    np.testing.assert_allclose(M.ssim(t, t).numpy(), 1.0, rtol=1e-6)
    const = _const_rgb(1, 16, 16, (50.0, 60.0, 70.0))
    assert M.ssim(const, const).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="11x11"):
        M.ssim(torch.zeros(1, 3, 10, 32), torch.zeros(1, 3, 10, 32))


@pytest.mark.parametrize("h,w", [(48, 40), (11, 11), (23, 64)])
def test_ssim_matches_skimage(h, w):
    preds, targets = _smooth_images(2 + h, 3, h, w)
    got = M.ssim(_to_tensor(preds), _to_tensor(targets))
    ref = [
        structural_similarity(
            p, t, channel_axis=-1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=255,
        )
        for p, t in zip(preds, targets)
    ]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5)


def test_ssim_float_input_same_as_uint8():
    preds, targets = _smooth_images(3, 2)
    p, t = _to_tensor(preds), _to_tensor(targets)
    assert torch.allclose(M.ssim(p, t), M.ssim(p.float(), t.double()), rtol=1e-6)


# ----------------------------------------------------------------------------- colorfulness


def test_colorfulness_gray_is_zero():
    gray = _const_rgb(2, 6, 6, (77.0, 77.0, 77.0))
    gray[:, :, :3] = 200.0
    assert torch.allclose(M.colorfulness(gray), torch.zeros(2), atol=1e-4)


def test_colorfulness_two_colours_by_hand():
    img = torch.zeros(1, 3, 4, 4)
    img[0, 0, :2] = 255.0  # top half pure red
    img[0, 2, 2:] = 255.0  # bottom half pure blue
    # red: rg = 255, yb = 127.5; blue: rg = 0, yb = -255
    mean_rg, std_rg = 127.5, 127.5
    mean_yb, std_yb = (127.5 - 255.0) / 2, (127.5 + 255.0) / 2
    expected = math.sqrt(std_rg**2 + std_yb**2) + 0.3 * math.sqrt(mean_rg**2 + mean_yb**2)
    assert M.colorfulness(img).item() == pytest.approx(expected, rel=1e-6)
    single = _const_rgb(1, 3, 3, (255.0, 0.0, 0.0))  # constant red: no spread
    assert M.colorfulness(single).item() == pytest.approx(0.3 * math.hypot(255.0, 127.5), rel=1e-6)


# ----------------------------------------------------------------------------- AuC


def test_auc_known_error_fields():
    target = torch.zeros(2, 2, 5, 6)
    pred = torch.zeros(2, 2, 5, 6)
    pred[:, 0] = 6.0
    pred[:, 1] = 8.0  # error exactly 10 everywhere
    assert M.auc_ab(pred, target).tolist() == pytest.approx([141 / 151] * 2, rel=1e-7)
    assert M.auc_ab(target, target).tolist() == pytest.approx([1.0, 1.0])
    far = torch.full((1, 2, 3, 3), 200.0)
    assert M.auc_ab(far, torch.zeros_like(far)).item() == 0.0


def test_auc_matches_threshold_loop():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 2, 16, 16, generator=g) * 60
    target = torch.randn(3, 2, 16, 16, generator=g) * 60
    pred[0, :, 0, :4] = target[0, :, 0, :4]  # some exact zeros
    pred[1, 0, 1, :3] = target[1, 0, 1, :3] + 7.0  # some errors exactly on a threshold
    pred[1, 1, 1, :3] = target[1, 1, 1, :3]
    err = torch.linalg.vector_norm(pred - target, dim=1).flatten(1)
    ref = torch.stack([(err <= t).float().mean(dim=1) for t in range(151)]).mean(dim=0)
    assert torch.allclose(M.auc_ab(pred, target), ref, atol=1e-6)
    ref20 = torch.stack([(err <= t).float().mean(dim=1) for t in range(21)]).mean(dim=0)
    assert torch.allclose(M.auc_ab(pred, target, max_threshold=20), ref20, atol=1e-6)


# ----------------------------------------------------------------------------- batch / dict


def test_batch_consistency():
    preds, targets = _smooth_images(4, 4, 32, 32)
    p, t = _to_tensor(preds), _to_tensor(targets)
    g = torch.Generator().manual_seed(1)
    pa, ta = torch.randn(4, 2, 32, 32, generator=g) * 30, torch.randn(4, 2, 32, 32, generator=g) * 30
    batch = M.compute_image_metrics(p, t, pa, ta)
    assert set(batch) == {"psnr", "ssim", "colorfulness", "colorfulness_target", "auc", "l1_ab", "l2_ab"}
    for i in range(4):
        item = M.compute_image_metrics(p[i : i + 1], t[i : i + 1], pa[i : i + 1], ta[i : i + 1])
        for k, v in batch.items():
            assert v.shape == (4,) and v.dtype == torch.float32
            assert item[k].item() == pytest.approx(v[i].item(), rel=1e-5, abs=1e-6), k


def test_shape_errors():
    with pytest.raises(ValueError):
        M.psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError):
        M.colorfulness(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError):
        M.auc_ab(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


# ----------------------------------------------------------------------------- accumulator


def test_accumulator_mean_and_gap():
    acc = M.MetricAccumulator()
    acc.update("psnr", torch.tensor([20.0, 30.0]))
    acc.update("psnr", torch.tensor([40.0]))
    acc.update("colorfulness", torch.tensor([10.0, 20.0]))
    s = acc.summary()
    assert s["psnr"] == pytest.approx(30.0)
    assert s["colorfulness"] == pytest.approx(15.0)
    assert M.colorfulness_gap(15.0, 35.0) == pytest.approx(20.0)
    assert acc.all_reduce() is acc and acc.summary() == s  # no process group: no-op


def _dist_worker(rank, world, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        acc = M.MetricAccumulator()
        acc.update("psnr", torch.full((rank + 1,), float(10 * (rank + 1))))  # rank0: [10], rank1: [20, 20]
        if rank == 1:
            acc.update("only_rank1", torch.tensor([3.0]))
        acc.all_reduce()
        torch.save(acc.summary(), os.path.join(out_dir, f"r{rank}.pt"))
        dist.barrier()  # leave together: tearing gloo down while the other process still uses it can abort it
    finally:
        dist.destroy_process_group()


def test_accumulator_all_reduce_two_processes(tmp_path):
    mp.spawn(_dist_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        summary = torch.load(tmp_path / f"r{rank}.pt")
        assert summary["psnr"] == pytest.approx(50.0 / 3.0)  # (10 + 20 + 20) / 3: sums and counts both reduced
        assert summary["only_rank1"] == pytest.approx(3.0)
