"""The video figure: colorization-video's whole pipeline (decode, network, stability, flicker measurement, encode,
sound copied) on a 640x480 H.264 clip with camera motion made from the embedded sample set, frame by frame
(stability 0) and with the default stability: frames/s, warp error of ab and CDC of each, and their ratios.

The clip makers here are also what the tests build their clips with."""
import os
import resource
import time
from fractions import Fraction

import cv2
import numpy as np

from ..video import VideoOptions, colorize_video, open_output, open_frames
from ..video.pyav import pyav
from ..video.stability import DEFAULT_STABILITY
from .common import round_sig
from .inference import load_colorizers, make_photo

CLIP_SIZE = (640, 480)
CLIP_FPS = 25
# CDC compares frames up to 4 apart: shorter clips have nothing to compare
MIN_FRAMES = 5
AUDIO_RATE = 16000


def camera_motion(canvas, size, frames, pan=3.0, bob=6.0, zoom=0.1):
    """Frames of `size` (width, height) seen by a camera that pans right across `canvas` (pan pixels a frame),
    bobs up and down (bob pixels) and slowly zooms in (by `zoom` over the clip), as a hand-held shot does."""
    w, h = size
    ch, cw = canvas.shape[:2]
    for i in range(frames):
        scale = 1.0 + zoom * i / max(1, frames - 1)
        x = min(pan * i, cw - w * scale) if cw > w * scale else 0.0
        y = (ch - h * scale) / 2 + bob * np.sin(i / 4.0)
        m = np.float32([[1 / scale, 0, -x / scale], [0, 1 / scale, -y / scale]])  # canvas -> frame
        yield cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def tone(seconds, rate=AUDIO_RATE):
    """A 440 Hz tone, float32 mono samples."""
    t = np.arange(int(round(seconds * rate)), dtype=np.float32) / rate
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def write_clip(path, frames, fps=CLIP_FPS, times=None, audio=True, video_codec="libx264", audio_codec="aac",
               options=None, rotation=0, sample_aspect_ratio=None, audio_seconds=None):
    """Encode RGB uint8 frames into `path` (container from its extension) at `fps`, or at `times` (seconds, one per
    frame: variable frame rate), with a tone as sound (audio_codec) unless audio is False, a display rotation
    (degrees) as a phone records one and a pixel shape (DV's 10:11...); the sound lasts as long as the picture, or
    audio_seconds. Returns the frame count."""
    av = pyav()
    container = av.open(path, "w", options=options or {})
    time_base = Fraction(1, 1000) if times is not None else Fraction(1, fps)
    video = container.add_stream(video_codec, rate=fps)
    video.time_base = video.codec_context.time_base = time_base
    if rotation:
        video.set_display_rotation(rotation)
    if sample_aspect_ratio:
        video.codec_context.sample_aspect_ratio = sample_aspect_ratio
    sound = container.add_stream(audio_codec, rate=AUDIO_RATE, layout="mono") if audio else None
    count = 0
    for i, rgb in enumerate(frames):
        if count == 0:
            video.width, video.height = rgb.shape[1], rgb.shape[0]
            video.pix_fmt = "yuvj420p" if video_codec == "mjpeg" else "yuv420p"
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        picture.pts = round(times[i] * 1000) if times is not None else i
        picture.time_base = time_base
        container.mux(video.encode(picture))
        count += 1
    container.mux(video.encode(None))
    if sound is not None:
        picture_seconds = (times[-1] + 1 / fps) if times is not None else count / fps
        _write_tone(av, container, sound, audio_seconds or picture_seconds)
    container.close()
    return count


def _write_tone(av, container, stream, seconds):
    fmt = stream.codec_context.codec.audio_formats[0].name
    samples = tone(seconds)
    if fmt.startswith("s16"):
        samples = (samples * 32767).astype(np.int16)
    elif fmt.startswith("u8"):
        samples = (samples * 127 + 128).astype(np.uint8)
    step = 1024
    for start in range(0, len(samples), step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None, start:start + step]), format=fmt,
                                           layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_clip(folder, frames):
    """The benchmark's clip: CLIP_SIZE, H.264 with AAC sound, a hand-held pan across a sample photo."""
    canvas = cv2.cvtColor(cv2.imread(make_photo(folder)), cv2.COLOR_BGR2RGB)
    path = os.path.join(folder, "camera_motion.mp4")
    write_clip(path, camera_motion(canvas, CLIP_SIZE, frames))
    return path


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(colorizer, clip, out, stability):
    """The run's report, the CPU time it took in all threads (decoder and encoder ones included) and in the main
    thread alone (the network's, on a 2-core CPU: the longest stage, which bounds frames/s on an idle machine)."""
    source = open_frames(clip)
    try:
        cpu, main = _cpu_seconds(), time.thread_time()
        report = colorize_video(colorizer, source, open_output(out, source.info, source),
                                VideoOptions(stability=stability))
        return report, _cpu_seconds() - cpu, time.thread_time() - main
    finally:
        source.close()


def bench_video(cfg, model_paths, iters, workdir, device="auto"):
    frames = max(iters, MIN_FRAMES)
    clip = make_clip(workdir, frames)
    label, colorizer = load_colorizers(cfg, model_paths[:1], device)[0]
    rows = []
    for stability in (0.0, DEFAULT_STABILITY):
        report, cpu, main = _run(colorizer, clip, os.path.join(workdir, f"colorized_{stability:g}.mp4"), stability)
        rows.append({"figure": "video", "model": label, "arch": colorizer.cfg.MODEL.ARCH,
                     "clip": f"{CLIP_SIZE[0]}x{CLIP_SIZE[1]} H.264 + AAC, {report.frames} frames, hand-held pan",
                     "stability": stability, "frames_per_s": round_sig(report.frames_per_s),
                     # CPU time of all threads: what the load of other jobs on the machine changes least
                     "cpu_ms_per_frame": round_sig(1e3 * cpu / report.frames),
                     "main_thread_cpu_ms_per_frame": round_sig(1e3 * main / report.frames),
                     "warp_error_ab": round_sig(report.flicker["warp_error_ab"]),
                     "cdc": round_sig(report.flicker["cdc"]), "device": str(colorizer.device),
                     "torch_threads": report.network_threads})
    base, stable = rows
    for key in ("warp_error_ab", "cdc"):
        stable[f"{key}_x_frame_by_frame"] = round_sig(stable[key] / base[key]) if base[key] else None
    return rows
