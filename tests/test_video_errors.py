"""colorization-video on bad input and when stopped: one `error:` line and exit 2 before any work; Ctrl-C and
SIGTERM end with 130 and nothing under the output name; a killed run leaves no file under the final name, and the
next run clears what it left."""
import json
import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from colorization.benchmark.video import write_clip
from conftest import REPO, run_tools_in_one_process

TOOL = os.path.join(REPO, "tools", "colorize_video.py")
MODEL = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")


def _frames(count, size=(64, 48)):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return (np.roll(base, i, axis=1) for i in range(count))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_inputs")
    (folder / "text.mp4").write_text("this is not a video\n")
    (folder / "empty.mp4").write_bytes(b"")
    with av.open(str(folder / "sound.m4a"), "w") as container:  # sound, no picture
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    # a video stream and no frame: the header of a clip, cut before its first picture
    write_clip(str(folder / "whole.mp4"), _frames(10), options={"movflags": "faststart"})
    data = (folder / "whole.mp4").read_bytes()
    (folder / "no_frames.mp4").write_bytes(data[:data.index(b"mdat") + 4])
    (folder / "no_images").mkdir()
    (folder / "no_images" / "notes.txt").write_text("no frames here")
    (folder / "busy").mkdir()
    (folder / "busy" / "old.png").write_bytes(b"x")
    (folder / "keyframes.json").write_text(json.dumps({"keyframes": [{"frame": 0, "points": []}]}))
    (folder / "broken.json").write_text('{"keyframes": [')
    return folder


def test_bad_input_is_one_error_line_and_exit_2(inputs, tmp_path):
    clip, out = inputs / "whole.mp4", tmp_path / "out.mp4"
    cases = {
        "not a video": (["--video", inputs / "text.mp4"], "is not a video PyAV can open"),
        "empty file": (["--video", inputs / "empty.mp4"], "is an empty file"),
        "no video stream": (["--video", inputs / "sound.m4a"], "holds no video stream (only audio)"),
        "zero frames": (["--video", inputs / "no_frames.mp4"], "holds no video frame that can be decoded"),
        "missing": (["--video", inputs / "nothing.mp4"], "no such file or folder"),
        "folder without frames": (["--video", inputs / "no_images"], "is a folder with no image frames in it"),
        "glob without frames": (["--video", str(inputs / "*.png")], "matches no image frames"),
        "fps of a file": (["--video", clip, "--fps", "12"], "--fps applies to image sequences"),
        "stability": (["--video", clip, "--stability", "1.5"], "--stability 1.5 is outside 0.0 .. 1.0"),
        "saturation": (["--video", clip, "--saturation", "9"], "--saturation 9.0 is outside"),
        "crf": (["--video", clip, "--crf", "60"], "--crf 60 is outside 0 .. 51"),
        "batch": (["--video", clip, "--batch", "0"], "--batch must be at least 1"),
        "preset": (["--video", clip, "--preset", "fastest"], "argument --preset: invalid choice"),
        "output format": (["--video", clip, "--output", tmp_path / "out.avi"], "cannot write .avi"),
        "busy folder": (["--video", clip, "--output", inputs / "busy"], "already holds files"),
        "output is input": (["--video", clip, "--output", clip], "is the input video"),
        "hints, plain model": (["--video", clip, "--hints", inputs / "keyframes.json"], "takes no hints"),
        "broken keyframes": (["--video", clip, "--hints", inputs / "broken.json"], "is not valid JSON"),
        "temperature, regression": (["--video", clip, "--temperature", "0.5"], "--temperature applies to"),
        "misspelt flag": (["--video", clip, "--stabilty", "0.5"], "did you mean --stability?"),
    }
    results = run_tools_in_one_process(
        {name: [TOOL, "--model_to_load", MODEL, "--output", out, *argv] for name, (argv, _) in cases.items()},
        tmp_path)
    for name, (_, message) in cases.items():
        r = results[name]
        lines = r["stderr"].strip().splitlines()
        assert r["returncode"] == 2, (name, r["stderr"][-2000:])
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (name, lines)
    assert not out.exists() and os.listdir(inputs / "busy") == ["old.png"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Long enough (1500 frames) that a run is still going when the test stops it."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_clip(str(path), _frames(1500))
    return path


def _default_sigint():
    # As in a terminal: a shell running the test suite in the background leaves SIGINT ignored in its children, and
    # Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(video, output):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, TOOL, "--video", str(video), "--model_to_load", MODEL, "--output",
                             str(output)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)


def _temp_files(folder):
    return [p for p in os.listdir(folder) if p.endswith(".tmp")]


def _wait_for_temp_file(proc, folder):
    """Until the run has started writing (its temporary output exists), and a little more."""
    deadline = time.monotonic() + 120
    while not _temp_files(folder):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.1)
    time.sleep(1.0)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.multiprocess
def test_ctrl_c_and_sigterm_stop_cleanly(long_clip, tmp_path, signum):
    output = tmp_path / "long_colorized.mp4"
    proc = _start(long_clip, output)
    _wait_for_temp_file(proc, tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted after" in err and "nothing written" in err and "Traceback" not in err
    assert not output.exists() and _temp_files(tmp_path) == []
    assert not (tmp_path / "long_colorized.flicker.json").exists()


@pytest.mark.multiprocess
def test_a_killed_run_leaves_nothing_under_the_final_name(long_clip, inputs, tmp_path):
    output = tmp_path / "clip.mp4"
    proc = _start(long_clip, output)
    _wait_for_temp_file(proc, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert not output.exists() and len(_temp_files(tmp_path)) == 1  # what SIGKILL leaves: the temporary file
    rerun = _start(inputs / "whole.mp4", output)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-2000:]
    with av.open(str(output)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10
    assert _temp_files(tmp_path) == []  # the next run to the same name cleared it
