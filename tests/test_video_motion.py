"""The parts of video colorization that look at motion, on pans made from a sample photo: the flow and the scene
cuts, color carried along the flow, hint points that follow the content, and the flicker figures."""
import json

import cv2
import numpy as np
import pytest

from colorization.benchmark.video import camera_motion
from colorization.data import color
from colorization.errors import UserError
from colorization.video.flicker import FlickerMeter, js_divergence
from colorization.video.hints_track import HintTracker, keyframes_from_json, read_keyframes
from colorization.video.stability import MotionEstimator, Stabilizer

SIZE = (160, 120)
PAN = 3  # pixels a frame: the content moves left by 3 pixels from one frame to the next


@pytest.fixture(scope="module")
def canvases(photo_dir):
    photos = sorted(photo_dir.iterdir())
    return [cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (320, 200)) for p in photos[:2]]


@pytest.fixture(scope="module")
def two_shots(canvases):
    """10 frames panning across one photo, then a cut to 6 frames panning across another."""
    first = list(camera_motion(canvases[0], SIZE, 10, pan=PAN, bob=0, zoom=0))
    second = list(camera_motion(canvases[1], SIZE, 6, pan=PAN, bob=0, zoom=0))
    return first + second


def motions(frames):
    estimator = MotionEstimator(*SIZE)
    return [estimator(f) for f in frames]


def test_flow_follows_the_pan_and_the_cut_is_found(two_shots):
    found = motions(two_shots)
    assert [i for i, m in enumerate(found) if m.cut] == [0, 10]
    for m in found[1:10] + found[11:]:
        h, w = m.flow.shape[:2]
        # backward flow: each pixel of frame t was PAN pixels further right in frame t-1
        dx, dy = np.median(m.flow[10:-10, 10:-10].reshape(-1, 2), axis=0) * (SIZE[0] / w)
        assert abs(dx - PAN) < 0.5 and abs(dy) < 0.5
        assert m.reliability.mean() > 0.8
        assert (m.reliability[:, -2:] == 0).all()  # came in from outside the picture: nothing to carry


def _lab(ab):
    """A LAB frame of lightness 50 with these a, b."""
    return np.dstack([np.full(ab.shape[:2], 50.0, np.float32), ab]).astype(np.float32)


def test_color_is_carried_along_the_motion(two_shots):
    found = motions(two_shots[:3])
    rng = np.random.default_rng(0)
    pattern = cv2.GaussianBlur(rng.uniform(-40, 40, (SIZE[1], SIZE[0], 2)).astype(np.float32), (0, 0), 3)
    zeros = np.zeros_like(pattern)

    stabilizer = Stabilizer(1.0)
    first = _lab(pattern)
    np.testing.assert_array_equal(stabilizer(first, found[0]), _lab(pattern))  # a shot's first frame: as predicted
    carried = stabilizer(_lab(zeros), found[1])
    assert (carried[:, :, 0] == 50).all()  # the lightness is the frame's own
    carried = carried[:, :, 1:]
    inner = (slice(10, -10), slice(10, -10))
    # frame 1 shows at x what frame 0 showed at x + PAN: the carried color is the pattern shifted with it
    shifted = np.roll(pattern, -PAN, axis=1)
    assert np.abs(carried - shifted)[inner].mean() < 0.1 * np.abs(pattern).mean()
    assert np.abs(carried[:, -1]).max() < 1e-6  # new on the right edge: the new prediction, nothing carried

    half = Stabilizer(0.5)
    half(_lab(pattern), found[0])
    blended = half(_lab(zeros), found[1])[:, :, 1:]
    np.testing.assert_allclose(blended[inner], 0.5 * carried[inner], atol=0.05 * np.abs(pattern).max())

    off = Stabilizer(0.0)
    off(_lab(pattern), found[0])
    np.testing.assert_array_equal(off(_lab(zeros), found[1]), _lab(zeros))  # stability 0: plain frame by frame


def test_a_cut_starts_afresh(two_shots):
    found = motions(two_shots)
    stabilizer = Stabilizer(1.0)
    ab = np.full((SIZE[1], SIZE[0], 2), 30.0, np.float32)
    for m in found[:10]:
        stabilizer(_lab(ab), m)
    new = np.full_like(ab, -20.0)
    np.testing.assert_array_equal(stabilizer(_lab(new), found[10]), _lab(new))


def test_hint_points_follow_the_pan_until_the_cut_and_the_next_keyframe(two_shots):
    found = motions(two_shots)
    red, blue = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    keyframes = keyframes_from_json({"keyframes": [
        {"frame": 0, "points": [{"x": 120, "y": 50, "color": "#ff0000"}, {"x": 10, "y": 80, "color": "#0000ff"}]},
        {"frame": 13, "points": [{"x": 40, "y": 30, "color": "#0000ff"}], "size": 5}]}, *SIZE)
    tracker = HintTracker(keyframes, *SIZE)
    seen = [tracker(i, m) for i, m in enumerate(found)]
    assert seen[0].points == [(120.0, 50.0, red), (10.0, 80.0, blue)] and seen[0].size == 3
    for i in range(1, 10):
        (x, y, rgb), *rest = seen[i].points
        assert abs(x - (120 - PAN * i)) < 1.0 and abs(y - 50) < 1.0 and rgb == red
        # the point near the left edge leaves the picture after 4 frames and is dropped
        assert len(rest) == (1 if 10 - PAN * i >= 0 else 0)
    assert seen[10] is None and seen[11] is None and seen[12] is None  # a new shot: no hints until a keyframe
    assert seen[13].points == [(40.0, 30.0, blue)] and seen[13].size == 5
    x, y, _ = seen[15].points[0]
    assert abs(x - (40 - 2 * PAN)) < 1.0 and abs(y - 30) < 1.0
    assert tracker.unreached() == []


@pytest.mark.parametrize("content, message", [
    ('[]', 'must hold {"keyframes"'),
    ('{"keyframes": [], "extra": 1}', 'must hold {"keyframes"'),
    ('{"keyframes": []}', "names no keyframe"),
    ('{"keyframes": [{"points": []}]}', r'keyframes\[0\] must be an object with a "frame"'),
    ('{"keyframes": [{"frame": -1, "points": []}]}', r"keyframes\[0\]\.frame is -1"),
    ('{"keyframes": [{"frame": 1.5, "points": []}]}', r"keyframes\[0\]\.frame is 1.5"),
    ('{"keyframes": [{"frame": 2, "points": []}, {"frame": 2, "points": []}]}', "frame 2 has hints twice"),
    ('{"keyframes": [{"frame": 0, "points": [{"x": 400, "y": 2, "color": "#123456"}]}]}',
     r"keyframes\[0\]: points\[0\] \(400, 2\) is outside the photo"),
    ('{"keyframes": [{"frame": 0, "points": [], "colour": 1}]}', r"keyframes\[0\]: unknown key 'colour'"),
    ('{"keyframes": [', "is not valid JSON"),
])
def test_bad_keyframe_files_name_the_field(tmp_path, content, message):
    path = tmp_path / "keyframes.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        read_keyframes(str(path), *SIZE)


def test_js_divergence_bounds():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    assert js_divergence(p, p) == 0.0
    assert js_divergence(p, p[::-1]) == pytest.approx(np.log(2))


def _flicker(frames, cuts=()):
    meter = FlickerMeter(*SIZE)
    for i, rgb in enumerate(frames):
        meter.add(rgb, i == 0 or i in cuts)
    return meter.summary()


def _with_ab_offset(rgb, da, db):
    lab = color.rgb_to_lab(color.to_unit(rgb))
    lab[:, :, 1] += da
    lab[:, :, 2] += db
    return color.to_uint8(color.lab_to_rgb(lab))


def test_flicker_figures_tell_steady_color_from_flicker(two_shots):
    shot = two_shots[:10]
    steady = _flicker(shot)
    rng = np.random.default_rng(0)
    jittered = _flicker([_with_ab_offset(f, *rng.uniform(-6, 6, 2)) for f in shot])
    assert steady["frames"] == jittered["frames"] == 10 and steady["scene_cuts"] == 0
    assert steady["warp_error_ab"] < 1.0 and 3 * steady["warp_error_ab"] < jittered["warp_error_ab"]
    assert 3 * steady["cdc"] < jittered["cdc"]
    assert set(steady["cdc_by_gap"]) == {"1", "2", "4"}
    json.dumps(steady)  # written as JSON beside the output


def test_flicker_figures_leave_out_pairs_across_a_cut():
    red = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    red[:] = (200, 30, 30)
    green = np.zeros_like(red)
    green[:] = (30, 200, 30)
    frames = [red] * 5 + [green] * 5
    cut = _flicker(frames, cuts=(5,))
    assert cut["scene_cuts"] == 1 and cut["cdc"] == 0.0 and cut["warp_error_ab"] < 1e-3
    assert _flicker(frames)["cdc"] > 0.1  # the same frames taken for one shot: the change of color counts
