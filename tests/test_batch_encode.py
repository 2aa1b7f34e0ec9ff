"""Training batches encoded on the device (data/batch_encode.py) against the item-by-item OpenCV path they replace:
LAB within 0.5 (OpenCV 5's float LAB is itself an approximation, 0.42 at most and 0.08 on average from the exact
formula, which ours follows within 1e-4), and the seeded hint simulation exactly (same points, same values)."""
import numpy as np
import torch

from colorization.config import load_cfg
from colorization.data import color
from colorization.data.batch_encode import encode_rgb, simulate_hints
from colorization.data.build import build_dataset, collate_raw
from colorization.data.hints import sample_hints
from colorization.data.transforms import train_transform

# LAB units: the largest gap between OpenCV's float conversion and the exact formula over all 8-bit colors.
LAB_TOLERANCE = 0.5


def _dataset(photo_dir, *opts):
    cfg = load_cfg(None, ["MODEL.HINTS", "True", "INPUT.SIZE", "48", "INPUT.CROP_SCALE", "(0.5, 1.0)",
                          "INPUT.HFLIP_PROB", "0.5", "INPUT.COLOR_ENHANCE", "1.2", "DATASETS.TRAIN",
                          f"('{photo_dir}',)", *opts])
    return cfg, build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)


def test_lab_of_every_8bit_color_matches_opencv():
    levels = np.arange(0, 256, 3, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(1, -1, 3)
    net_input, target = encode_rgb(torch.from_numpy(rgb).permute(2, 0, 1)[None], "LAB")
    ref_input, ref_target = color.encode(color.to_unit(rgb), "LAB")
    assert np.abs(net_input[0].numpy() - ref_input).max() * color.L_SCALE < LAB_TOLERANCE
    assert np.abs(target[0].numpy() - ref_target).max() * color.AB_SCALE < LAB_TOLERANCE


def _exact_lab(rgb):
    """CIE LAB of 8-bit sRGB in float64, both branches of f and of L written out (OpenCV's constants)."""
    v = rgb.astype(np.float64) / 255
    linear = np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    white = np.array([0.950456, 1.0, 1.088754])
    xyz = linear @ np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                             [0.019334, 0.119193, 0.950227]]).T / white
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    y = xyz[..., 1]
    lightness = np.where(y > 0.008856, 116 * f[..., 1] - 16, 903.3 * y)
    return np.stack([lightness, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def test_lab_of_every_8bit_color_follows_the_exact_formula():
    levels = np.arange(256, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(levels, levels, levels[::5], indexing="ij"), -1).reshape(64, -1, 3)
    net_input, target = encode_rgb(torch.from_numpy(rgb).permute(2, 0, 1)[None], "LAB")
    exact = _exact_lab(rgb)
    assert np.abs(net_input[0, 0].numpy() * color.L_SCALE + color.L_CENTER - exact[..., 0]).max() < 1e-4
    assert np.abs(target[0].permute(1, 2, 0).numpy() * color.AB_SCALE - exact[..., 1:]).max() < 1e-4


def test_device_batches_equal_the_item_path_with_enhance_and_seeded_hints(photo_dir):
    cfg, dataset = _dataset(photo_dir)
    keys = [(epoch, i) for epoch in (0, 3) for i in range(len(dataset))]
    raws = [dataset.raw_item(k) for k in keys]
    batch = collate_raw(raws)
    assert batch["rgb"].dtype == torch.uint8 and batch["rgb"].shape == (len(keys), 3, 48, 48)
    encoded = dataset.encoder()(batch)
    hinted = 0
    for n, ((epoch, i), raw) in enumerate(zip(keys, raws)):
        # The item path of before: OpenCV LAB, color enhance, hints drawn by the same rng after the crop and flip.
        rng = np.random.default_rng((cfg.SOLVER.SEED, epoch, i))
        img = train_transform(dataset.load_rgb(i), 48, cfg.INPUT.CROP_SCALE, cfg.INPUT.HFLIP_PROB, rng)
        assert np.array_equal(img, raw["rgb"].permute(1, 2, 0).numpy())
        ref_input, ref_target = color.encode(color.to_unit(img), "LAB")
        ref_target = color.enhance_target(ref_target, 1.2, "LAB")
        assert np.abs(encoded["input"][n, 0].numpy() - ref_input[0]).max() * color.L_SCALE < LAB_TOLERANCE
        assert np.abs(encoded["target"][n].numpy() - ref_target).max() * color.AB_SCALE < LAB_TOLERANCE * 1.2
        # Hints: sample_hints on the same target and rng state gives the same points and values.
        hint_ab, mask, points = sample_hints(encoded["target"][n].numpy(), rng, dataset.hints)
        assert np.array_equal(encoded["input"][n, 3].numpy(), mask[0])
        np.testing.assert_allclose(encoded["input"][n, 1:3].numpy(), hint_ab, atol=1e-6)
        hinted += bool(points)
    assert hinted >= len(keys) // 2  # most items got hints: the comparison covered real patches


def test_hints_on_a_gray_batch_and_on_one_with_no_points():
    target = torch.zeros(2, 2, 16, 16)
    tries = torch.tensor([[[3, 2, 2]] * 8, [[3, 2, 2]] * 8], dtype=torch.int16)
    hint_ab, mask = simulate_hints(target, torch.tensor([2, 0]), tries, 2.0, 9)
    assert not mask.any() and not hint_ab.any()
    assert not simulate_hints(target, torch.tensor([0, 0]), tries, 2.0, 9)[1].any()
    target[0] = 0.5  # colorful: the first try of each point is taken, the second point paints over the first
    tries[0, 1] = torch.tensor([2, 10, 12])
    hint_ab, mask = simulate_hints(target, torch.tensor([2, 0]), tries, 2.0, 9)
    assert mask[0, 0].sum() == 9 + 4 and mask[1].sum() == 0
    assert torch.allclose(hint_ab[0, :, 2, 2], torch.tensor([0.5, 0.5]))


def test_one_item_is_the_batch_path_on_the_cpu(photo_dir):
    _, dataset = _dataset(photo_dir, "MODEL.HINTS", "False")
    batch = dataset.encoder()(collate_raw([dataset.raw_item((2, i)) for i in range(3)]))
    for i in range(3):
        assert torch.equal(dataset[(2, i)]["input"], batch["input"][i])
        assert torch.equal(dataset[(2, i)]["target"], batch["target"][i])
