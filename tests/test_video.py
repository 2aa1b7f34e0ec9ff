"""colorization-video end to end, on short clips the tests make from the sample photos: frames, size, frame rate,
timestamps and sound of the output equal the input's; stability lowers the flicker; keyframe hints reach the
network and follow the shot; damaged, empty and wrong inputs; Ctrl-C and a killed run leave nothing half-written."""
import json
import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from colorization.benchmark.video import camera_motion, write_clip
from colorization.video.reading import natural_key
from conftest import REPO, run_tool, run_tools_in_one_process

TOOL = os.path.join(REPO, "tools", "colorize_video.py")
MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
SIZE = (160, 120)
SHOT = 14  # frames of the first shot; the second starts with a cut


def decode(path):
    """(frames as RGB arrays, their times in seconds, the video stream's average rate) of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(frame.time)
        return frames, times, stream.average_rate


def audio_packets(path):
    """[(codec name, sample rate, packet bytes...)] of each audio stream."""
    with av.open(str(path)) as container:
        streams = list(container.streams.audio)
        packets = {s.index: [] for s in streams}
        for packet in container.demux(*streams):
            if packet.dts is not None:
                packets[packet.stream.index].append(bytes(packet))
        return [(s.codec_context.name, s.rate, packets[s.index]) for s in streams]


def _canvas(path):
    return cv2.resize(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), (320, 200))


@pytest.fixture(scope="module")
def clips(tmp_path_factory, photo_dir):
    folder = tmp_path_factory.mktemp("clips")
    photos = sorted(photo_dir.iterdir())
    a, b = _canvas(photos[0]), _canvas(photos[1])

    def shots():
        yield from camera_motion(a, SIZE, SHOT, pan=3, bob=2, zoom=0.05)
        yield from camera_motion(b, SIZE, 8, pan=3, bob=0, zoom=0)

    write_clip(str(folder / "pan_cut.mp4"), shots(), rotation=90)  # shot on a phone held upright
    times = np.cumsum([0.0] + [0.04 if i % 3 else 0.1 for i in range(11)])  # variable frame rate
    write_clip(str(folder / "vfr.mkv"), camera_motion(a, SIZE, 12), times=list(times), audio_codec="pcm_s16le")
    write_clip(str(folder / "camera.avi"), camera_motion(b, SIZE, 10), fps=15, video_codec="mjpeg",
               audio_codec="pcm_u8", sample_aspect_ratio=Fraction(10, 11))  # an old camera: not square pixels
    write_clip(str(folder / "clip.webm"), camera_motion(b, SIZE, 8), video_codec="libvpx-vp9", audio_codec="libopus")
    write_clip(str(folder / "clip.mov"), camera_motion(b, SIZE, 8), video_codec="mpeg4", audio_codec="pcm_s16le")
    # the sound goes on for 3 s after the picture: no damage, and all of the sound is kept
    write_clip(str(folder / "long_sound.mkv"), camera_motion(a, SIZE, 10), audio_seconds=3.4)
    # a damaged file: a clip whose index comes first (as cameras and web videos write it), cut off part way
    write_clip(str(folder / "whole.mp4"), camera_motion(a, SIZE, 30), options={"movflags": "faststart"})
    data = (folder / "whole.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[:len(data) * 6 // 10])
    (folder / "frames").mkdir()
    for i, rgb in enumerate(camera_motion(a, SIZE, 12), start=1):  # frame2.png must come before frame10.png
        cv2.imwrite(str(folder / "frames" / f"frame{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "odd").mkdir()
    for i, rgb in enumerate(camera_motion(b, (65, 49), 5)):
        cv2.imwrite(str(folder / "odd" / f"{i:04d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture(scope="module")
def runs(clips, exported_basic, tmp_path_factory):
    """The successful and damaged runs of the command, in one Python process."""
    out = tmp_path_factory.mktemp("out")
    cases = {
        "pan": ["--video", clips / "pan_cut.mp4", "--output", out / "pan.mp4"],
        "pan_frame_by_frame": ["--video", clips / "pan_cut.mp4", "--output", out / "pan0.mp4", "--stability", "0"],
        "pan_torch_frames": ["--video", clips / "pan_cut.mp4", "--output", str(out / "pan_torch") + "/",
                             "--stability", "0"],
        "pan_onnxruntime": ["--video", clips / "pan_cut.mp4", "--output", str(out / "pan_ort") + "/",
                            "--stability", "0", "--model_to_load", exported_basic],  # run by onnxruntime
        "vfr": ["--video", clips / "vfr.mkv", "--output", out / "vfr.mp4", "--saturation", "1.5"],
        "avi_to_mp4": ["--video", clips / "camera.avi", "--output", out / "avi.mp4", "--crf", "30"],
        "avi_to_mkv": ["--video", clips / "camera.avi", "--output", out / "avi.mkv", "--preset", "ultrafast"],
        "frames": ["--video", clips / "frames", "--output", str(out / "frames.v1") + "/"],
        "odd_glob": ["--video", str(clips / "odd" / "*.jpg"), "--fps", "12", "--output", out / "odd.mp4"],
        "truncated": ["--video", clips / "truncated.mp4", "--output", out / "truncated.mp4"],
        "long_sound": ["--video", clips / "long_sound.mkv", "--output", out / "long_sound.mp4"],
        "webm": ["--video", clips / "clip.webm", "--output", out / "webm.mp4"],
        "mov": ["--video", clips / "clip.mov", "--output", out / "mov.mov"],
    }
    results = run_tools_in_one_process(
        {name: [TOOL, *([] if "--model_to_load" in argv else ["--model_to_load", MODEL]), *argv]
         for name, argv in cases.items()}, out)
    return out, results


def _ok(result):
    assert result["returncode"] == 0, result["stderr"][-3000:]
    return result


@pytest.mark.slow
def test_a_clip_keeps_its_frames_size_rate_timestamps_and_sound(clips, runs):
    out, results = runs
    result = _ok(results["pan"])
    frames_in, times_in, rate_in = decode(clips / "pan_cut.mp4")
    frames_out, times_out, rate_out = decode(out / "pan.mp4")
    assert len(frames_out) == len(frames_in) == SHOT + 8
    assert frames_out[0].shape == frames_in[0].shape == (SIZE[1], SIZE[0], 3)
    assert rate_out == rate_in == 25
    with av.open(str(out / "pan.mp4")) as container:
        assert next(container.decode(video=0)).rotation == 90  # the display rotation is kept
    np.testing.assert_allclose(times_out, times_in, atol=1e-3)
    assert audio_packets(out / "pan.mp4") == audio_packets(clips / "pan_cut.mp4")  # copied byte for byte
    assert audio_packets(clips / "pan_cut.mp4")[0][0] == "aac"
    # colorized: the gray-ish world of the input got color, and the lightness is the input's own
    lab_in, lab_out = (cv2.cvtColor(f, cv2.COLOR_RGB2Lab).astype(float) for f in (frames_in[5], frames_out[5]))
    assert np.abs(lab_out[:, :, 0] - lab_in[:, :, 0]).mean() < 4
    assert not np.array_equal(frames_out[5], frames_in[5])
    figures = json.loads((out / "pan.flicker.json").read_text())
    assert figures["frames"] == SHOT + 8 and figures["size"] == "160x120" and figures["scene_cuts"] == 1
    assert figures["frames_per_s"] > 0 and figures["warp_error_ab"] > 0 and figures["cdc"] > 0
    assert "frames/s" in result["stdout"] and "warp error ab" in result["stdout"] and "CDC" in result["stdout"]
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


@pytest.mark.slow
def test_stability_lowers_the_flicker_of_a_pan(runs):
    out, results = runs
    _ok(results["pan_frame_by_frame"])
    steady = json.loads((out / "pan.flicker.json").read_text())
    plain = json.loads((out / "pan0.flicker.json").read_text())
    assert plain["stability"] == 0 and steady["stability"] > 0
    assert steady["warp_error_ab"] < 0.75 * plain["warp_error_ab"]
    assert steady["cdc"] < plain["cdc"]


@pytest.mark.slow
def test_the_onnxruntime_backend_gives_the_same_film(runs):
    """The model exported to ONNX (run by onnxruntime) colorizes the same frames as the checkpoint in PyTorch (PNG
    frames, within a level of 8-bit rounding) and the flicker figures agree."""
    out, results = runs
    _ok(results["pan_torch_frames"])
    _ok(results["pan_onnxruntime"])
    names = sorted(os.listdir(out / "pan_torch"))
    assert len(names) == SHOT + 8 and sorted(os.listdir(out / "pan_ort")) == names
    for name in names:
        a, b = (cv2.imread(str(out / folder / name)).astype(int) for folder in ("pan_torch", "pan_ort"))
        assert np.abs(a - b).max() <= 1, name
    a, b = (json.loads((out / name).read_text()) for name in ("pan_torch.flicker.json", "pan_ort.flicker.json"))
    assert a["warp_error_ab"] == pytest.approx(b["warp_error_ab"], rel=0.01)


@pytest.mark.slow
def test_variable_frame_rate_and_pcm_sound_are_kept(clips, runs):
    out, results = runs
    _ok(results["vfr"])
    _, times_in, _ = decode(clips / "vfr.mkv")
    frames_out, times_out, _ = decode(out / "vfr.mp4")
    assert len(frames_out) == 12 and len(set(np.round(np.diff(times_in), 3))) == 2  # really variable
    np.testing.assert_allclose(times_out, times_in, atol=1e-3)
    assert audio_packets(out / "vfr.mp4") == audio_packets(clips / "vfr.mkv")
    assert audio_packets(out / "vfr.mp4")[0][:2] == ("pcm_s16le", 16000)


@pytest.mark.slow
def test_a_sound_track_longer_than_the_picture_is_no_damage(clips, runs):
    out, results = runs
    result = _ok(results["long_sound"])
    assert "note: the video stream ends at frame 10 (0.400 s); its header announces 3.4" in result["stderr"]
    assert len(decode(out / "long_sound.mp4")[0]) == 10
    assert audio_packets(out / "long_sound.mp4") == audio_packets(clips / "long_sound.mkv")


@pytest.mark.parametrize("name, source, codecs", [("webm", "clip.webm", ("vp9", "opus")),
                                                  ("mov", "clip.mov", ("mpeg4", "pcm_s16le"))])
@pytest.mark.slow
def test_webm_and_mov_in(clips, runs, name, source, codecs):
    out, results = runs
    _ok(results[name])
    with av.open(str(clips / source)) as container:
        assert tuple(s.codec_context.name for s in container.streams) == codecs
    output = out / f"{name}.{'mov' if name == 'mov' else 'mp4'}"
    frames, times, _ = decode(output)
    assert len(frames) == 8 and frames[0].shape == (SIZE[1], SIZE[0], 3)
    np.testing.assert_allclose(times, decode(clips / source)[1], atol=1e-3)
    assert audio_packets(output) == audio_packets(clips / source)


@pytest.mark.slow
def test_sound_mp4_cannot_hold_is_reencoded_and_mkv_keeps_it(clips, runs):
    out, results = runs
    to_mp4, to_mkv = _ok(results["avi_to_mp4"]), _ok(results["avi_to_mkv"])
    assert "re-encoded to AAC" in to_mp4["stderr"]
    (codec, rate, packets), = audio_packets(out / "avi.mp4")
    assert codec == "aac" and rate == 16000 and packets
    assert audio_packets(out / "avi.mkv") == audio_packets(clips / "camera.avi")
    assert audio_packets(out / "avi.mkv")[0][0] == "pcm_u8" and "re-encoded" not in to_mkv["stderr"]
    for name in ("avi.mp4", "avi.mkv"):
        frames, times, rate = decode(out / name)
        assert len(frames) == 10 and rate == 15 and frames[0].shape == (SIZE[1], SIZE[0], 3)
        with av.open(str(out / name)) as container:
            assert container.streams.video[0].sample_aspect_ratio == Fraction(10, 11)


@pytest.mark.slow
def test_image_sequences_in_natural_order_and_frames_out(clips, runs):
    out, results = runs
    _ok(results["frames"])
    names = sorted(os.listdir(out / "frames.v1"))
    assert names == [f"{i:06d}.png" for i in range(12)]
    inputs = sorted((clips / "frames").iterdir(), key=lambda p: natural_key(str(p)))
    assert [p.name for p in inputs[:3]] == ["frame1.png", "frame2.png", "frame3.png"]
    for src, dst in zip(inputs, names):  # each output frame is its input frame, colorized: same lightness
        l_in = cv2.cvtColor(cv2.imread(str(src)), cv2.COLOR_BGR2Lab)[:, :, 0].astype(float)
        l_out = cv2.cvtColor(cv2.imread(str(out / "frames.v1" / dst)), cv2.COLOR_BGR2Lab)[:, :, 0].astype(float)
        assert np.abs(l_in - l_out).mean() < 2
    assert (out / "frames.v1.flicker.json").is_file()

    result = _ok(results["odd_glob"])
    frames, times, rate = decode(out / "odd.mp4")
    assert "padded to 66x50" in result["stderr"]
    assert len(frames) == 5 and frames[0].shape == (50, 66, 3) and rate == 12
    np.testing.assert_allclose(times, np.arange(5) / 12, atol=1e-3)


@pytest.mark.slow
def test_a_damaged_video_keeps_the_frames_before_the_damage(clips, runs):
    out, results = runs
    result = results["truncated"]
    assert result["returncode"] == 1, result["stderr"][-3000:]
    readable = []  # the times of the frames FFmpeg can decode before the cut
    with av.open(str(clips / "truncated.mp4")) as container:
        try:
            for frame in container.decode(video=0):
                readable.append(frame.time)
        except av.error.FFmpegError:
            pass
    frames, times, _ = decode(out / "truncated.mp4")
    assert 0 < len(frames) == len(readable) < 30
    np.testing.assert_allclose(times, readable, atol=1e-3)
    readable, stop = len(readable), readable[-1] + 1 / 25
    assert f"stopped at frame {readable} (t = {stop:.3f} s)" in result["stderr"]
    assert f"holds the {readable} frames before it" in result["stderr"]
    figures = json.loads((out / "truncated.flicker.json").read_text())
    assert figures["stopped_at"]["frame"] == readable
    (codec, _, packets), = audio_packets(out / "truncated.mp4")  # the sound stops with the picture
    assert codec == "aac" and 0 < len(packets) * 1024 / 16000 < stop + 0.6


HINT_MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB_hints.pth")
BLUE = "#2050ff"
KEYFRAMES = {"keyframes": [{"frame": 0, "points": [{"x": 110, "y": 60, "color": BLUE}], "size": 5}]}


def _content_position(i, x0, y0, frames=SHOT, pan=3, bob=2, zoom=0.05):
    """Where the content under (x0, y0) of frame 0 is in frame i of the first shot (camera_motion's geometry)."""
    def camera(k):
        scale = 1.0 + zoom * k / (frames - 1)
        return scale, pan * k, (200 - SIZE[1] * scale) / 2 + bob * np.sin(k / 4.0)
    s0, cx0, cy0 = camera(0)
    s, cx, cy = camera(i)
    return (x0 * s0 + cx0 - cx) / s, (y0 * s0 + cy0 - cy) / s


def _mean_ab(rgb, x, y, r=5):
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return lab[int(y) - r:int(y) + r, int(x) - r:int(x) + r, 1:].reshape(-1, 2).mean(axis=0)


@pytest.mark.slow
def test_keyframe_hints_color_the_content_through_the_shot_and_stop_at_the_cut(clips, tmp_path):
    """With the shipped hint model: one click on frame 0 turns the clicked content towards its color on every frame
    of the shot, where the content has moved; after the cut the frames are those of a run without hints."""
    (tmp_path / "keyframes.json").write_text(json.dumps(KEYFRAMES))
    common = [TOOL, "--video", clips / "pan_cut.mp4", "--model_to_load", HINT_MODEL]
    results = run_tools_in_one_process({
        "hints": common + ["--hints", tmp_path / "keyframes.json", "--output", tmp_path / "hints"],
        "plain": common + ["--output", tmp_path / "plain"]}, tmp_path)
    _ok(results["hints"]), _ok(results["plain"])
    names = sorted(os.listdir(tmp_path / "hints"))
    assert names == sorted(os.listdir(tmp_path / "plain")) and len(names) == SHOT + 8
    hinted, plain = ([cv2.cvtColor(cv2.imread(str(tmp_path / run / n)), cv2.COLOR_BGR2RGB) for n in names]
                     for run in ("hints", "plain"))
    blue = cv2.cvtColor(np.array([[[0x20, 0x50, 0xff]]], np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0, 0, 1:]
    click = KEYFRAMES["keyframes"][0]["points"][0]
    for i in (0, SHOT // 2, SHOT - 1):
        x, y = _content_position(i, click["x"], click["y"])
        with_hint, without = _mean_ab(hinted[i], x, y), _mean_ab(plain[i], x, y)
        assert np.linalg.norm(with_hint - blue) < np.linalg.norm(without - blue) - 5, (i, with_hint, without)
    assert _content_position(SHOT - 1, click["x"], click["y"])[0] < click["x"] - 30  # it did move
    assert all(np.array_equal(a, b) for a, b in zip(hinted[SHOT:], plain[SHOT:]))  # no hints after the cut


def test_the_network_sees_each_hint_where_its_point_has_moved(clips):
    """Through the real parts (flow, tracker, the hint model's input): on every frame of the shot the hint mask the
    network gets sits on the tracked point, which has travelled with the pan away from where it was clicked."""
    from colorization.data import color
    from colorization.engine.colorizer import Colorizer
    from colorization.video.hints_track import HintTracker, keyframes_from_json
    from colorization.video.stability import MotionEstimator

    colorizer = Colorizer.from_checkpoint(HINT_MODEL, None, "cpu")
    net = colorizer.cfg.INPUT.SIZE
    frames, _, _ = decode(clips / "pan_cut.mp4")
    clicked = KEYFRAMES["keyframes"][0]["points"][0]
    tracker = HintTracker(keyframes_from_json(KEYFRAMES, *SIZE), *SIZE)
    motion = MotionEstimator(*SIZE)
    for i, rgb in enumerate(frames[:SHOT]):
        hints = tracker(i, motion(rgb))
        (x, y, _), = hints.points
        x_net, _ = colorizer.network_input(color.to_unit(rgb), hints)
        mask = x_net[0, 3].cpu().numpy()
        assert mask.sum() == 5 * 5  # one patch of the keyframe's size
        rows, cols = np.nonzero(mask)
        centre = ((cols.mean() + 0.5) * SIZE[0] / net - 0.5, (rows.mean() + 0.5) * SIZE[1] / net - 0.5)
        assert abs(centre[0] - x) <= SIZE[0] / net and abs(centre[1] - y) <= SIZE[1] / net
        truth = _content_position(i, clicked["x"], clicked["y"])
        assert np.hypot(x - truth[0], y - truth[1]) < 3  # the tracked point stays on the clicked content
    assert x < clicked["x"] - 30


@pytest.mark.slow
def test_the_benchmark_video_figure(tmp_path):
    result = run_tool("benchmark.py", "--config-file", os.path.join(REPO, "configs", "base_config_LAB.yaml"),
                      "--which", "video", "--iters", "6", "--model_to_load", MODEL, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    plain, steady = (json.loads(line) for line in result.stdout.splitlines() if line.strip())
    assert plain["figure"] == steady["figure"] == "video" and plain["clip"].startswith("640x480 H.264 + AAC, 6 frames")
    assert (plain["stability"], steady["stability"]) == (0.0, 0.85)
    for row in (plain, steady):
        assert row["frames_per_s"] > 0 and row["cpu_ms_per_frame"] > 0 and row["warp_error_ab"] > 0 and row["cdc"] > 0
    assert steady["warp_error_ab_x_frame_by_frame"] == pytest.approx(steady["warp_error_ab"] / plain["warp_error_ab"],
                                                                     rel=1e-2)
    assert steady["cdc_x_frame_by_frame"] == pytest.approx(steady["cdc"] / plain["cdc"], rel=1e-2)


def test_the_installed_command_is_the_tools_main():
    import importlib.metadata
    import runpy

    script, = [ep for ep in importlib.metadata.entry_points(group="console_scripts") if ep.name == "colorization-video"]
    assert script.value == "colorization.cli.video:main"
    assert runpy.run_path(TOOL)["main"] is script.load()
