import numpy as np
import pytest

from colorization.data import color


def test_known_lab_values():
    rgb = np.array([[[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]]], np.float32)
    lab = color.rgb_to_lab(rgb)[0]
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.5)  # sRGB red, D65
    np.testing.assert_allclose(lab[3], [32.30, 79.19, -107.86], atol=0.5)  # sRGB blue


def test_rgb_lab_round_trip():
    rgb = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    assert np.abs(back - rgb).max() < 1 / 255  # within one 8-bit step


def test_zhang_normalisation():
    rgb = np.ones((4, 4, 3), np.float32)  # white: L = 100
    net_input, target = color.encode(rgb, "LAB")
    np.testing.assert_allclose(net_input, 0.5, atol=1e-3)  # (100 - 50) / 100
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1
    _, target = color.encode(red, "LAB")
    np.testing.assert_allclose(target[:, 0, 0], [80.09 / 110, 67.20 / 110], atol=5e-3)


@pytest.mark.parametrize("space", ["LAB", "RGB"])
def test_encode_decode_round_trip(space):
    rgb8 = (np.random.default_rng(1).random((24, 24, 3)) * 255).astype(np.uint8)
    net_input, target = color.encode(rgb8.astype(np.float32) / 255, space)
    assert net_input.shape == (1, 24, 24) and target.shape == (color.target_channels(space), 24, 24)
    rgb_back, ab = color.decode(net_input, target, space)
    assert rgb_back.dtype == np.uint8 and np.abs(rgb_back.astype(int) - rgb8).max() <= 1
    lab = color.rgb_to_lab(rgb8.astype(np.float32) / 255)
    assert np.abs(ab - lab[..., 1:]).max() < 0.5


@pytest.mark.parametrize("space", ["LAB", "RGB"])
def test_no_color_baseline_is_gray(space):
    rgb8 = (np.random.default_rng(2).random((8, 8, 3)) * 255).astype(np.uint8)
    net_input, _ = color.encode(rgb8.astype(np.float32) / 255, space)
    out, ab = color.decode(net_input, color.no_color_output(net_input, space), space)
    assert np.abs(ab).max() < 1.0
    spread = out.astype(int).max(axis=2) - out.astype(int).min(axis=2)
    assert spread.max() <= 2


def test_chroma_tells_gray_from_color():
    gray = np.repeat((np.random.default_rng(3).random((16, 16, 1)) * 255).astype(np.uint8), 3, axis=2)
    assert color.chroma_percentile(gray) < 1.0
    colored = gray.copy()
    colored[..., 0] = 255
    assert color.chroma_percentile(colored) > 20


def test_the_mood_knobs_leave_the_lab_they_are_given_alone():
    """A prepared photo's LAB is colored again with other knobs (the web page's sliders, each video frame)."""
    from colorization.engine.colorizer import Colorizer
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    lab = color.rgb_to_lab(color.to_unit(rgb))
    kept = lab.copy()
    vivid = Colorizer.to_rgb(lab, saturation=2.0, brightness=0.5)
    assert np.array_equal(lab, kept)
    assert np.array_equal(Colorizer.to_rgb(lab, saturation=2.0, brightness=0.5), vivid)
    assert not np.array_equal(Colorizer.to_rgb(lab), vivid)
