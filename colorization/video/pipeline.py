"""A video through the colorizer: a reader thread decodes frames and measures their motion, the main thread runs the
network on batches of frames and carries color along the motion, a writer thread measures the flicker of the output
and encodes it. Pipes between them are bounded: memory does not grow with the length of the video."""
import contextlib
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Optional

import torch

from ..data import color
from .flicker import FlickerMeter
from .hints_track import HintTracker
from .reading import Damage
from .stability import DEFAULT_STABILITY, MotionEstimator, Stabilizer
from .threads import Aborted, Pipe, Worker, feed

DEFAULT_BATCH = 8
# Bytes of float32 working copies one batch may hold (RGB in [0, 1] and LAB of each frame, about 24 bytes a pixel):
# 4K frames go through in smaller batches instead of taking gigabytes.
BATCH_MEMORY_BYTES = 768 << 20


@dataclass
class VideoOptions:
    stability: float = DEFAULT_STABILITY
    batch: int = DEFAULT_BATCH
    saturation: float = 1.0
    brightness: float = 1.0
    keyframes: Optional[dict] = None  # frame number -> UserHints (see hints_track)


@dataclass
class VideoReport:
    """What a run did: frames written, its speed, the flicker figures of its output, where it stopped early."""
    frames: int
    width: int
    height: int
    seconds: float
    frames_per_s: float
    flicker: dict
    stability: float
    damage: Optional[Damage] = None
    notes: list = field(default_factory=list)
    network_threads: Optional[int] = None  # torch's CPU threads during the run

    def as_dict(self):
        out = {"frames": self.frames, "size": f"{self.width}x{self.height}", "seconds": round(self.seconds, 3),
               "frames_per_s": round(self.frames_per_s, 2), "stability": self.stability, **self.flicker,
               "network_threads": self.network_threads}
        if self.damage is not None:
            out["stopped_at"] = {"frame": self.damage.frame, "time_s": round(self.damage.time, 3),
                                 "reason": self.damage.reason}
        return out


@contextlib.contextmanager
def network_threads(device):
    """On a CPU the network's threads leave one core to the reader and writer threads (decoding, flow, flicker
    measurement, encoding), which run beside it all the time: torch's spinning workers would otherwise fight them
    for it."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, min(before, cores - 1)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def batch_size(requested, width, height):
    return max(1, min(requested, BATCH_MEMORY_BYTES // (24 * width * height)))


def _batches(items, size):
    items = iter(items)
    while True:
        batch = list(itertools.islice(items, size))
        if not batch:
            return
        yield batch


class _Run:
    """The three threads of one video and what flows between them."""

    def __init__(self, colorizer, source, output, options, progress):
        info = source.info
        self.colorizer, self.source, self.output, self.options = colorizer, source, output, options
        self.progress = progress or (lambda n: None)
        self.batch = batch_size(options.batch, info.width, info.height)
        self.motion = MotionEstimator(info.width, info.height)
        self.stabilizer = Stabilizer(options.stability)
        self.tracker = HintTracker(options.keyframes, info.width, info.height) if options.keyframes else None
        self.meter = FlickerMeter(info.width, info.height)
        self.frames_in = Pipe(2 * self.batch)
        self.frames_out = Pipe(2 * self.batch)
        self.reader = Worker("video-reader", lambda: feed(self._read(), self.frames_in), [self.frames_in])
        self.writer = Worker("video-writer", lambda: output.write_all(self._measured()), [self.frames_out])

    def _read(self):
        for frame in self.source.frames():
            yield frame, self.motion(frame.rgb)

    def _measured(self):
        for frame, rgb, cut in self.frames_out:
            self.meter.add(rgb, cut)
            yield frame, rgb

    def colorize(self, batch):
        hints = [self.tracker(frame.index, motion) for frame, motion in batch] if self.tracker else None
        labs = self.colorizer.predict_lab([color.to_unit(frame.rgb) for frame, _ in batch], hints)
        for (frame, motion), lab in zip(batch, labs):
            self.stabilizer(lab, motion)
            rgb = self.colorizer.to_rgb(lab, self.options.saturation, self.options.brightness)
            self.frames_out.put((frame, rgb, motion.cut))
        self.progress(len(batch))

    def run(self):
        self.reader.start()
        self.writer.start()
        try:
            for batch in _batches(self.frames_in, self.batch):
                self.colorize(batch)
            self.reader.join()
            damage = self.source.damage
            self.output.audio_end = damage.time if damage is not None else None
            self.frames_out.close()
            self.writer.join()
        except BaseException as e:
            self.frames_in.abort()
            self.frames_out.abort()
            self.reader.join()
            self.writer.join()
            if isinstance(e, Aborted):  # a thread failed and stopped the pipes: its error is the one to tell
                self.reader.raise_error()
                self.writer.raise_error()
            raise
        self.reader.raise_error()
        self.writer.raise_error()


def colorize_video(colorizer, source, output, options=None, progress=None):
    """Colorize every frame of `source` (reading.open_frames) into `output` (writing.open_output) with an engine
    Colorizer; progress(n) is called as frames are done. Returns a VideoReport."""
    options = options or VideoOptions()
    start = time.perf_counter()
    run = _Run(colorizer, source, output, options, progress)
    with network_threads(colorizer.device):
        threads = torch.get_num_threads()
        run.run()
    seconds = time.perf_counter() - start
    frames = run.meter.frames
    notes = list(source.notes) + list(output.notes)
    if run.tracker is not None and run.tracker.unreached():
        notes.append(f"keyframes past the last frame ({run.tracker.last_frame}) were not used: "
                     f"{', '.join(map(str, run.tracker.unreached()))}")
    return VideoReport(frames, source.info.width, source.info.height, seconds, frames / max(seconds, 1e-9),
                       run.meter.summary(), options.stability, source.damage, notes, threads)
