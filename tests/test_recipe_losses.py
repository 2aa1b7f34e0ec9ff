"""The loss terms of today's recipe: colorfulness, adversarial losses, R1, the perceptual distance on a VGG16-BN of
torchvision's layout (served from loopback), the differentiable LAB -> RGB the terms look through, and the data
options (color enhance, colorfulness screening)."""
import hashlib

import numpy as np
import pytest
import torch

from colorization.checkpoint import load_published_network
from colorization.config import load_cfg
from colorization.data import color
from colorization.data.build import build_dataset
from colorization.data.color_tensor import lab_to_rgb_tensor, network_rgb
from colorization.errors import UserError
from colorization.modeling.losses import (PerceptualLoss, colorfulness_loss, discriminator_loss, generator_loss,
                                          r1_penalty)
from colorization.modeling.vgg import VGG16_BN_UNUSED, VGG16_BN_WEIGHTS, VGG16BNFeatures


def torchvision_vgg16_bn_layout():
    """{key: shape} of torchvision's vgg16_bn state dict, written from its published structure: 13 3x3 convolutions
    (each followed by BatchNorm and ReLU, max pools after the 2nd, 4th, 7th, 10th and 13th) in "features", three
    linear layers in "classifier"."""
    convs = [(0, 3, 64), (3, 64, 64), (7, 64, 128), (10, 128, 128), (14, 128, 256), (17, 256, 256), (20, 256, 256),
             (24, 256, 512), (27, 512, 512), (30, 512, 512), (34, 512, 512), (37, 512, 512), (40, 512, 512)]
    layout = {}
    for i, cin, cout in convs:
        layout[f"features.{i}.weight"], layout[f"features.{i}.bias"] = (cout, cin, 3, 3), (cout,)
        for name in ("weight", "bias", "running_mean", "running_var"):
            layout[f"features.{i + 1}.{name}"] = (cout,)
    for i, (cin, cout) in zip((0, 3, 6), ((25088, 4096), (4096, 4096), (4096, 1000))):
        layout[f"classifier.{i}.weight"], layout[f"classifier.{i}.bias"] = (cout, cin), (cout,)
    return layout


def published_vgg_file(folder, small_classifier=True):
    """A file in torchvision's vgg16_bn layout (random weights; a tiny stand-in classifier unless asked, since the
    loader leaves the classifier out) named as torch hub names files: name-<first 8 hex digits of SHA-256>.pth."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in torchvision_vgg16_bn_layout().items():
        if key.startswith("classifier.") and small_classifier:
            shape = (2,) * len(shape)
        state[key] = (torch.rand(shape, generator=gen) + 0.5 if "running_var" in key
                      else torch.randn(shape, generator=gen) * 0.05)
    path = folder / "vgg16_bn.tmp"
    torch.save(state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    final = folder / f"vgg16_bn-{digest[:8]}.pth"
    path.rename(final)
    return final, state


def test_vgg_matches_torchvision_layout():
    own = {k: tuple(v.shape) for k, v in VGG16BNFeatures().state_dict().items() if "num_batches" not in k}
    expected = {k: v for k, v in torchvision_vgg16_bn_layout().items() if not k.startswith(VGG16_BN_UNUSED)}
    assert own == expected
    assert VGG16_BN_WEIGHTS["imagenet"].url == "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth"


def test_vgg_weights_download_hash_checked_and_load_strictly(server, tmp_path):
    base, served, requests = server
    path, state = published_vgg_file(served)
    vgg = load_published_network(VGG16BNFeatures(), f"{base}/{path.name}", VGG16_BN_WEIGHTS, VGG16_BN_UNUSED)
    assert torch.equal(vgg.features[40].weight, state["features.40.weight"])
    assert torch.equal(vgg.features[41].running_var, state["features.41.running_var"])
    assert len(requests) == 1
    wrong = served / "vgg16_bn-00000000.pth"
    wrong.write_bytes(path.read_bytes())
    with pytest.raises(UserError, match="SHA-256 mismatch"):
        load_published_network(VGG16BNFeatures(), f"{base}/{wrong.name}", VGG16_BN_WEIGHTS, VGG16_BN_UNUSED)
    damaged = dict(state)
    del damaged["features.3.weight"]
    torch.save(damaged, tmp_path / "damaged.pth")
    with pytest.raises(UserError, match="1 missing keys: features.3.weight"):
        load_published_network(VGG16BNFeatures(), str(tmp_path / "damaged.pth"), VGG16_BN_WEIGHTS,
                               VGG16_BN_UNUSED, what="LOSS.PERCEPTUAL_WEIGHTS")


def test_perceptual_loss_is_zero_on_the_target_and_trains_only_the_prediction(tmp_path):
    path, _ = published_vgg_file(tmp_path)
    loss = PerceptualLoss(load_published_network(VGG16BNFeatures(), str(path), VGG16_BN_WEIGHTS, VGG16_BN_UNUSED))
    loss.train()
    assert not loss.vgg.training and not any(p.requires_grad for p in loss.vgg.parameters())
    target = torch.rand(2, 3, 32, 32)
    assert loss(target, target).item() == 0.0
    pred = (target + 0.1 * torch.randn_like(target)).clamp(0, 1).requires_grad_()
    value = loss(pred, target)
    value.backward()
    assert value.item() > 0 and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())
    stats = loss.vgg.features[1].running_mean.clone()
    loss(torch.rand(2, 3, 32, 32), target)
    assert torch.equal(loss.vgg.features[1].running_mean, stats)  # eval mode: ImageNet statistics kept


def _ddcolor_colorfulness(rgb):
    """DDColor's colorfulness of one (3, H, W) image, written out with numpy: absolute opponent channels, sample
    standard deviations."""
    r, g, b = (c.astype(np.float64) for c in rgb)
    rg, yb = np.abs(r - g), np.abs(0.5 * (r + g) - b)
    return np.sqrt(rg.std(ddof=1) ** 2 + yb.std(ddof=1) ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)


def test_colorfulness_loss_is_ddcolors():
    rgb = torch.rand(3, 3, 16, 16)
    expected = np.mean([1 - _ddcolor_colorfulness(x) for x in rgb.numpy()])
    assert colorfulness_loss(rgb).item() == pytest.approx(expected, abs=2e-3)
    gray = torch.rand(2, 1, 16, 16).expand(-1, 3, -1, -1).clone().requires_grad_()
    value = colorfulness_loss(gray)
    value.backward()
    assert value.item() == pytest.approx(1.0, abs=2e-3) and torch.isfinite(gray.grad).all()
    vivid = torch.zeros(2, 3, 16, 16)
    vivid[:, 0, :, :8] = 1.0
    assert colorfulness_loss(vivid) < colorfulness_loss(gray) - 0.3


@pytest.mark.parametrize("kind,real,fake,gen", [
    # logits 0: log 2 each way for the logistic loss; hinge and least squares at their margins.
    ("vanilla", 0.6931, 0.6931, 0.6931),
    ("hinge", 1.0, 1.0, 0.0),
    ("least_squares", 1.0, 0.0, 1.0),
])
def test_gan_losses_at_zero_logits(kind, real, fake, gen):
    zeros = [torch.zeros(2, 1, 4, 4)]
    r, f = discriminator_loss(kind, zeros, zeros)
    assert (r.item(), f.item(), generator_loss(kind, zeros).item()) == pytest.approx((real, fake, gen), abs=1e-4)


def test_gan_losses_reward_the_right_side():
    confident = [torch.full((2, 1, 4, 4), 3.0)]
    for kind in ("vanilla", "hinge", "least_squares"):
        r_good, _ = discriminator_loss(kind, confident, confident)
        r_bad, _ = discriminator_loss(kind, [-confident[0]], confident)
        assert r_good < r_bad, kind  # calling real images real costs less
        assert generator_loss(kind, confident) < generator_loss(kind, [-confident[0]]), kind
        # Two outputs (a U-Net discriminator): the mean of both.
        both = discriminator_loss(kind, [confident[0], -confident[0]], confident)[0]
        assert both.item() == pytest.approx((r_good.item() + r_bad.item()) / 2, rel=1e-5)


def test_r1_of_a_linear_discriminator_is_its_squared_weight_norm():
    w = torch.randn(3, 8, 8, requires_grad=True)
    real = torch.rand(4, 3, 8, 8).requires_grad_()
    logits = [(real * w).sum(dim=(1, 2, 3)).view(4, 1, 1, 1)]
    value = r1_penalty(logits, real)
    assert value.item() == pytest.approx(w.square().sum().item(), rel=1e-5)
    value.backward()  # differentiable for the discriminator: d/dw ||w||^2 = 2w
    assert torch.allclose(w.grad, 2 * w.detach(), rtol=1e-5)


def test_lab_to_rgb_tensor_agrees_with_opencv_and_has_finite_gradients():
    rng = np.random.default_rng(0)
    rgb = rng.random((32, 32, 3)).astype(np.float32)
    lab = color.rgb_to_lab(rgb)
    lab[:, :, 1:] *= 1.4  # out of gamut in places: both clip
    lab[:4, :4, 0] = 3.0  # the linear segment near black
    x = torch.from_numpy(lab).permute(2, 0, 1)[None].requires_grad_()
    out = lab_to_rgb_tensor(x)
    assert np.abs(out[0].permute(1, 2, 0).detach().numpy() - color.lab_to_rgb(lab)).max() < 2e-4
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    # Network units: a gray prediction (ab = 0) is the gray image of the input's L.
    net_input, target = color.encode(rgb, "LAB")
    gray = network_rgb(torch.from_numpy(net_input)[None], torch.zeros(1, 2, 32, 32), "LAB")
    assert np.abs(gray[0].permute(1, 2, 0).numpy() - color.gray_rgb(net_input) / 255.0).max() < 3 / 255


def test_color_enhance_scales_the_chroma_of_training_targets_only(photo_dir):
    def first_item(*opts, train=True):
        cfg = load_cfg(None, ["INPUT.SIZE", "32", "INPUT.CROP_SCALE", "(1.0, 1.0)", "INPUT.HFLIP_PROB", "0", *opts])
        return build_dataset(cfg, [str(photo_dir)], train=train)[0]

    plain, enhanced = first_item(), first_item("INPUT.COLOR_ENHANCE", "1.2")
    assert torch.equal(plain["input"], enhanced["input"])  # the network still sees the photo's own lightness
    assert torch.allclose(enhanced["target"], plain["target"] * 1.2)
    assert torch.equal(first_item("INPUT.COLOR_ENHANCE", "1.2", train=False)["target"],
                       first_item(train=False)["target"])
    rgb_plain = first_item("INPUT.COLOR_SPACE", "RGB")["target"].permute(1, 2, 0).numpy()
    rgb_more = first_item("INPUT.COLOR_SPACE", "RGB", "INPUT.COLOR_ENHANCE", "1.5")["target"].permute(1, 2, 0).numpy()
    chroma = [np.hypot(*color.rgb_to_lab(x)[:, :, 1:].transpose(2, 0, 1)).mean() for x in (rgb_plain, rgb_more)]
    assert chroma[1] > 1.2 * chroma[0]


def test_dull_photos_are_dropped_from_training_and_counted(photo_dir, caplog):
    from colorization.data.screening import image_colorfulness
    from colorization.data.image_io import decode_image
    from colorization.data.transforms import resize_center_crop
    # Measured as the screening measures it: on a 64x64 copy.
    values = sorted(image_colorfulness(resize_center_crop(decode_image(p.read_bytes(), min_short_side=64), 64))
                    for p in photo_dir.iterdir())
    threshold = (values[3] + values[4]) / 2  # between the 4th and 5th dullest photos
    cfg = load_cfg(None, ["INPUT.SIZE", "32", "DATASETS.MIN_COLORFULNESS", str(threshold)])
    with caplog.at_level("INFO"):
        train = build_dataset(cfg, [str(photo_dir)], train=True)
    assert len(train) == len(values) - 4 and train.dropped["dull"] == 4
    assert f"4 with colorfulness below {threshold:g} dropped" in caplog.text
    assert len(build_dataset(cfg, [str(photo_dir)], train=False)) == len(values)  # validation keeps them all
    cfg = load_cfg(None, ["DATASETS.MIN_COLORFULNESS", "1000"])
    with pytest.raises(UserError, match=r"12 photos with too little color dropped \(DATASETS.MIN_COLORFULNESS"):
        build_dataset(cfg, [str(photo_dir)], train=True)
