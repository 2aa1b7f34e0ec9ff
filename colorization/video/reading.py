"""Frames in: a video file PyAV opens (MP4, AVI, MKV, MOV, WebM...) or an image sequence (a folder or a glob of
frames, as film scans come), one frame at a time with its timestamp. Bad input is a UserError before any frame is
handed out; a video damaged part way ends its frames early and says where and why (`VideoSource.damage`)."""
import glob
import logging
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np

from ..data.image_io import ImageDecodeError, find_image_files, read_image_file
from ..errors import UserError
from .pyav import pyav

# Frame rate of an image sequence when the user names none (the sound-film standard).
DEFAULT_SEQUENCE_FPS = 24
# A stream that ends more than this before the length its container announces, without FFmpeg complaining, is
# noted (a sound track may outlast the picture by a little).
EARLY_END_TOLERANCE_S = 1.0


@dataclass
class Frame:
    """One picture: index from 0 in display order, HxWx3 uint8 RGB, timestamp in the source's time base."""
    index: int
    rgb: np.ndarray
    pts: int
    time: float


@dataclass
class Damage:
    """Where reading stopped before the end: the first frame index not read, its time, and FFmpeg's reason."""
    frame: int
    time: float
    reason: str


@dataclass
class VideoInfo:
    width: int
    height: int
    time_base: Fraction
    rate: Fraction  # average frames per second (the encoder's nominal rate; timestamps rule)
    frame_count: Optional[int]  # announced by the container, or None
    duration: Optional[float]  # announced, in seconds, or None
    rotation: int = 0  # display rotation in degrees (phone videos), kept in the output
    # pixel shape: not square in anamorphic video (DV's 720x480 shows as 4:3 or 16:9), kept in the output
    sample_aspect_ratio: Optional[Fraction] = None


def natural_key(path):
    """frame2.png before frame10.png: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


class _LastFFmpegError(logging.Handler):
    """Keeps FFmpeg's last error message (PyAV sends them to the `libav` logger) as the reason for damage,
    instead of letting each one reach the user's terminal."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.message = ""

    def emit(self, record):
        self.message = f"{record.name.removeprefix('libav.')}: {record.getMessage().strip()}"


def _quiet_ffmpeg():
    av = pyav()

    av.logging.set_level(av.logging.ERROR)
    logger = logging.getLogger("libav")
    logger.propagate = False
    handler = next((h for h in logger.handlers if isinstance(h, _LastFFmpegError)), None)
    if handler is None:
        handler = _LastFFmpegError()
        logger.addHandler(handler)
    handler.message = ""  # only this video's complaints
    return handler


class VideoFileSource:
    """A video file, decoded with PyAV (FFmpeg). Open it with open_frames()."""

    kind = "video"

    def __init__(self, path):
        av = pyav()

        self.path = path
        self.damage = None
        self.notes = []
        self._errors = _quiet_ffmpeg()
        try:
            self._container = av.open(path)
        except av.error.FFmpegError as e:
            raise UserError(f"--video {path} is not a video PyAV can open ({_short(e)})") from None
        streams = self._container.streams
        if not streams.video:
            kinds = sorted({s.type for s in streams})
            self._container.close()
            held = f"only {', '.join(kinds)}" if kinds else "no stream at all"
            raise UserError(f"--video {path} holds no video stream ({held})")
        self._stream = streams.video[0]
        self._stream.thread_type = "AUTO"  # frame and slice threads: decoding keeps up with the network
        self.audio_streams = list(streams.audio)
        self._duration = self._announced_duration()
        self._rotation = 0
        self._frames = self._decode()
        self.first = next(self._frames, None)
        if self.first is None:
            self.close()
            why = f": {self.damage.reason}" if self.damage else ""
            raise UserError(f"--video {path} holds no video frame that can be decoded{why}")
        self.info = self._info()

    def _info(self):
        s = self._stream
        rate = s.average_rate or s.guessed_rate or Fraction(DEFAULT_SEQUENCE_FPS)
        sar = s.sample_aspect_ratio or s.codec_context.sample_aspect_ratio
        return VideoInfo(self.first.rgb.shape[1], self.first.rgb.shape[0], s.time_base, Fraction(rate),
                         s.frames or None, self._duration, self._rotation, Fraction(sar) if sar else None)

    def _announced_duration(self):
        """Seconds, from the stream's header, else the container's (which may include a longer sound track)."""
        s = self._stream
        if s.duration is not None:
            return float(s.duration * s.time_base)
        if self._container.duration is not None:
            return self._container.duration / 1e6
        return None

    def _decode(self):
        av = pyav()

        s, index, last_pts = self._stream, 0, None
        step = max(1, round(1 / ((s.average_rate or s.guessed_rate or DEFAULT_SEQUENCE_FPS) * s.time_base)))
        try:
            for packet in self._container.demux(s):
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else (last_pts + step if last_pts is not None else 0)
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1  # an encoder needs strictly increasing timestamps
                    if index == 0:
                        self._rotation = int(round(frame.rotation or 0))
                    yield Frame(index, frame.to_ndarray(format="rgb24"), pts, float(pts * s.time_base))
                    index, last_pts = index + 1, pts
        except av.error.FFmpegError as e:
            time = float(last_pts * s.time_base) + float(step * s.time_base) if last_pts is not None else 0.0
            self.damage = Damage(index, time, self._errors.message or _short(e))
            return
        self._check_complete(index, last_pts, step)

    def _check_complete(self, count, last_pts, step):
        """A truncated or garbled file often just ends: compare with the length its container announced. Short by
        more than two frames with FFmpeg complaining on the way is damage; short without a complaint is only noted
        (an edit list that trims the start, a sound track that outlasts the picture)."""
        s = self._stream
        end = float((last_pts + step) * s.time_base) if last_pts is not None else 0.0
        if s.frames and count < s.frames - 2:
            announced = f"{s.frames} frames"
        elif self._duration is not None and self._duration + float((s.start_time or 0) * s.time_base) - end > max(
                float(2 * step * s.time_base), 0 if self._errors.message else EARLY_END_TOLERANCE_S):
            announced = f"{self._duration:.3f} s"
        else:
            return
        if self._errors.message:
            self.damage = Damage(count, end, f"{self._errors.message}; its header announces {announced}")
        else:
            self.notes.append(f"the video stream ends at frame {count} ({end:.3f} s); its header announces "
                              f"{announced}")

    def frames(self):
        """Every frame in display order, the first one included; stops early at damage (see .damage)."""
        yield self.first
        yield from self._frames

    def close(self):
        """Ends decoding and frees the decoder here, once its threads are idle. PyAV frees a codec context (joining
        its frame threads) holding the GIL whenever the object goes away; a frame thread that is then passing an
        FFmpeg error to Python's logging waits for the GIL forever. Flushing first waits for those threads with the
        GIL released."""
        self._frames.close()
        if self._stream is not None:
            self._stream.codec_context.flush_buffers()
        self._container.close()
        self._stream = None


class ImageSequenceSource:
    """Frames as image files (a folder, searched recursively, or a glob), in natural order, at a given rate."""

    kind = "images"
    audio_streams = ()

    def __init__(self, files, fps):
        self.path = os.path.dirname(files[0])
        self.files = files
        self.damage = None
        self.notes = []
        try:
            first = read_image_file(files[0])
        except (ImageDecodeError, OSError) as e:
            raise UserError(f"cannot read the first frame {files[0]}: {e}") from None
        rate = Fraction(fps).limit_denominator(1001)
        self.first = Frame(0, first, 0, 0.0)
        self.info = VideoInfo(first.shape[1], first.shape[0], 1 / rate, rate, len(files), len(files) / float(rate))

    def frames(self):
        yield self.first
        h, w = self.first.rgb.shape[:2]
        for index, path in enumerate(self.files[1:], start=1):
            time = float(index * self.info.time_base)
            try:
                rgb = read_image_file(path)
            except (ImageDecodeError, OSError) as e:
                self.damage = Damage(index, time, f"cannot read {path}: {e}")
                return
            if rgb.shape[:2] != (h, w):
                self.damage = Damage(index, time, f"{path} is {rgb.shape[1]}x{rgb.shape[0]}; the sequence's first "
                                                  f"frame is {w}x{h}")
                return
            yield Frame(index, rgb, index, time)

    def close(self):
        pass


def _short(error):
    return str(error).split(": '", 1)[0].split("] ", 1)[-1]


def _sequence_files(path):
    found = find_image_files(path)
    if not found:
        raise UserError(f"--video {path} is a folder with no image frames in it" if os.path.isdir(path)
                        else f"--video {path} matches no image frames")
    return sorted(found, key=natural_key)


def open_frames(path, fps=None):
    """A VideoFileSource or an ImageSequenceSource for what the user named; its first frame is already decoded,
    so a file that is not a video, holds no video stream or no frame is refused here (UserError)."""
    if os.path.isfile(path):
        if os.path.getsize(path) == 0:
            raise UserError(f"--video {path} is an empty file")
        if fps is not None:
            raise UserError("--fps applies to image sequences; a video file keeps its own timestamps")
        return VideoFileSource(path)
    if os.path.isdir(path) or glob.has_magic(path):
        return ImageSequenceSource(_sequence_files(path), fps or DEFAULT_SEQUENCE_FPS)
    raise UserError(f"--video {path}: no such file or folder")
